package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// CAPTCHA providers and the form field their widgets post the answer in.
const (
	CaptchaTurnstile = "turnstile"
	CaptchaHCaptcha  = "hcaptcha"
)

// captchaProvider describes one provider's widget and verify API.
type captchaProvider struct {
	field     string // the form field the widget fills in
	script    string // the widget's script, for the hosted form
	origin    string // where the script and its frame come from (CSP)
	verifyURL string // the documented siteverify endpoint
}

// providerFor returns the widget and API of a provider by name.
func providerFor(name string) (captchaProvider, bool) {
	switch name {
	case CaptchaTurnstile:
		return captchaProvider{
			field:     "cf-turnstile-response",
			script:    "https://challenges.cloudflare.com/turnstile/v0/api.js",
			origin:    "https://challenges.cloudflare.com",
			verifyURL: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
		}, true
	case CaptchaHCaptcha:
		return captchaProvider{
			field:     "h-captcha-response",
			script:    "https://js.hcaptcha.com/1/api.js",
			origin:    "https://hcaptcha.com https://*.hcaptcha.com",
			verifyURL: "https://api.hcaptcha.com/siteverify",
		}, true
	}
	return captchaProvider{}, false
}

// Outcomes of a verification besides success.
var (
	// errCaptchaFailed: the provider says the visitor did not pass.
	errCaptchaFailed = errors.New("captcha not passed")
	// errCaptchaUnavailable: the provider could not be asked (timeout,
	// network, an answer we cannot read). Never treated as a pass or as
	// spam: the visitor is asked to try again.
	errCaptchaUnavailable = errors.New("captcha verification unavailable")
)

// captcha verifies widget answers with the provider's siteverify API.
type captcha struct {
	provider captchaProvider
	secret   string
	siteKey  string
	client   *http.Client
	// hosts are where the widget may be solved: the hosted form's host and
	// those of the allowed origins (every other site's posts are refused).
	// A pass solved elsewhere is a farmed one (a site key copied to another
	// site), as both providers' documentation warns.
	hosts []string
}

// verify asks the provider whether answer is a pass. Both Turnstile and
// hCaptcha take a form post of secret, response and remoteip and answer
// JSON with a "success" boolean and "error-codes".
func (c *captcha) verify(ctx context.Context, answer, remoteIP string) error {
	if strings.TrimSpace(answer) == "" {
		return fmt.Errorf("%w: no answer posted", errCaptchaFailed)
	}
	form := url.Values{"secret": {c.secret}, "response": {answer}, "remoteip": {remoteIP}}
	if c.siteKey != "" {
		form.Set("sitekey", c.siteKey) // hCaptcha checks it; Turnstile ignores it
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.provider.verifyURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%w: %v", errCaptchaUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errCaptchaUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: verify answered %s", errCaptchaUnavailable, resp.Status)
	}
	var out struct {
		Success    *bool    `json:"success"` // required: an answer without it is not one
		ErrorCodes []string `json:"error-codes"`
		Hostname   string   `json:"hostname"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		return fmt.Errorf("%w: unreadable answer: %v", errCaptchaUnavailable, err)
	}
	if out.Success == nil {
		return fmt.Errorf("%w: answer without \"success\"", errCaptchaUnavailable)
	}
	if !*out.Success {
		for _, code := range out.ErrorCodes {
			// Our own misconfiguration is not the visitor's failure.
			if strings.Contains(code, "secret") || code == "internal-error" || code == "sitekey-secret-mismatch" {
				return fmt.Errorf("%w: provider error %s", errCaptchaUnavailable, code)
			}
		}
		return fmt.Errorf("%w: %s", errCaptchaFailed, strings.Join(out.ErrorCodes, ","))
	}
	if out.Hostname != "" && len(c.hosts) > 0 && !slices.Contains(c.hosts, strings.ToLower(out.Hostname)) {
		return fmt.Errorf("%w: solved on %q, not on this form's site", errCaptchaFailed, out.Hostname)
	}
	return nil
}

// widgetClass is the element class the provider's script turns into its
// widget.
func (c *captcha) widgetClass() string {
	if c.provider.field == "h-captcha-response" {
		return "h-captcha"
	}
	return "cf-turnstile"
}

// newCaptcha returns nil when no provider is configured. hosts are the
// hosts a pass may come from (none: any).
func newCaptcha(provider, siteKey, secret, verifyURL string, timeout time.Duration, hosts ...string) (*captcha, error) {
	if provider == "" {
		return nil, nil
	}
	p, ok := providerFor(provider)
	if !ok {
		return nil, fmt.Errorf("unknown CAPTCHA provider %q", provider)
	}
	if verifyURL != "" {
		p.verifyURL = verifyURL
	}
	return &captcha{provider: p, secret: secret, siteKey: siteKey, client: &http.Client{Timeout: timeout}, hosts: hosts}, nil
}
