package config_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/config"
)

// env returns a getenv backed by a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load with an empty environment: %v", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"Listen", c.Listen, ":8080"},
		{"BaseURL", c.BaseURL.String(), "http://localhost:8080"},
		{"Database", c.Database, "leadbox.db"},
		{"SMTPHost", c.SMTPHost, ""},
		{"UsesSMTP", c.UsesSMTP(), false},
		{"SMTPPort", c.SMTPPort, 587},
		{"SMTPUsername", c.SMTPUsername, ""},
		{"SMTPPassword", c.SMTPPassword.Reveal(), ""},
		{"SMTPTLS", c.SMTPTLS, config.TLSStartTLS},
		{"MailDir", c.MailDir, "mail"},
		{"MailFrom", c.MailFrom.Address, "leadbox@localhost"},
		// .eml files need a To too; nobody reads this placeholder.
		{"SalesTo", joinAddrs(c), "sales@localhost"},
		{"AdminToken", c.AdminToken.Reveal(), ""},
		{"DoubleOptIn", c.DoubleOptIn, true},
		{"RateLimit", c.RateLimit, 10},
		{"TrustedProxies", len(c.TrustedProxies), 0},
		{"AllowedOrigins", len(c.AllowedOrigins), 0},
		{"PrivacyURL", c.PrivacyURL, ""},
		{"Company", c.Company, "Our company"},
		{"ConsentText", c.ConsentText, config.DefaultConsentText},
		{"Timezone", c.Timezone.String(), "UTC"},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	for name, d := range map[string]time.Duration{
		"SMTPTimeout": c.SMTPTimeout, "OutboxPoll": c.OutboxPoll, "RetryBase": c.RetryBase,
		"RetryMax": c.RetryMax, "GiveUpAfter": c.GiveUpAfter, "ConfirmTokenTTL": c.ConfirmTokenTTL,
	} {
		if d <= 0 {
			t.Errorf("%s = %v, want a positive default", name, d)
		}
	}
	if !strings.Contains(c.ConsentText, "withdraw") {
		t.Errorf("default consent text %q does not say consent can be withdrawn", c.ConsentText)
	}
}

func TestLoadValues(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"LEADBOX_LISTEN":           "127.0.0.1:9000",
		"LEADBOX_BASE_URL":         "https://leads.example.com/",
		"LEADBOX_SMTP_HOST":        "smtp.example.com",
		"LEADBOX_SMTP_PORT":        "465",
		"LEADBOX_SMTP_TLS":         "TLS",
		"LEADBOX_SMTP_CONNECTIONS": "8",
		"LEADBOX_SMTP_USERNAME":    "user",
		"LEADBOX_SMTP_PASSWORD":    "pw",
		"LEADBOX_SALES_TO":         "Sales & Marketing <sales@example.com>, boss@example.com",
		"LEADBOX_MAIL_FROM":        "Leads <leads@example.com>",
		"LEADBOX_DOUBLE_OPT_IN":    "off",
		"LEADBOX_RATE_LIMIT":       "0",
		"LEADBOX_TRUSTED_PROXIES":  "10.0.0.0/8, 192.0.2.1",
		"LEADBOX_ALLOWED_ORIGINS":  "https://WWW.Example.com, http://localhost:3000/",
		"LEADBOX_PRIVACY_URL":      "https://www.example.com/privacy",
		"LEADBOX_COMPANY":          "  Acme  ",
		"LEADBOX_TIMEZONE":         "Europe/Warsaw",
		"LEADBOX_LOG_LEVEL":        "debug",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"Listen", c.Listen, "127.0.0.1:9000"},
		{"BaseURL", c.BaseURL.String(), "https://leads.example.com"},
		{"SMTPPort", c.SMTPPort, 465},
		{"SMTPTLS", c.SMTPTLS, config.TLSImplicit},
		{"SMTPConnections", c.SMTPConnections, 8},
		{"UsesSMTP", c.UsesSMTP(), true},
		{"SalesTo", joinAddrs(c), "sales@example.com,boss@example.com"},
		{"SalesTo name", c.SalesTo[0].Name, "Sales & Marketing"},
		{"MailFrom", c.MailFrom.Address, "leads@example.com"},
		{"DoubleOptIn", c.DoubleOptIn, false},
		{"RateLimit", c.RateLimit, 0},
		{"TrustedProxies", strings.Join(c.TrustedProxies, ","), "10.0.0.0/8,192.0.2.1"},
		{"AllowedOrigins", strings.Join(c.AllowedOrigins, ","), "https://www.example.com,http://localhost:3000"},
		{"Company", c.Company, "Acme"},
		{"Timezone", c.Timezone.String(), "Europe/Warsaw"},
		{"LogLevel", c.LogLevel, slog.LevelDebug},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

// TestZeroTurnsOff: the settings whose zero means "off" take it however
// it is written; a negative duration is still refused.
func TestZeroTurnsOff(t *testing.T) {
	for name, get := range map[string]func(config.Config) time.Duration{
		"LEADBOX_MIN_FILL_TIME":    func(c config.Config) time.Duration { return c.MinFillTime },
		"LEADBOX_DUPLICATE_WINDOW": func(c config.Config) time.Duration { return c.DuplicateWindow },
	} {
		for _, v := range []string{"0", "0s", "0m"} {
			c, err := config.Load(env(map[string]string{name: v}))
			if err != nil {
				t.Errorf("%s=%s: %v", name, v, err)
			} else if got := get(c); got != 0 {
				t.Errorf("%s=%s gives %v, want 0 (off)", name, v, got)
			}
		}
		if _, err := config.Load(env(map[string]string{name: "-1s"})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=-1s: error %v, want one naming the variable", name, err)
		}
	}
}

func joinAddrs(c config.Config) string {
	var s []string
	for _, a := range c.SalesTo {
		s = append(s, a.Address)
	}
	return strings.Join(s, ",")
}

// TestLoadErrors: each bad variable is named, and all of them come back
// from one Load.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // variables the error must name
	}{
		{"SMTP without sales recipients", map[string]string{"LEADBOX_SMTP_HOST": "smtp.example.com"},
			[]string{"LEADBOX_SALES_TO"}},
		{"SMTP with blank sales recipients", map[string]string{"LEADBOX_SMTP_HOST": "smtp.example.com", "LEADBOX_SALES_TO": "  "},
			[]string{"LEADBOX_SALES_TO"}},
		{"bad port", map[string]string{"LEADBOX_SMTP_PORT": "70000"}, []string{"LEADBOX_SMTP_PORT"}},
		{"port not a number", map[string]string{"LEADBOX_SMTP_PORT": "smtp"}, []string{"LEADBOX_SMTP_PORT"}},
		{"bad TLS mode", map[string]string{"LEADBOX_SMTP_TLS": "ssl"}, []string{"LEADBOX_SMTP_TLS"}},
		{"password without user", map[string]string{"LEADBOX_SMTP_PASSWORD": "pw"}, []string{"LEADBOX_SMTP_PASSWORD"}},
		{"base URL without scheme", map[string]string{"LEADBOX_BASE_URL": "leads.example.com"}, []string{"LEADBOX_BASE_URL"}},
		{"base URL with query", map[string]string{"LEADBOX_BASE_URL": "https://leads.example.com/?a=1"}, []string{"LEADBOX_BASE_URL"}},
		{"bad from", map[string]string{"LEADBOX_MAIL_FROM": "not an address"}, []string{"LEADBOX_MAIL_FROM"}},
		{"bad sales list", map[string]string{"LEADBOX_SALES_TO": "a@example.com, nope"}, []string{"LEADBOX_SALES_TO"}},
		{"bad boolean", map[string]string{"LEADBOX_DOUBLE_OPT_IN": "perhaps"}, []string{"LEADBOX_DOUBLE_OPT_IN"}},
		{"negative rate limit", map[string]string{"LEADBOX_RATE_LIMIT": "-1"}, []string{"LEADBOX_RATE_LIMIT"}},
		{"no SMTP connections", map[string]string{"LEADBOX_SMTP_CONNECTIONS": "0"}, []string{"LEADBOX_SMTP_CONNECTIONS"}},
		{"database URL", map[string]string{"LEADBOX_DATABASE": "postgres://leadbox:s3cretpw@db.internal/leadbox"}, []string{"LEADBOX_DATABASE"}},
		{"listen without a port", map[string]string{"LEADBOX_LISTEN": "8080"}, []string{"LEADBOX_LISTEN"}},
		{"SMTP host with a port", map[string]string{"LEADBOX_SMTP_HOST": "127.0.0.1:2525", "LEADBOX_SALES_TO": "s@example.com"}, []string{"LEADBOX_SMTP_HOST"}},
		{"SMTP host as a URL", map[string]string{"LEADBOX_SMTP_HOST": "smtp://mail.example.com", "LEADBOX_SALES_TO": "s@example.com"}, []string{"LEADBOX_SMTP_HOST"}},
		{"too many SMTP connections", map[string]string{"LEADBOX_SMTP_CONNECTIONS": "33"}, []string{"LEADBOX_SMTP_CONNECTIONS"}},
		{"bad proxy", map[string]string{"LEADBOX_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"}, []string{"LEADBOX_TRUSTED_PROXIES"}},
		{"origin with path", map[string]string{"LEADBOX_ALLOWED_ORIGINS": "https://www.example.com/contact"}, []string{"LEADBOX_ALLOWED_ORIGINS"}},
		{"origin without scheme", map[string]string{"LEADBOX_ALLOWED_ORIGINS": "www.example.com"}, []string{"LEADBOX_ALLOWED_ORIGINS"}},
		{"relative privacy URL", map[string]string{"LEADBOX_PRIVACY_URL": "/privacy"}, []string{"LEADBOX_PRIVACY_URL"}},
		{"consent text with line break", map[string]string{"LEADBOX_CONSENT_TEXT": "Yes\nplease"}, []string{"LEADBOX_CONSENT_TEXT"}},
		{"company with control char", map[string]string{"LEADBOX_COMPANY": "Acme\x00"}, []string{"LEADBOX_COMPANY"}},
		{"bad time zone", map[string]string{"LEADBOX_TIMEZONE": "Mars/Olympus"}, []string{"LEADBOX_TIMEZONE"}},
		{"bad duration", map[string]string{"LEADBOX_OUTBOX_POLL": "soon"}, []string{"LEADBOX_OUTBOX_POLL"}},
		{"retry max below base", map[string]string{"LEADBOX_RETRY_BASE": "1h", "LEADBOX_RETRY_MAX": "1m"}, []string{"LEADBOX_RETRY_MAX"}},
		{"bad log level", map[string]string{"LEADBOX_LOG_LEVEL": "loud"}, []string{"LEADBOX_LOG_LEVEL"}},
		{"every error at once", map[string]string{
			"LEADBOX_SMTP_HOST":       "smtp.example.com",
			"LEADBOX_SMTP_PORT":       "0",
			"LEADBOX_SMTP_TLS":        "maybe",
			"LEADBOX_BASE_URL":        "ftp://x",
			"LEADBOX_DOUBLE_OPT_IN":   "perhaps",
			"LEADBOX_RATE_LIMIT":      "ten",
			"LEADBOX_TRUSTED_PROXIES": "nope",
			"LEADBOX_ALLOWED_ORIGINS": "nope",
			"LEADBOX_TIMEZONE":        "Nowhere/Nothing",
		}, []string{
			"LEADBOX_SALES_TO", "LEADBOX_SMTP_PORT", "LEADBOX_SMTP_TLS", "LEADBOX_BASE_URL", "LEADBOX_DOUBLE_OPT_IN",
			"LEADBOX_RATE_LIMIT", "LEADBOX_TRUSTED_PROXIES", "LEADBOX_ALLOWED_ORIGINS", "LEADBOX_TIMEZONE",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(tt.env))
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error naming %v", tt.env, tt.want)
			}
			msg := err.Error()
			for _, v := range tt.want {
				if !strings.Contains(msg, v) {
					t.Errorf("error %q does not name %s", msg, v)
				}
			}
			if lines := strings.Count(msg, "\n"); lines != len(tt.want) {
				t.Errorf("error has %d problems, want %d:\n%s", lines, len(tt.want), msg)
			}
			if c.Listen != "" {
				t.Errorf("Load returned a usable-looking Config %+v with its error", c)
			}
		})
	}
}

// TestAdminToken: LEADBOX_ADMIN_TOKEN is empty or a token of at least 32
// characters that fits in an HTTP header; a bad one stops start-up with
// an error that names the variable and never repeats the value.
func TestAdminToken(t *testing.T) {
	good := strings.Repeat("k", 32)
	for _, v := range []string{"", good, "  " + good + "  ", "lbx_" + strings.Repeat("a2", 26)} {
		c, err := config.Load(env(map[string]string{"LEADBOX_ADMIN_TOKEN": v}))
		if err != nil {
			t.Errorf("LEADBOX_ADMIN_TOKEN of %d characters: %v", len(v), err)
		} else if got := c.AdminToken.Reveal(); got != strings.TrimSpace(v) {
			t.Errorf("AdminToken = %q, want %q", got, strings.TrimSpace(v))
		}
	}
	for name, v := range map[string]string{
		"31 characters":  "s3cr3t-admin-token-31-character",
		"a space inside": "s3cr3t admin token of 32 characters",
		"not ASCII":      "s3cr3t-admin-token-of-32-charactérs",
		"a control char": "s3cr3t-admin-token-of-32-chars\x01xx",
	} {
		_, err := config.Load(env(map[string]string{"LEADBOX_ADMIN_TOKEN": v}))
		if err == nil || !strings.Contains(err.Error(), "LEADBOX_ADMIN_TOKEN") {
			t.Errorf("%s: error %v, want one naming LEADBOX_ADMIN_TOKEN", name, err)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the error repeats the token: %v", name, err)
		}
	}
}

// TestSMTPPortFollowsTLS: implicit TLS listens on 465 (RFC 8314), so
// that is its default port; a port that is set wins.
func TestSMTPPortFollowsTLS(t *testing.T) {
	tests := []struct {
		tls, port string
		want      int
	}{
		{"", "", 587},
		{"starttls", "", 587},
		{"tls", "", 465},
		{"tls", "2465", 2465},
		{"none", "", 587},
	}
	for _, tt := range tests {
		c, err := config.Load(env(map[string]string{"LEADBOX_SMTP_TLS": tt.tls, "LEADBOX_SMTP_PORT": tt.port}))
		if err != nil || c.SMTPPort != tt.want {
			t.Errorf("TLS %q, port %q: port %d, error %v; want %d", tt.tls, tt.port, c.SMTPPort, err, tt.want)
		}
	}
}

// TestHostSettings: what a host or listen setting may be.
func TestHostSettings(t *testing.T) {
	for _, tt := range []struct{ listen, smtp, wantSMTP string }{
		{":8080", "smtp.example.com", "smtp.example.com"},
		{"127.0.0.1:8080", "127.0.0.1", "127.0.0.1"},
		{"[::1]:8080", "::1", "::1"},
		{"localhost:0", "[2001:db8::25]", "2001:db8::25"},
	} {
		c, err := config.Load(env(map[string]string{"LEADBOX_LISTEN": tt.listen, "LEADBOX_SMTP_HOST": tt.smtp, "LEADBOX_SALES_TO": "s@example.com"}))
		if err != nil || c.Listen != tt.listen || c.SMTPHost != tt.wantSMTP {
			t.Errorf("listen %q, SMTP host %q: got %q, %q, %v", tt.listen, tt.smtp, c.Listen, c.SMTPHost, err)
		}
	}
}

// TestDatabaseFileURI: SQLite's own file: URIs are paths, not a database
// server's URL.
func TestDatabaseFileURI(t *testing.T) {
	c, err := config.Load(env(map[string]string{"LEADBOX_DATABASE": "file:///var/lib/leadbox/leads.db"}))
	if err != nil || c.Database != "file:///var/lib/leadbox/leads.db" {
		t.Errorf("file: URI: %q, %v; want it kept", c.Database, err)
	}
}

func TestLoadSalesToWithSMTP(t *testing.T) {
	if _, err := config.Load(env(map[string]string{
		"LEADBOX_SMTP_HOST": "smtp.example.com", "LEADBOX_SALES_TO": "sales@example.com",
	})); err != nil {
		t.Errorf("SMTP with sales recipients: %v", err)
	}
	if _, err := config.Load(env(map[string]string{"LEADBOX_SALES_TO": ""})); err != nil {
		t.Errorf("no SMTP, no sales recipients (.eml files): %v", err)
	}
}

// TestSecretsRedacted prints and logs a Config every way an operator or a
// careless line of code might, and looks for the secrets.
func TestSecretsRedacted(t *testing.T) {
	const password, token = "hunter2-smtp-pw", "s3cr3t-admin-token-of-32-characters"
	c, err := config.Load(env(map[string]string{
		"LEADBOX_SMTP_HOST":     "smtp.example.com",
		"LEADBOX_SMTP_USERNAME": "user",
		"LEADBOX_SMTP_PASSWORD": password,
		"LEADBOX_SALES_TO":      "sales@example.com",
		"LEADBOX_ADMIN_TOKEN":   token,
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.SMTPPassword.Reveal() != password || c.AdminToken.Reveal() != token {
		t.Fatalf("Reveal returned %q and %q, want the configured secrets", c.SMTPPassword.Reveal(), c.AdminToken.Reveal())
	}

	logged := func(h func(*bytes.Buffer) slog.Handler, args ...any) string {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("config", args...)
		return buf.String()
	}
	jsonH := func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }
	textH := func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }

	outputs := []struct{ name, out string }{
		{"String()", c.String()},
		{"%v", fmt.Sprintf("%v", c)},
		{"%+v", fmt.Sprintf("%+v", c)},
		{"%#v", fmt.Sprintf("%#v", c)},
		//lint:ignore S1025 the %s verb is what is tested
		{"%s", fmt.Sprintf("%s", c)},
		{"Sprint", fmt.Sprint(c)},
		{"pointer %+v", fmt.Sprintf("%+v", &c)},
		{"secret %v", fmt.Sprintf("%v %s %q %x %#v", c.SMTPPassword, c.SMTPPassword, c.SMTPPassword, c.SMTPPassword, c.SMTPPassword)},
		{"slog JSON config", logged(jsonH, "config", c)},
		{"slog JSON secret", logged(jsonH, "password", c.SMTPPassword, "token", c.AdminToken)},
		{"slog text config", logged(textH, "config", c)},
		{"slog text secret", logged(textH, "password", c.SMTPPassword, "token", c.AdminToken)},
	}
	for _, o := range outputs {
		for _, secret := range []string{password, token} {
			if strings.Contains(o.out, secret) {
				t.Errorf("%s shows a secret:\n%s", o.name, o.out)
			}
		}
	}
	for _, want := range []string{"LEADBOX_SMTP_PASSWORD=[redacted]", "LEADBOX_ADMIN_TOKEN=[redacted]", "LEADBOX_SMTP_HOST=smtp.example.com"} {
		if !strings.Contains(c.String(), want) {
			t.Errorf("String() lacks %s:\n%s", want, c.String())
		}
	}
	if s := config.Secret("").String(); s != "" {
		t.Errorf("empty Secret prints %q, want \"\" (so an unset secret is visibly unset)", s)
	}
}

// TestStringListsEverySetting: check-config prints Config.String, so a
// setting Load reads but String leaves out would be invisible to the
// operator checking what is in effect.
func TestStringListsEverySetting(t *testing.T) {
	read := map[string]bool{}
	c, err := config.Load(func(k string) string {
		read[k] = true
		return ""
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	out := c.String()
	for k := range read {
		if !strings.Contains(out, k+"=") {
			t.Errorf("String() does not list %s:\n%s", k, out)
		}
	}
	if len(read) < 40 {
		t.Errorf("Load read only %d settings; the test no longer sees what Load reads", len(read))
	}
}

// TestRetention: days, durations and 0 (for ever); a value too short to be
// meant, or not a duration, is refused naming the variable.
func TestRetention(t *testing.T) {
	for _, tt := range []struct {
		env         map[string]string
		inquiry, ip time.Duration
	}{
		{nil, 730 * 24 * time.Hour, 30 * 24 * time.Hour},
		{map[string]string{"LEADBOX_RETENTION": "365d", "LEADBOX_IP_RETENTION": "7d"}, 365 * 24 * time.Hour, 7 * 24 * time.Hour},
		{map[string]string{"LEADBOX_RETENTION": "0", "LEADBOX_IP_RETENTION": "0"}, 0, 0},
		{map[string]string{"LEADBOX_RETENTION": "48h", "LEADBOX_IP_RETENTION": "90m"}, 48 * time.Hour, 90 * time.Minute},
	} {
		c, err := config.Load(env(tt.env))
		if err != nil || c.Retention != tt.inquiry || c.IPRetention != tt.ip {
			t.Errorf("%v: %v, %v, %v; want %v, %v", tt.env, c.Retention, c.IPRetention, err, tt.inquiry, tt.ip)
		}
	}
	for name, v := range map[string]string{
		"LEADBOX_RETENTION":    "30", // a slip for 30d
		"LEADBOX_IP_RETENTION": "1m",
	} {
		for _, bad := range []string{v, "-3d", "twod", "12h"} {
			if name == "LEADBOX_IP_RETENTION" && bad == "12h" {
				continue // 12 hours is a fine IP retention
			}
			_, err := config.Load(env(map[string]string{name: bad}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: %v, want an error naming it", name, bad, err)
			}
		}
	}
	if got := config.FormatRetention(730 * 24 * time.Hour); got != "730d" {
		t.Errorf("FormatRetention(730 days) = %q", got)
	}
}
