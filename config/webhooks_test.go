package config_test

import (
	"strings"
	"testing"

	"github.com/leadbox/leadbox/config"
)

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestWebhookURLs: https anywhere, http only to this machine; anything
// else stops start-up with an error naming the variable.
func TestWebhookURLs(t *testing.T) {
	tests := []struct {
		urls string
		ok   bool
	}{
		{"https://crm.example.com/hooks/leadbox", true},
		{"https://a.example.com/x, https://b.example.com/y", true},
		{"http://127.0.0.1:9000/hook", true},
		{"http://localhost:9000/hook", true},
		{"http://[::1]:9000/hook", true},
		{"http://crm.example.com/hook", false},
		{"http://10.0.0.5/hook", false},
		{"ftp://example.com/hook", false},
		{"crm.example.com/hook", false},
		{"https://user:pass@crm.example.com/hook", false},
		{"https://ok.example.com/, http://bad.example.com/", false},
	}
	for _, tt := range tests {
		_, err := config.Load(env(map[string]string{"LEADBOX_WEBHOOK_URLS": tt.urls, "LEADBOX_WEBHOOK_SECRET": testWebhookSecret}))
		if tt.ok && err != nil {
			t.Errorf("LEADBOX_WEBHOOK_URLS=%q: %v, want it accepted", tt.urls, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "LEADBOX_WEBHOOK_URLS")) {
			t.Errorf("LEADBOX_WEBHOOK_URLS=%q: error %v, want one naming LEADBOX_WEBHOOK_URLS", tt.urls, err)
		}
		if err != nil && strings.Contains(err.Error(), "user:pass") {
			t.Errorf("LEADBOX_WEBHOOK_URLS=%q: error %q repeats the password", tt.urls, err)
		}
	}
}

// TestWebhookSecret: required with URLs, checked for its form, never
// printed.
func TestWebhookSecret(t *testing.T) {
	tests := []struct {
		secret string
		ok     bool
	}{
		{testWebhookSecret, true},
		{"", false},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},            // no prefix
		{"whsec_not base64!", false},                           // not base64
		{"whsec_c2hvcnQ=", false},                              // 5 bytes
		{"whsec_" + strings.Repeat("QUFB", 30), false},         // 90 bytes
		{"whsec_" + strings.Repeat("QUFB", 8), true},           // 24 bytes
		{"whsec_" + strings.Repeat("QUFB", 21) + "QQ==", true}, // 64 bytes
	}
	for _, tt := range tests {
		c, err := config.Load(env(map[string]string{"LEADBOX_WEBHOOK_URLS": "https://crm.example.com/h", "LEADBOX_WEBHOOK_SECRET": tt.secret}))
		if tt.ok != (err == nil) {
			t.Errorf("LEADBOX_WEBHOOK_SECRET=%q: error %v, want ok=%v", tt.secret, err, tt.ok)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "LEADBOX_WEBHOOK_SECRET") {
				t.Errorf("LEADBOX_WEBHOOK_SECRET=%q: error %q does not name the variable", tt.secret, err)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q repeats the secret", err)
			}
			continue
		}
		if len(c.WebhookKey()) < 24 {
			t.Errorf("WebhookKey() is %d bytes, want the decoded secret", len(c.WebhookKey()))
		}
		if strings.Contains(c.String(), tt.secret) {
			t.Errorf("check-config prints the webhook secret")
		}
		if got := printed(c, "LEADBOX_WEBHOOK_SECRET"); got != "[redacted]" {
			t.Errorf("check-config prints LEADBOX_WEBHOOK_SECRET=%q, want [redacted]", got)
		}
	}
	// A secret alone, without URLs, is checked but not required.
	if _, err := config.Load(env(map[string]string{})); err != nil {
		t.Errorf("no webhook settings: %v, want the defaults to load", err)
	}
}
