package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// TestOutcomeCounted: every way the pipeline can end counts as one of the
// contract's outcomes, except the ones that say nothing about the
// submission (our failure, the CAPTCHA provider's).
func TestOutcomeCounted(t *testing.T) {
	t.Parallel()
	const valid = "name=Ann&email=ann%40example.com&message=Hello"
	received := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	stamps := formStamps{key: []byte("test key")}
	run := func(contentType, body string, minFill time.Duration, store fakeRecorder) outcome {
		in := intake{consentTextID: 1, stamps: stamps, minFillTime: minFill}
		req := submitRequest{contentType: contentType, body: strings.NewReader(body), client: clientInfo{IP: "192.0.2.1"}}
		return submit(context.Background(), req, in, formPolicy{}, &store, func() time.Time { return received }, slog.New(slog.DiscardHandler))
	}
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name string
		out  outcome
		want string
	}{
		{"accepted", run(form, valid, 0, fakeRecorder{}), OutcomeAccepted},
		{"invalid field", run(form, "name=Ann&email=typo&message=Hello", 0, fakeRecorder{}), OutcomeInvalid},
		{"unsupported body", run("text/plain", "hi", 0, fakeRecorder{}), OutcomeInvalid},
		{"malformed JSON", run("application/json", "{", 0, fakeRecorder{}), OutcomeInvalid},
		{"honeypot", run(form, valid+"&_gotcha=x", 0, fakeRecorder{}), OutcomeSpam},
		{"time trap", run(form, valid+"&_ts="+stamps.issue(received), 3*time.Second, fakeRecorder{}), OutcomeSpam},
		{"CAPTCHA failed", captchaRefused(submission{}).countedAs(models.SpamCaptcha), OutcomeSpam},
		{"duplicate", run(form, valid, 0, fakeRecorder{created: models.Created{Duplicate: true},
			earlier: models.Lead{PublicID: "earlier"}}), OutcomeDuplicate},
		{"database fails", run(form, valid, 0, fakeRecorder{err: errors.New("a constraint failed")}), ""},
		{"database cannot store", run(form, valid, 0, fakeRecorder{err: fmt.Errorf("%w: disk full", models.ErrUnavailable)}), ""},
		{"CAPTCHA provider down", captchaUnavailable(submission{}), ""},
	}
	for _, tc := range tests {
		if got := tc.out.counted(); got != tc.want {
			t.Errorf("%s: counted as %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMethodLabel(t *testing.T) {
	t.Parallel()
	for method, want := range map[string]string{
		http.MethodGet: "GET", http.MethodPost: "POST", http.MethodHead: "HEAD", http.MethodOptions: "OPTIONS",
		"BREW": "other", "get": "other", "PROPFIND": "other", http.MethodTrace: "other", http.MethodConnect: "other",
	} {
		if got := methodLabel(method); got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", method, got, want)
		}
	}
}

func TestInNetworks(t *testing.T) {
	t.Parallel()
	loopback := []string{"127.0.0.1/32", "::1/128"}
	tests := []struct {
		ip   string
		nets []string
		want bool
	}{
		{"127.0.0.1", loopback, true},
		{"::1", loopback, true},
		{"::ffff:127.0.0.1", loopback, true},
		{"127.0.0.2", loopback, false},
		{"10.1.2.3", loopback, false},
		{"10.1.2.3", []string{"10.0.0.0/8"}, true},
		{"fe80::1%eth0", []string{"fe80::/10"}, true},
		{"", loopback, false},
		{"not an address", loopback, false},
		{"127.0.0.1", nil, false},
	}
	for _, tc := range tests {
		if got := inNetworks(tc.ip, prefixes(t, tc.nets...)); got != tc.want {
			t.Errorf("inNetworks(%q, %v) = %v, want %v", tc.ip, tc.nets, got, tc.want)
		}
	}
}

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
