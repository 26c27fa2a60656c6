package config_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/config"
)

// writePEM writes one PEM block to a file in a temporary folder.
func writePEM(t *testing.T, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestLoadDKIM(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		keyFile    string
		domain     string
		wantDomain string
	}{
		{"RSA PKCS #1", writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), "", "example.com"},
		{"RSA PKCS #8", writePEM(t, "PRIVATE KEY", pkcs8(t, rsaKey)), "", "example.com"},
		{"Ed25519 PKCS #8, own domain", writePEM(t, "PRIVATE KEY", pkcs8(t, edKey)), "mail.example.net", "mail.example.net"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(map[string]string{
				"LEADBOX_MAIL_FROM":     "Leads <leads@example.com>",
				"LEADBOX_DKIM_KEY_FILE": tt.keyFile,
				"LEADBOX_DKIM_SELECTOR": "mail2026",
				"LEADBOX_DKIM_DOMAIN":   tt.domain,
			}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !c.SignsDKIM() || c.DKIMKey.Signer() == nil {
				t.Fatalf("SignsDKIM = %v, key %v; want a parsed key", c.SignsDKIM(), c.DKIMKey.Signer())
			}
			if c.DKIMKeyFile != tt.keyFile || c.DKIMSelector != "mail2026" || c.DKIMDomain != tt.wantDomain {
				t.Errorf("DKIM settings = %q, %q, %q; want %q, mail2026, %q",
					c.DKIMKeyFile, c.DKIMSelector, c.DKIMDomain, tt.keyFile, tt.wantDomain)
			}
		})
	}
}

func TestLoadDKIMOff(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.SignsDKIM() || c.DKIMKey.Signer() != nil || c.DKIMKeyFile != "" || c.DKIMSelector != "" || c.DKIMDomain != "" {
		t.Errorf("with no DKIM settings: SignsDKIM = %v, settings %q %q %q; want off and empty",
			c.SignsDKIM(), c.DKIMKeyFile, c.DKIMSelector, c.DKIMDomain)
	}
}

func TestLoadDKIMErrors(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := writePEM(t, "PRIVATE KEY", pkcs8(t, edKey))
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		want    string
	}{
		{"selector missing", map[string]string{"LEADBOX_DKIM_KEY_FILE": good},
			"LEADBOX_DKIM_SELECTOR", "is required when LEADBOX_DKIM_KEY_FILE is set"},
		{"selector without key", map[string]string{"LEADBOX_DKIM_SELECTOR": "s1"},
			"LEADBOX_DKIM_SELECTOR", "LEADBOX_DKIM_KEY_FILE is empty"},
		{"domain without key", map[string]string{"LEADBOX_DKIM_DOMAIN": "example.com"},
			"LEADBOX_DKIM_DOMAIN", "LEADBOX_DKIM_KEY_FILE is empty"},
		{"selector that would inject a tag", map[string]string{"LEADBOX_DKIM_KEY_FILE": good, "LEADBOX_DKIM_SELECTOR": "s1; d=evil.example"},
			"LEADBOX_DKIM_SELECTOR", "must be a DNS label"},
		{"bad domain", map[string]string{"LEADBOX_DKIM_KEY_FILE": good, "LEADBOX_DKIM_SELECTOR": "s1", "LEADBOX_DKIM_DOMAIN": "exa mple.com"},
			"LEADBOX_DKIM_DOMAIN", "must be a domain name"},
		{"missing file", map[string]string{"LEADBOX_DKIM_KEY_FILE": filepath.Join(t.TempDir(), "nope.pem"), "LEADBOX_DKIM_SELECTOR": "s1"},
			"LEADBOX_DKIM_KEY_FILE", "cannot be read"},
		{"not PEM", map[string]string{"LEADBOX_DKIM_KEY_FILE": garbage, "LEADBOX_DKIM_SELECTOR": "s1"},
			"LEADBOX_DKIM_KEY_FILE", "must hold an RSA or Ed25519 private key"},
		{"ECDSA key", map[string]string{"LEADBOX_DKIM_KEY_FILE": writePEM(t, "PRIVATE KEY", pkcs8(t, ecKey)), "LEADBOX_DKIM_SELECTOR": "s1"},
			"LEADBOX_DKIM_KEY_FILE", "must hold an RSA or Ed25519 private key"},
		{"public key", map[string]string{"LEADBOX_DKIM_KEY_FILE": writePEM(t, "PUBLIC KEY", []byte("x")), "LEADBOX_DKIM_SELECTOR": "s1"},
			"LEADBOX_DKIM_KEY_FILE", `unsupported PEM block type "PUBLIC KEY"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load = nil error, want one naming %s", tt.wantVar)
			}
			if !strings.Contains(err.Error(), tt.wantVar+" ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %q, want it to name %s and say %q", err, tt.wantVar, tt.want)
			}
		})
	}
}

// TestLoadDKIMSmallRSAKey: Go refuses to sign with RSA keys under 1024 bits,
// so such a key must stop start-up rather than every email.
func TestLoadDKIMSmallRSAKey(t *testing.T) {
	t.Setenv("GODEBUG", "rsa1024min=0") // only to make the bad key for the test
	small, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Load(env(map[string]string{
		"LEADBOX_DKIM_KEY_FILE": writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)),
		"LEADBOX_DKIM_SELECTOR": "s1",
	}))
	if err == nil || !strings.Contains(err.Error(), "LEADBOX_DKIM_KEY_FILE") || !strings.Contains(err.Error(), "512-bit") {
		t.Errorf("Load with a 512-bit key = %v, want an error naming LEADBOX_DKIM_KEY_FILE and the key size", err)
	}
}

// TestDKIMKeyNeverPrinted: the key path is shown, the key never is, however
// the configuration is printed, logged or encoded.
func TestDKIMKeyNeverPrinted(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := pkcs8(t, edKey)
	path := writePEM(t, "PRIVATE KEY", der)
	c, err := config.Load(env(map[string]string{"LEADBOX_DKIM_KEY_FILE": path, "LEADBOX_DKIM_SELECTOR": "s1"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s := c.String(); !strings.Contains(s, "LEADBOX_DKIM_KEY_FILE="+path+"\n") ||
		!strings.Contains(s, "LEADBOX_DKIM_SELECTOR=s1\n") || !strings.Contains(s, "LEADBOX_DKIM_DOMAIN=localhost\n") {
		t.Errorf("String() lacks the DKIM settings:\n%s", s)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "key", c.DKIMKey, "cfg", c)
	encoded, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pemBody := strings.Split(pemText, "\n")[1] // the first line of base64
	for _, out := range []string{
		c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
		fmt.Sprintf("%v %+v %#v %s", c.DKIMKey, c.DKIMKey, c.DKIMKey, c.DKIMKey),
		logged.String(), string(encoded),
	} {
		for _, leak := range []string{pemBody, fmt.Sprint([]byte(edKey)), fmt.Sprintf("%x", []byte(edKey)), fmt.Sprintf("%#v", edKey)} {
			if strings.Contains(out, leak) {
				t.Fatalf("printed configuration contains the key:\n%s", out)
			}
		}
	}
}
