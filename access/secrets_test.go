package access

import (
	"regexp"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/leadbox/leadbox/models"
)

// isLowerHex64 reports whether s looks like a SHA-256 in lowercase hex.
func isLowerHex64(s string) bool { return regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(s) }

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := NewToken()
		body, ok := strings.CutPrefix(tok, TokenPrefix)
		// 256 bits in base32 are 52 characters.
		if !ok || !regexp.MustCompile(`^[a-z2-7]{52}$`).MatchString(body) {
			t.Fatalf("NewToken() = %q, want %s and 52 base32 characters (256 bits)", tok, TokenPrefix)
		}
		if seen[tok] {
			t.Fatalf("NewToken returned %q twice", tok)
		}
		seen[tok] = true
		if h := HashSecret(tok); !isLowerHex64(h) || strings.Contains(h, body) {
			t.Fatalf("HashSecret(%q) = %q, want lowercase hex SHA-256", tok, h)
		}
	}
	// The SHA-256 of "abc" (FIPS 180-2, appendix B.1).
	if got := HashSecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashSecret(abc) = %s, want SHA-256", got)
	}
}

func TestNewSession(t *testing.T) {
	cookie, id := NewSession()
	other, _ := NewSession()
	if len(cookie) != 52 || cookie == other {
		t.Errorf("session cookies %q and %q, want two different 256-bit values", cookie, other)
	}
	if id != HashSecret(cookie) || id == cookie {
		t.Errorf("session id %q, want the hash of the cookie, not the cookie", id)
	}
}

func TestEqual(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"lbx_abc", "lbx_abc", true},
		{"lbx_abc", "lbx_abd", false},
		{"lbx_abc", "lbx_ab", false},
		{"", "", true},
		{"", "x", false},
	} {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestEnvToken(t *testing.T) {
	if _, ok := EnvToken(""); ok {
		t.Error("an empty LEADBOX_ADMIN_TOKEN makes a token")
	}
	secret := strings.Repeat("s", 40)
	tok, ok := EnvToken(secret)
	if !ok || tok.Name != models.EnvTokenName || tok.Role != models.RoleAdmin || tok.Hash != HashSecret(secret) {
		t.Errorf("EnvToken = %+v, %v; want the admin token named env, hashed", tok, ok)
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tt := range []struct {
		password string
		ok       bool
	}{
		{"", false},
		{"elevenchars", false},
		{"twelve chars", true},
		{strings.Repeat("é", 11), false}, // 22 bytes, but 11 characters
		{strings.Repeat("é", 12), true},
		{strings.Repeat("x", MaxPasswordBytes), true},
		{strings.Repeat("x", MaxPasswordBytes+1), false},
		{"twelve chars\xff", false},
	} {
		err := ValidatePassword(tt.password)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePassword(%d bytes) = %v, want ok %v", len(tt.password), err, tt.ok)
		}
	}
	if _, err := HashPassword("elevenchars"); err != ErrPasswordTooShort {
		t.Errorf("HashPassword of a short password: %v, want ErrPasswordTooShort", err)
	}
}

func TestPasswords(t *testing.T) {
	const pw = "correct horse battery"
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=2,p=1$") || strings.Contains(h, pw) {
		t.Errorf("hash %q, want argon2id with passwordParams, without the password", h)
	}
	if h2, _ := HashPassword(pw); h2 == h {
		t.Error("two hashes of one password are equal: no random salt")
	}
	for _, tt := range []struct {
		name, hash, password string
		want                 bool
	}{
		{"right password", h, pw, true},
		{"wrong password", h, pw + "!", false},
		{"empty password", h, "", false},
		{"unknown user", "", pw, false},
		{"not a hash", "plaintext", "plaintext", false},
		{"a hash asking for 4 TiB", "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", pw, false},
	} {
		if got := CheckPassword(tt.hash, tt.password); got != tt.want {
			t.Errorf("%s: CheckPassword = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestUnknownUserHash: an unknown user is refused after the same work as
// a wrong password, which needs the stand-in hash to have the parameters
// of real ones.
func TestUnknownUserHash(t *testing.T) {
	got, _, _, err := argon2id.DecodeHash(unknownUserHash)
	if err != nil {
		t.Fatal(err)
	}
	want := passwordParams()
	if got.Memory != want.Memory || got.Iterations != want.Iterations || got.Parallelism != want.Parallelism ||
		got.SaltLength != want.SaltLength || got.KeyLength != want.KeyLength {
		t.Errorf("unknownUserHash has %+v, passwordParams are %+v: make a new one with HashPassword", got, want)
	}
}

func TestClientKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":                "ip:192.0.2.7",
		"::ffff:192.0.2.7":         "ip:192.0.2.7",
		"2001:db8:1:2:3:4:5:6":     "ip:2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":     "ip:2001:db8:1:2::/64",
		"fe80::1%eth0":             "ip:fe80::/64",
		"64:ff9b::c000:207":        "ip:192.0.2.7",
		"not an address":           "ip:not an address",
		"2001:db8:1:3:3:4:5:6":     "ip:2001:db8:1:3::/64",
		"2001:0db8:0001:0002::abc": "ip:2001:db8:1:2::/64",
	} {
		if got := ClientKey(ip); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", ip, got, want)
		}
	}
}

func TestAccountKey(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k := AccountKey(secret, "Ann@Example.com")
	if !strings.HasPrefix(k, "account:") || !isLowerHex64(strings.TrimPrefix(k, "account:")) || strings.Contains(k, "ann") {
		t.Errorf("AccountKey = %q, want account: and a hex HMAC, without the address", k)
	}
	if AccountKey(secret, " ann@example.COM ") != k {
		t.Error("two spellings of one address have different keys")
	}
	if AccountKey(secret, "bob@example.com") == k || AccountKey([]byte("another secret"), "ann@example.com") == k {
		t.Error("another address, or another installation's secret, gives the same key")
	}
}
