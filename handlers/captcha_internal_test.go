package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestCaptchaVerify(t *testing.T) {
	t.Parallel()
	const secret = "0x4AAAAAAA-test-secret"
	judge := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.PostFormValue("secret") != secret:
			fmt.Fprint(w, `{"success":false,"error-codes":["invalid-input-secret"]}`)
		case r.PostFormValue("remoteip") != "198.51.100.4":
			fmt.Fprint(w, `{"success":false,"error-codes":["bad-remoteip-in-test"]}`)
		case r.PostFormValue("response") == "good-token":
			fmt.Fprint(w, `{"success":true,"error-codes":[],"challenge_ts":"2026-05-01T09:00:00Z","hostname":"www.example.com"}`)
		default:
			fmt.Fprint(w, `{"success":false,"error-codes":["invalid-input-response"]}`)
		}
	}
	tests := []struct {
		name, provider, secret, answer string
		server                         func(w http.ResponseWriter, r *http.Request)
		want                           error
	}{
		{"turnstile pass", CaptchaTurnstile, secret, "good-token", judge, nil},
		{"hcaptcha pass", CaptchaHCaptcha, secret, "good-token", judge, nil},
		{"wrong answer", CaptchaTurnstile, secret, "bot-token", judge, errCaptchaFailed},
		{"no answer posted", CaptchaTurnstile, secret, "", judge, errCaptchaFailed},
		{"our secret is wrong", CaptchaTurnstile, "wrong", "good-token", judge, errCaptchaUnavailable},
		{"provider error", CaptchaHCaptcha, secret, "good-token", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "oops", http.StatusInternalServerError)
		}, errCaptchaUnavailable},
		{"unreadable answer", CaptchaTurnstile, secret, "good-token", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, "<html>maintenance</html>")
		}, errCaptchaUnavailable},
		// "success" is required: an answer without it says nothing about
		// the visitor.
		{"empty object", CaptchaTurnstile, secret, "good-token", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{}`)
		}, errCaptchaUnavailable},
		{"null", CaptchaTurnstile, secret, "good-token", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `null`)
		}, errCaptchaUnavailable},
		{"timeout", CaptchaTurnstile, secret, "good-token", func(w http.ResponseWriter, r *http.Request) {
			// Reading the whole body lets the server notice the client
			// giving up, which ends the wait (and the test) at once.
			_ = r.ParseForm()
			select {
			case <-r.Context().Done():
			case <-time.After(600 * time.Millisecond): // longer than the client waits
			}
		}, errCaptchaUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := newCaptcha(tc.provider, "site-key", tc.secret, fakeSiteverify(t, tc.server), 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			err = c.verify(context.Background(), tc.answer, "198.51.100.4")
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCaptchaHostname: a pass solved on another site (a copied site key,
// a farm of solved answers) is no pass for this form; without a hostname
// in the answer, or hosts to compare with, the answer stands.
func TestCaptchaHostname(t *testing.T) {
	t.Parallel()
	answer := func(host string) string {
		return fakeSiteverify(t, func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `{"success":true,"error-codes":[],"hostname":%q}`, host)
		})
	}
	tests := []struct {
		name, host string
		hosts      []string
		want       error
	}{
		{"the hosted form", "leads.example.com", []string{"leads.example.com", "www.example.com"}, nil},
		{"an allowed origin, any case", "WWW.example.com", []string{"leads.example.com", "www.example.com"}, nil},
		{"another site", "attacker.example", []string{"leads.example.com", "www.example.com"}, errCaptchaFailed},
		{"no hostname in the answer", "", []string{"leads.example.com"}, nil},
		{"no hosts to compare with", "attacker.example", nil, nil},
	}
	for _, tc := range tests {
		c, err := newCaptcha(CaptchaTurnstile, "site-key", "secret", answer(tc.host), time.Second, tc.hosts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.verify(context.Background(), "token", "198.51.100.4"); !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
			t.Errorf("%s: verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCaptchaUnknownProvider(t *testing.T) {
	t.Parallel()
	if _, err := newCaptcha("recaptcha-v9", "", "s", "", time.Second); err == nil {
		t.Error("newCaptcha accepted an unknown provider")
	}
	if c, err := newCaptcha("", "", "", "", time.Second); c != nil || err != nil {
		t.Errorf("newCaptcha with no provider = %v, %v; want nil, nil (CAPTCHA off)", c, err)
	}
}
