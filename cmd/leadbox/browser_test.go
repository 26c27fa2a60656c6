//go:build browser

// The browser tests drive the hosted form in headless Chromium, as a
// visitor without JavaScript-dependent code would use it. They need
// /usr/bin/chromium, which .ci/run installs, so they run under the browser
// build tag rather than in the plain `go test ./...` of the README:
//
//	go test -tags browser -run Browser ./cmd/leadbox
package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/models"
)

const chromiumPath = "/usr/bin/chromium"

// humanPause outlasts the default time trap (LEADBOX_MIN_FILL_TIME, 3s): a
// person takes at least that long to fill in the form.
const humanPause = 3100 * time.Millisecond

// newBrowser starts headless Chromium with the flags this machine needs (no
// sandbox as root, no background networking on a closed network).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s: %v (install Debian's chromium; .ci/run does)", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestBrowserSubmitsTheHostedForm: a visitor opens /contact, fills it in,
// ticks the marketing box, takes a few seconds as people do, and sends it.
// They land on the thank-you page, the lead and its consent proof are in
// the database, and sales get the email.
func TestBrowserSubmitsTheHostedForm(t *testing.T) {
	mail := smtptest.NewServer(t)
	a := startApp(t, mail)
	ctx := newBrowser(t)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(a.base+"/contact?utm_source=browser-test"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Zoë Browser"),
		chromedp.SendKeys(chromedp.CSS("#email"), "zoe.browser@example.com"),
		chromedp.SendKeys(chromedp.CSS("#company"), "Acme <Labs>"),
		chromedp.SendKeys(chromedp.CSS("#message"), "Hello from a real browser.\nTwo lines."),
		chromedp.Click(chromedp.CSS("#marketing_consent")),
	); err != nil {
		t.Fatalf("filling in the form: %v", err)
	}
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#marketing_consent').checked`))
	if err != nil || !checked {
		t.Fatalf("marketing box after one click: checked %v, %v; want ticked (it starts unticked)", checked, err)
	}
	time.Sleep(humanPause)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`))); err != nil {
		t.Fatalf("sending the form: %v", err)
	}
	// The form page has an h1 too: wait for the navigation itself.
	var loc string
	waitUntil(t, "the browser has left the form", 10*time.Second, func() bool {
		loc, err = chromedp.Run(ctx, chromedp.Location())
		return err == nil && !strings.Contains(loc, "/contact?")
	})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatalf("the page after sending: %v", err)
	}
	if !strings.HasSuffix(loc, "/contact/thanks") {
		t.Fatalf("after sending, the browser is at %q, want the thank-you page", loc)
	}
	heading, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if !strings.Contains(heading, "Thank you") {
		t.Errorf("thank-you page heading %q", heading)
	}

	var lead models.Lead
	if err := a.db(t).DB().Preload("Consent.ConsentText").Where("email = ?", "zoe.browser@example.com").Take(&lead).Error; err != nil {
		t.Fatalf("the lead is not in the database: %v", err)
	}
	if lead.Name != "Zoë Browser" || lead.Company != "Acme <Labs>" || lead.Message != "Hello from a real browser.\nTwo lines." ||
		lead.UTMSource != "browser-test" {
		t.Errorf("stored lead = %+v", lead)
	}
	c := lead.Consent
	if c == nil || c.Action != models.ActionGiven || c.IP != "127.0.0.1" ||
		!strings.Contains(c.UserAgent, "Chrome") || c.ConsentText == nil || !strings.Contains(c.ConsentText.Text, "I agree") {
		t.Errorf("stored consent = %+v, want given, from 127.0.0.1, by Chrome, with the wording shown", c)
	}
	sales := a.waitForEmailsTo(t, salesAddr, 1)
	if got := sales[0].address(t, "Reply-To"); got != "zoe.browser@example.com" {
		t.Errorf("notification Reply-To %q", got)
	}
}

// TestBrowserShowsErrorsAndKeepsValues: a form with a bad address comes back
// with the error beside the field and everything typed still there.
func TestBrowserShowsErrorsAndKeepsValues(t *testing.T) {
	a := startApp(t, smtptest.NewServer(t))
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(a.base+"/contact"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Ann Typo"),
		chromedp.SendKeys(chromedp.CSS("#email"), "ann.example.com"),
		chromedp.SendKeys(chromedp.CSS("#message"), "Please call me."),
	); err != nil {
		t.Fatalf("filling in the form: %v", err)
	}
	// Sooner, the time trap would take the post for a bot's and answer it
	// like a success, errors and all: bots learn nothing.
	time.Sleep(humanPause)
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#email-error")),
	); err != nil {
		t.Fatalf("sending a bad form: %v", err)
	}
	msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#email-error")))
	if !strings.Contains(msg, "email address") {
		t.Errorf("email error %q", msg)
	}
	for sel, want := range map[string]string{"#name": "Ann Typo", "#email": "ann.example.com", "#message": "Please call me."} {
		got, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
		if err != nil || got != want {
			t.Errorf("%s after the refusal = %q (%v), want %q kept", sel, got, err, want)
		}
	}
	invalid, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#email').getAttribute('aria-invalid')`))
	if invalid != "true" {
		t.Errorf("email field aria-invalid = %q, want true for screen readers", invalid)
	}
}

// TestBrowserPagesFitAPhone: on a 375-pixel-wide phone, a long address on
// the opt-out and confirm pages wraps instead of pushing the page sideways
// (WCAG 1.4.10, Reflow), so the person sees whom they unsubscribe.
func TestBrowserPagesFitAPhone(t *testing.T) {
	a := startApp(t, smtptest.NewServer(t))
	const long = "lee.smith@marketingdepartment.internationalconglomerate.co.uk"
	id := a.submit(t, leadForm("Lee Smith", long, true))
	lead, err := a.db(t).LeadByPublicID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	for _, path := range []string{"/optout/" + lead.OptOutToken, "/confirm/" + *lead.ConfirmToken} {
		if err := chromedp.Do(ctx,
			chromedp.EmulateViewport(375, 800),
			chromedp.Navigate(a.base+path),
			chromedp.WaitVisible(chromedp.CSS("h1")),
		); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil || width > 375 {
			t.Errorf("%s is %d pixels wide on a 375-pixel screen (%v)", path, width, err)
		}
	}
}
