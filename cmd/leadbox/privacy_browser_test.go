//go:build browser

package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/models"
)

// pageWait bounds each wait for a page the browser loads; the server
// answers in milliseconds, so seconds mean something is broken.
const pageWait = 10 * time.Second

// scripts switches the page's JavaScript off or on (off: as a person who
// turned it off in their browser has it). The test's own evaluations
// through DevTools run either way; axe-core's promise never settles with
// scripts off, so the checks switch them on for a moment.
func scripts(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	})
}

// loadPage runs steps that make the browser load a page (a navigation, a
// click on a link or a button) and returns the page's HTTP status once
// it has loaded: a wait for the navigation itself, as every page here
// has an h1 that waiting for would find on the page before.
func loadPage(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) int {
	t.Helper()
	wait, cancel := context.WithTimeout(ctx, pageWait)
	defer cancel()
	resp, err := chromedp.RunResponse(wait, steps...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return int(resp.Status)
}

// innerText is the text of the first element sel matches.
func innerText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`) || {}).innerText || ''`))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// jsString quotes s for a JavaScript expression (selectors here hold no
// backquote or backslash).
func jsString(s string) string { return "`" + s + "`" }

// TestBrowserPrivacyPages: a person who sent the form asks for their data
// on /privacy in a browser with JavaScript off, mistypes their address
// and is told so beside the field, then gets the link by email, sees what
// is held, stops marketing, is stopped by the browser when they press
// "Erase my data" without ticking the box that says it cannot be undone,
// erases their data, and finds the link dead. Every page passes axe-core
// on a 375-pixel-wide screen.
func TestBrowserPrivacyPages(t *testing.T) {
	mail := smtptest.NewServer(t)
	a := startApp(t, mail)
	axe := axeCore(t)
	const addr = "priya.browser@example.com"
	id := a.submit(t, leadForm("Priya Browser", addr, true))
	a.waitForEmailsTo(t, addr, 1) // the confirmation request

	ctx := newBrowser(t)
	// check runs axe-core with the page's scripts on (see scripts); the
	// person's steps all run with them off.
	check := func(what string) {
		t.Helper()
		if err := chromedp.Do(ctx, scripts(true)); err != nil {
			t.Fatalf("%s: scripts on for axe-core: %v", what, err)
		}
		checkPage(t, ctx, axe, what)
		if err := chromedp.Do(ctx, scripts(false)); err != nil {
			t.Fatalf("%s: scripts off again: %v", what, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 800), scripts(false)); err != nil {
		t.Fatalf("set up the browser: %v", err)
	}

	if status := loadPage(t, ctx, "open /privacy", chromedp.Navigate(a.base+"/privacy")); status != http.StatusOK {
		t.Fatalf("GET /privacy: status %d", status)
	}
	check("privacy request page")

	// A mistyped address: the page comes back (422) with the error beside
	// the field and the address kept, as the contact form does.
	status := loadPage(t, ctx, "send a mistyped address",
		chromedp.SendKeys(chromedp.CSS("#email"), "priya.example.com"),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
	)
	if status != http.StatusUnprocessableEntity {
		t.Errorf("a mistyped address: status %d, want 422", status)
	}
	if msg := innerText(t, ctx, "#email-error"); !strings.Contains(msg, "email address") {
		t.Errorf("error beside the field = %q, want one about the email address", msg)
	}
	if got, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#email"))); err != nil || got != "priya.example.com" {
		t.Errorf("the field after the refusal = %q (%v), want what was typed kept", got, err)
	}
	for attr, want := range map[string]string{"aria-invalid": "true", "aria-describedby": "email-error"} {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#email').getAttribute('`+attr+`') || ''`))
		if got != want {
			t.Errorf("email field %s = %q, want %q for screen readers", attr, got, want)
		}
	}
	if role, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#form-errors').getAttribute('role') || ''`)); role != "alert" {
		t.Errorf("the error summary's role = %q, want alert, so that it is read out", role)
	}
	// The summary's link takes the keyboard to the field.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#form-errors a[href="#email"]`))); err != nil {
		t.Fatalf("follow the error summary's link: %v", err)
	}
	waitUntil(t, "the summary's link has moved the focus to the field", pageWait, func() bool {
		focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`))
		return err == nil && focused == "email"
	})
	check("privacy request page with an error")

	status = loadPage(t, ctx, "send the address",
		chromedp.SetValue(chromedp.CSS("#email"), addr),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
	)
	if h := innerText(t, ctx, "h1"); status != http.StatusOK || h != "Check your inbox" {
		t.Fatalf("after sending the address: status %d, heading %q; want 200, Check your inbox", status, h)
	}
	check("check-your-inbox page")

	m := a.waitForEmailsTo(t, addr, 2)[1]
	link := privacyLinkRE.FindString(m.text)
	if link == "" {
		t.Fatalf("the second email to %s has no privacy link:\n%s", addr, m.text)
	}
	// The link names LEADBOX_BASE_URL; the browser reaches the test server
	// the way a reverse proxy would route it.
	link = a.base + strings.TrimPrefix(link, testBaseURL)

	if status := loadPage(t, ctx, "open the privacy link", chromedp.Navigate(link)); status != http.StatusOK {
		t.Fatalf("GET the privacy link: status %d", status)
	}
	page := innerText(t, ctx, "main")
	for _, want := range []string{"Your data at Acme Widgets", addr, "Priya Browser", "We need 300 widgets by June.", "given (form)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the privacy page lacks %q:\n%s", want, page)
		}
	}
	check("privacy page with the data")

	status = loadPage(t, ctx, "press Stop marketing emails",
		chromedp.Click(chromedp.CSS(`form:has(input[name=action][value=withdraw]) button[type=submit]`)))
	if h := innerText(t, ctx, "h1"); status != http.StatusOK || h != "No more marketing emails" {
		t.Fatalf("after Stop marketing emails: status %d, heading %q", status, h)
	}
	if state, _ := a.consent(t, addr); state != models.MarketingWithdrawn {
		t.Errorf("marketing state after Stop marketing emails: %s, want withdrawn", state)
	}
	check("marketing stopped page")

	if status := loadPage(t, ctx, "go back to the data", chromedp.Click(chromedp.CSS(`main a[href^="/privacy/"]`))); status != http.StatusOK {
		t.Fatalf("back to the data: status %d", status)
	}
	if page := innerText(t, ctx, "main"); !strings.Contains(page, "You opted out") {
		t.Errorf("the privacy page after stopping marketing does not say so:\n%s", page)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('input[name=action][value=withdraw]').length`)); n != 0 {
		t.Errorf("the privacy page still offers Stop marketing emails after it was pressed")
	}

	// Erase without the box ticked: the browser's own check (required)
	// stops the form and takes the focus to the box; the page stays and
	// nothing is erased. A mark on this document would be gone had it
	// been replaced.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.dataset.before = 'erase'; true`)); err != nil {
		t.Fatalf("mark the page: %v", err)
	}
	eraseButton := chromedp.CSS(`form:has(input[name=action][value=erase]) button[type=submit]`)
	if err := chromedp.Do(ctx, chromedp.Click(eraseButton)); err != nil {
		t.Fatalf("press Erase my data without the box: %v", err)
	}
	// The button takes the focus when pressed; the browser's check moves
	// it to the box only when it stops the form.
	waitUntil(t, "the browser has stopped the form at the unticked box", pageWait, func() bool {
		focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`))
		return err == nil && focused == "understood"
	})
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
		`(document.documentElement.dataset.before || '') + ' ' + document.querySelector('#understood').validity.valueMissing + ' ' + !!document.querySelector('#form-errors')`))
	if state != "erase true false" {
		t.Errorf("after Erase my data without the box: page mark, box missing, server's error = %q, want the same page, the box missing, no answer from the server", state)
	}
	lead, err := a.db(t).LeadByPublicID(t.Context(), id)
	if err != nil || lead.ErasedAt != nil || lead.Name != "Priya Browser" {
		t.Fatalf("the lead after Erase my data without the box: %+v (%v), want it whole", lead, err)
	}
	if out := a.cli(t, "consent", addr); !strings.Contains(out, "given") {
		t.Errorf("the consent history after Erase my data without the box:\n%s", out)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#understood"))); err != nil {
		t.Fatalf("tick the box: %v", err)
	}
	status = loadPage(t, ctx, "press Erase my data", chromedp.Click(eraseButton))
	if h := innerText(t, ctx, "h1"); status != http.StatusOK || h != "Your data is erased" {
		t.Fatalf("after Erase my data: status %d, heading %q", status, h)
	}
	check("data erased page")
	lead, err = a.db(t).LeadByPublicID(t.Context(), id)
	if err != nil || lead.ErasedAt == nil || lead.Name != "" || lead.Email != "" || lead.Message != "" {
		t.Errorf("the lead after the erasure: %+v (%v), want it blank with erased_at", lead, err)
	}
	if out := a.cli(t, "consent", addr); strings.Contains(out, "given") {
		t.Errorf("the consent history after the erasure:\n%s", out)
	}

	// The link is dead now, and says so in the words of any bad link.
	if status := loadPage(t, ctx, "open the link again", chromedp.Navigate(link)); status != http.StatusNotFound {
		t.Errorf("the link after the erasure: status %d, want 404", status)
	}
	// (The reference under it is each answer's own request id.)
	dead := innerText(t, ctx, "h1") + "\n" + innerText(t, ctx, "main p.lead")
	check("dead link page")
	if status := loadPage(t, ctx, "open a made-up link", chromedp.Navigate(a.base+"/privacy/aaaa.1.bbbb")); status != http.StatusNotFound {
		t.Errorf("a made-up link: status %d, want 404", status)
	}
	forged := innerText(t, ctx, "h1") + "\n" + innerText(t, ctx, "main p.lead")
	if dead != forged || !strings.HasPrefix(dead, "Link not recognised\n") {
		t.Errorf("the erased link's page:\n%s\na made-up link's:\n%s\nwant the same not-recognised page", dead, forged)
	}

	// The server saw two actions only: the refused erasure never left
	// the browser.
	if n := strings.Count(a.logs.String(), `"method":"POST","route":"/privacy/:token"`); n != 2 {
		t.Errorf("%d posts of the privacy page reached the server, want 2 (stop marketing, erase)", n)
	}
}
