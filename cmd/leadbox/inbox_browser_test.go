//go:build browser

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/models"
)

// axeVersion is the axe-core release the accessibility checks run,
// pinned so that a new rule upstream does not turn the build red
// overnight; raise it on purpose.
const axeVersion = "4.14.1"

// axeCore returns the source of axe-core (axe.min.js): the file named by
// AXE_CORE_JS, or else the pinned release installed with npm into a
// temporary folder. Without either the test fails, loudly: an
// accessibility check that quietly does not run checks nothing.
func axeCore(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AXE_CORE_JS")
	if path == "" {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatalf("axe-core is needed for the accessibility checks: npm was not found (%v); install Node.js and npm (Debian: apt-get install npm), or set AXE_CORE_JS to a copy of axe.min.js", err)
		}
		dir := t.TempDir()
		cmd := exec.CommandContext(t.Context(), npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
			"--prefix", dir, "axe-core@"+axeVersion)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm install axe-core@%s: %v\n%s", axeVersion, err, out)
		}
		path = filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return string(src)
}

// axeViolation is one serious or critical finding of axe-core.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// checkPage checks the page the browser shows: it fits a 375-pixel-wide
// screen without scrolling sideways (WCAG 1.4.10, Reflow), and axe-core
// finds nothing serious or critical. The viewport is 375 pixels wide.
func checkPage(t *testing.T, ctx context.Context, axe, what string) {
	t.Helper()
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil || width > 375 {
		t.Errorf("%s is %d pixels wide on a 375-pixel screen (%v)", what, width, err)
	}
	// Evaluated through DevTools, so the page's CSP (which allows no
	// script at all) does not apply to it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+"\n;true")); err != nil {
		t.Fatalf("%s: load axe-core: %v", what, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ['violations']}).then(r =>
		r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
			ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.map(n => n.target.join(' ')),
		})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", what, err)
	}
	for _, v := range found {
		t.Errorf("%s: axe-core %s (%s): %s, at %v", what, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

// TestBrowserInbox: a salesperson opens the inbox on a phone, is sent to
// sign in, signs in, finds the list, opens a lead and changes its status;
// every page fits the screen and passes axe-core, with no JavaScript of
// ours anywhere. With UPDATE_SCREENSHOT=1 it also saves the lead list at
// a desktop width as docs/img/inbox.png, the picture in docs/inbox.md.
func TestBrowserInbox(t *testing.T) {
	mail := smtptest.NewServer(t)
	a := startApp(t, mail)
	axe := axeCore(t)
	leads := []struct {
		name, email, company, message string
		consent                       bool
	}{
		{"Ann Example", "ann@example.com", "Example Ltd", "Could you send us a quote for 300 widgets, delivered by June?", true},
		{"Bartek Nowak", "bartek.nowak@example.com", "Nowak i Synowie Sp. z o.o.", "We are looking for a partner to install the system in three offices.", false},
		{"Chloé Martin", "chloe.martin@example.com", "", "Do you ship to France? Please call me on Thursday morning.", true},
		{"Dev Patel", "dev@example.com", "Patel Engineering", "Our current supplier is closing. How soon could you deliver 2,000 units?", false},
		{"Eva Svensson", "eva.svensson@example.com", "Nordic Example AB", "I would like a demo of the reporting features for our sales team.", true},
	}
	ids := map[string]string{}
	for _, l := range leads {
		form := leadForm(l.name, l.email, l.consent)
		form.Set("company", l.company)
		form.Set("message", l.message)
		form.Set("phone", "+48 600 100 200")
		ids[l.name] = a.submit(t, form)
	}
	// Where sales already is with some of them, and one confirmed consent,
	// so the list shows what it looks like in use.
	store := a.db(t)
	origin := models.Origin{Actor: "sales@example.com", IP: "127.0.0.1", At: time.Now()}
	for name, status := range map[string]string{"Dev Patel": models.LeadWon, "Bartek Nowak": models.LeadContacted} {
		if _, err := store.UpdateLead(t.Context(), ids[name], models.LeadChange{Status: status}, origin, true); err != nil {
			t.Fatal(err)
		}
	}
	confirm := a.waitForEmailsTo(t, "ann@example.com", 1)[0].confirmLink(t)
	if resp, _ := a.do(t, "POST", confirm, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("confirm Ann's consent: status %d", resp.StatusCode)
	}
	runCLI(t, a.env, goodPassword+"\n", "user", "add", "sales@example.com", "--role", "sales").ok(t, "user add")

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(375, 800),
		chromedp.Navigate(a.base+"/admin"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
	); err != nil {
		t.Fatalf("open /admin: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/admin/login") {
		t.Errorf("without a session, /admin led to %q, want the sign-in page", loc)
	}
	checkPage(t, ctx, axe, "sign-in page")

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#email"), "sales@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), goodPassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("ol.leads")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/admin") {
		t.Errorf("after signing in the browser is at %q, want /admin", loc)
	}
	names, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('ol.leads .name')].map(a => a.textContent)`))
	if len(names) != len(leads) || names[0] != "Eva Svensson" {
		t.Errorf("the list shows %q, want the %d leads, newest first", names, len(leads))
	}
	checkPage(t, ctx, axe, "lead list")

	// A link to a lead in a chat message, from another site: the browser
	// leaves the SameSite=Strict cookie out of that navigation, and the
	// inbox still opens the lead for the signed-in user.
	leadURL := a.base + "/admin/leads/" + ids["Dev Patel"]
	if err := chromedp.Do(ctx,
		chromedp.Navigate(`data:text/html,<a id="go" href="`+leadURL+`">Dev's lead</a>`),
		chromedp.Click(chromedp.CSS("#go")),
		chromedp.WaitVisible(chromedp.CSS("#status")),
	); err != nil {
		t.Fatalf("follow a link to a lead from another site: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != leadURL {
		t.Errorf("a link from another site to %s ended at %q", leadURL, loc)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(a.base+"/admin"), chromedp.WaitVisible(chromedp.CSS("#q"))); err != nil {
		t.Fatalf("back to the list: %v", err)
	}

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#q"), "widgets"),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
	); err != nil {
		t.Fatalf("search: %v", err)
	}
	// The list page before the search has an ol.leads too: wait for the
	// answer to the search itself.
	waitUntil(t, "the search's answer has loaded", 10*time.Second, func() bool {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`location.search.includes('q=widgets') && document.readyState === 'complete' && !!document.querySelector('ol.leads')`))
		return err == nil && ok
	})
	names, _ = chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('ol.leads .name')].map(a => a.textContent)`))
	if len(names) != 1 || names[0] != "Ann Example" {
		t.Errorf("a search for widgets shows %q, want Ann Example", names)
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`ol.leads .name`)),
		chromedp.WaitVisible(chromedp.CSS("#status")),
	); err != nil {
		t.Fatalf("open the lead: %v", err)
	}
	heading, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if heading != "Ann Example" {
		t.Errorf("lead page heading %q, want Ann Example", heading)
	}
	checkPage(t, ctx, axe, "lead page")

	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#status"), models.LeadQualified),
		chromedp.SendKeys(chromedp.CSS("#note"), "Called back, sending the quote today."),
		chromedp.Click(chromedp.CSS(`form[action^="/admin/leads/"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	); err != nil {
		t.Fatalf("change the status: %v", err)
	}
	lead, err := store.LeadDetail(t.Context(), ids["Ann Example"], true)
	if err != nil || lead.Status != models.LeadQualified || len(lead.History) != 1 ||
		lead.History[0].Actor != "sales@example.com" || lead.History[0].Note != "Called back, sending the quote today." {
		t.Errorf("after saving: status %q, history %+v (%v); want qualified with the note, by sales@example.com", lead.Status, lead.History, err)
	}
	checkPage(t, ctx, axe, "lead page after a change")

	for _, path := range []string{"/admin/marketing", "/admin?since=not-a-date"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(a.base+path), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		checkPage(t, ctx, axe, path)
	}

	shot := filepath.Join(t.TempDir(), "inbox.png")
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		shot = filepath.Join("..", "..", "docs", "img", "inbox.png")
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 720),
		chromedp.Navigate(a.base+"/admin"),
		chromedp.WaitVisible(chromedp.CSS("ol.leads")),
	); err != nil {
		t.Fatalf("open the list at a desktop width: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot of the lead list: %v", err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatalf("save the screenshot: %v", err)
	}

	// Two years on, the retention policy has erased the leads whose
	// consent does not stand, and emptied the inquiry of Ann, whose
	// confirmed consent does: their pages say so.
	retention := models.Retention{Inquiry: 730 * 24 * time.Hour, DoubleOptIn: true}
	if rep, err := store.Purge(t.Context(), time.Now().Add(731*24*time.Hour), retention, false); err != nil || rep.Inquiries != 1 {
		t.Fatalf("retention purge: %+v, %v; want Ann's inquiry emptied", rep, err)
	}
	for _, l := range []struct{ name, notice string }{
		{"Dev Patel", "This lead's personal data was erased on"},
		{"Ann Example", "The message and details were erased under the retention policy"},
	} {
		if err := chromedp.Do(ctx,
			chromedp.EmulateViewport(375, 800),
			chromedp.Navigate(a.base+"/admin/leads/"+ids[l.name]),
			chromedp.WaitVisible(chromedp.CSS(".notice.erased")),
		); err != nil {
			t.Fatalf("open %s's lead after the purge: %v", l.name, err)
		}
		if notice, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".notice.erased"))); !strings.HasPrefix(notice, l.notice) {
			t.Errorf("%s's lead after the purge says %q, want %q...", l.name, notice, l.notice)
		}
		checkPage(t, ctx, axe, l.name+"'s lead page after the purge")
	}
}
