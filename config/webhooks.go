package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// WebhookSecretPrefix starts every Standard Webhooks signing secret.
const WebhookSecretPrefix = "whsec_"

// Bounds of a webhook secret's decoded length: Standard Webhooks asks for
// 24 to 64 bytes, enough that an HMAC key is beyond guessing and short
// enough for every receiver's library.
const (
	MinWebhookSecretBytes = 24
	MaxWebhookSecretBytes = 64
)

// ParseWebhookSecret decodes a Standard Webhooks secret ("whsec_" and the
// standard base64 of 24 to 64 bytes) into the HMAC key. Its errors never
// repeat the value.
func ParseWebhookSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, WebhookSecretPrefix)
	if !ok {
		return nil, errors.New("must start with " + WebhookSecretPrefix + " (make one with `leadbox webhook secret`)")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("must be " + WebhookSecretPrefix + " followed by standard base64 (make one with `leadbox webhook secret`)")
	}
	if len(key) < MinWebhookSecretBytes || len(key) > MaxWebhookSecretBytes {
		return nil, fmt.Errorf("must encode %d to %d bytes, got %d (make one with `leadbox webhook secret`)",
			MinWebhookSecretBytes, MaxWebhookSecretBytes, len(key))
	}
	return key, nil
}

// WebhookKey is the decoded LEADBOX_WEBHOOK_SECRET (Load checked it); nil
// when no webhooks are configured.
func (c Config) WebhookKey() []byte {
	if c.WebhookSecret == "" {
		return nil
	}
	key, _ := ParseWebhookSecret(c.WebhookSecret.Reveal())
	return key
}

// webhookURLs is LEADBOX_WEBHOOK_URLS: absolute https URLs, or http to
// this machine only (a receiver beside Leadbox, or a test). Events carry
// leads' personal data, which must not cross a network in clear text.
// User information in a URL is refused too: it would be a second secret
// printed by check-config.
func (p *parser) webhookURLs(name string) []string {
	v := p.str(name, "")
	if v == "" {
		return nil
	}
	var urls []string
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		switch {
		case err != nil || u.Host == "" || u.Opaque != "":
			p.fail(name, fmt.Sprintf("must be absolute URLs, got %q", part))
			continue
		case u.User != nil:
			p.fail(name, fmt.Sprintf("must not carry a user name or password, got a URL for %s", u.Host))
			continue
		case u.Fragment != "":
			p.fail(name, fmt.Sprintf("must not have a #fragment, got %q", part))
			continue
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		default:
			p.fail(name, fmt.Sprintf("must be https (http only to this machine: localhost, 127.0.0.1, [::1]), got %q", part))
			continue
		}
		if s := u.String(); !seen[s] {
			seen[s] = true
			urls = append(urls, s)
		}
	}
	return urls
}

// webhookSecret is LEADBOX_WEBHOOK_SECRET, checked when set, and required
// when there are URLs to sign for.
func (p *parser) webhookSecret(name string, urls []string) Secret {
	v := p.str(name, "")
	if v == "" {
		if len(urls) > 0 {
			p.fail(name, "is required when LEADBOX_WEBHOOK_URLS is set (make one with `leadbox webhook secret`)")
		}
		return ""
	}
	if _, err := ParseWebhookSecret(v); err != nil {
		p.fail(name, err.Error())
		return ""
	}
	return Secret(v)
}
