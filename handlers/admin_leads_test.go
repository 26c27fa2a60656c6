package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// leadLinkRe finds the leads a list page links to, in order.
var leadLinkRe = regexp.MustCompile(`<a class="name" href="/admin/leads/([a-z0-9]+)">`)

func listedIDs(page string) []string {
	var ids []string
	for _, m := range leadLinkRe.FindAllStringSubmatch(page, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

var olderRe = regexp.MustCompile(`<a href="([^"]*)" rel="next">`)

// submitAs posts a valid lead from name and email with fields changed.
func (a *testApp) submitAs(t *testing.T, name, email string, set map[string]any) models.Lead {
	t.Helper()
	fields := with(validFields(), map[string]any{"name": name, "email": email})
	res := a.post(t, urlencoded, with(fields, set), nil)
	if res.status != http.StatusSeeOther {
		t.Fatalf("POST /contact from %s: %v, want 303", email, res)
	}
	return a.lastLead(t).lead
}

// TestInboxLeadList: the list shows the newest first, finds leads by a
// piece of their name, email, company or message, filters by status,
// marketing state and date, and pages by keyset; each view is audited
// without the search term.
func TestInboxLeadList(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	app := newTestServer(t, withRateLimit(0), withDuplicateWindow(0), withClock(func() time.Time { return now }))
	var ids []string // oldest first
	for i := range 53 {
		l := app.submitAs(t, fmt.Sprintf("Person %02d", i), fmt.Sprintf("p%02d@example.com", i), nil)
		ids = append(ids, l.PublicID)
	}
	now = now.Add(48 * time.Hour) // 2026-03-04
	zed := app.submitAs(t, "Zed Quinn", "zed@example.org", map[string]any{
		"company": "Blue Heron Ltd", "message": "We need 40 widgets by Friday.", "marketing_consent": "on",
	})
	ids = append(ids, zed.PublicID)
	u := app.signedIn(t, "sales@example.com", models.RoleSales)

	first := u.get(t, "/admin")
	got := listedIDs(first.body)
	if first.status != http.StatusOK || len(got) != 50 {
		t.Fatalf("GET /admin: %d, %d leads listed; want 200 and 50", first.status, len(got))
	}
	if got[0] != zed.PublicID || got[1] != ids[52] {
		t.Errorf("first page starts %v, want the newest first (%s, %s)", got[:2], zed.PublicID, ids[52])
	}
	m := olderRe.FindStringSubmatch(first.body)
	if m == nil {
		t.Fatalf("first page has no link to older leads")
	}
	// A lead arriving meanwhile neither repeats nor pushes one off.
	app.submitAs(t, "Late Comer", "late@example.com", nil)
	second := u.get(t, strings.ReplaceAll(m[1], "&amp;", "&"))
	got2 := listedIDs(second.body)
	if want := []string{ids[3], ids[2], ids[1], ids[0]}; strings.Join(got2, ",") != strings.Join(want, ",") {
		t.Errorf("second page lists %v, want %v", got2, want)
	}
	if olderRe.MatchString(second.body) {
		t.Errorf("the last page links to older leads")
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"q=zed%40EXAMPLE.org", []string{zed.PublicID}},
		{"q=heron", []string{zed.PublicID}},
		{"q=40+widgets", []string{zed.PublicID}},
		{"q=Person+07", []string{ids[7]}},
		{"q=nobody-matches-this", nil},
		{"marketing=pending", []string{zed.PublicID}},
		{"since=2026-03-04", []string{"late", zed.PublicID}},
		{"until=2026-03-02&q=Person+0", nil}, // checked by count below
	} {
		res := u.get(t, "/admin?"+tc.query)
		if res.status != http.StatusOK {
			t.Errorf("GET /admin?%s: %v", tc.query, res)
			continue
		}
		got := listedIDs(res.body)
		switch {
		case strings.HasPrefix(tc.query, "until"):
			if len(got) != 10 {
				t.Errorf("GET /admin?%s lists %d leads, want Person 00 to 09", tc.query, len(got))
			}
		case strings.HasPrefix(tc.query, "since"):
			if len(got) != 2 || got[1] != zed.PublicID {
				t.Errorf("GET /admin?%s lists %v, want the late lead and Zed", tc.query, got)
			}
		case strings.Join(got, ",") != strings.Join(tc.want, ","):
			t.Errorf("GET /admin?%s lists %v, want %v", tc.query, got, tc.want)
		}
	}
	if res := u.get(t, "/admin?q=nobody-matches-this"); !strings.Contains(res.body, "No lead matches your search") {
		t.Errorf("an empty search result does not say so:\n%s", res.body)
	}
	for _, q := range []string{"since=yesterday", "status=closed", "marketing=maybe", "since=2026-03-05&until=2026-03-01"} {
		res := u.get(t, "/admin?"+q)
		if res.status != http.StatusUnprocessableEntity || len(listedIDs(res.body)) != 0 || !strings.Contains(res.body, `class="error"`) {
			t.Errorf("GET /admin?%s: %v, want 422 with the problem beside the field and no leads", q, res)
		}
	}

	// Every list read is in the audit log, by id, without what was
	// searched for.
	entries := app.auditActions(t)
	lists := 0
	for _, e := range entries {
		if e == "sales@example.com leads.list leads" {
			lists++
		}
	}
	if lists < 10 {
		t.Errorf("audit log has %d list reads, want one per list shown; log: %q", lists, entries)
	}
	for _, needle := range []string{"heron", "zed@example.org", "widgets", "Person"} {
		for _, col := range app.columnsHolding(t, needle) {
			if strings.HasPrefix(col, "audit_log.") {
				t.Errorf("the audit log holds %q in %s", needle, col)
			}
		}
	}
}

// TestInboxLeadPage: a lead's page shows what they sent, their consent
// timeline with the wording shown, and the emails; the form changes the
// status and adds a note, as the user, and only with the page's token.
func TestInboxLeadPage(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitAs(t, "Zed <Quinn>", "zed@example.org", map[string]any{
		"company": "Blue Heron Ltd", "message": "Line one,\nline \"two\".", "marketing_consent": "on",
	})
	u := app.signedIn(t, "sales@example.com", models.RoleSales)
	path := "/admin/leads/" + lead.PublicID

	page := u.get(t, path)
	if page.status != http.StatusOK {
		t.Fatalf("GET %s: %v", path, page)
	}
	if !strings.Contains(page.body, "Zed &lt;Quinn&gt;") || strings.Contains(page.body, "<Quinn>") {
		t.Errorf("lead page does not show the name escaped")
	}
	text := html.UnescapeString(page.body)
	for _, want := range []string{
		"Zed <Quinn>", "zed@example.org", "Blue Heron Ltd", "+48 (12) 345-67.89",
		"Line one,\nline \"two\".", "Consent given", "127.0.0.1", testUserAgent,
		app.cfg.ConsentText, "Waiting for email confirmation",
		"Notification to sales", "Confirmation request to the lead", "Waiting to be sent",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lead page lacks %q", want)
		}
	}
	if strings.Contains(page.body, lead.OptOutToken) || strings.Contains(page.body, *lead.ConfirmToken) {
		t.Errorf("lead page shows a link token")
	}
	token := csrfOf(t, page.body)
	history := func() []models.HistoryEntry {
		var hs []models.HistoryEntry
		if err := app.store.DB().WithContext(context.Background()).Where("lead_id = ?", lead.ID).Order("id").Find(&hs).Error; err != nil {
			t.Fatalf("read history: %v", err)
		}
		return hs
	}

	// Without the page's token nothing changes: no token, a made-up one,
	// and another user's.
	other := app.signedIn(t, "other@example.com", models.RoleSales)
	otherToken := csrfOf(t, other.get(t, "/admin").body)
	for _, bad := range []string{"", "made-up", otherToken} {
		res := u.do(t, http.MethodPost, path, url.Values{"status": {"won"}, "note": {"forged"}, "csrf": {bad}})
		if res.status != http.StatusForbidden || !strings.Contains(res.body, "This form has expired") {
			t.Errorf("POST %s with csrf %q: %v, want 403", path, bad, res)
		}
		checkAdminHeaders(t, "refused change", res)
	}
	if st := app.lastLead(t).lead.Status; st != models.LeadNew || len(history()) != 0 {
		t.Fatalf("after refused posts: status %q, history %v; want new and none", st, history())
	}

	res := u.do(t, http.MethodPost, path, url.Values{"status": {"contacted"}, "note": {"  Called, will send a quote.  "}, "csrf": {token}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != path+"?saved=1" {
		t.Fatalf("POST %s: %v, Location %q; want 303 back to the lead", path, res, res.header.Get("Location"))
	}
	if st := app.lastLead(t).lead.Status; st != models.LeadContacted {
		t.Errorf("stored status %q, want contacted", st)
	}
	hs := history()
	if len(hs) != 1 || hs[0].Actor != "sales@example.com" || hs[0].Status != "contacted" || hs[0].Note != "Called, will send a quote." {
		t.Errorf("history %+v, want one entry by sales@example.com: contacted, the note trimmed", hs)
	}
	after := u.get(t, path+"?saved=1")
	for _, want := range []string{"Your change is saved.", "Called, will send a quote.", "Status set to <strong>Contacted</strong>", `<option value="contacted" selected>`} {
		if !strings.Contains(after.body, want) {
			t.Errorf("lead page after the change lacks %q", want)
		}
	}

	// A note alone, then the same status again with no note: the second
	// writes nothing.
	u.do(t, http.MethodPost, path, url.Values{"status": {"contacted"}, "note": {"Sent the quote."}, "csrf": {token}})
	if res := u.do(t, http.MethodPost, path, url.Values{"status": {"contacted"}, "note": {""}, "csrf": {token}}); res.status != http.StatusSeeOther {
		t.Errorf("post with nothing changed: %v, want 303", res)
	}
	if hs := history(); len(hs) != 2 || hs[1].Status != "" || hs[1].Note != "Sent the quote." {
		t.Errorf("history %+v, want a second entry with the note only", hs)
	}

	for _, form := range []url.Values{
		{"status": {"closed"}, "csrf": {token}},
		{"status": {"won"}, "note": {strings.Repeat("x", models.MaxNote+1)}, "csrf": {token}},
		{"status": {"won"}, "note": {"bell\a"}, "csrf": {token}},
	} {
		res := u.do(t, http.MethodPost, path, form)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `class="error"`) {
			t.Errorf("POST %v: %v, want 422 with the problem beside the field", form, res)
		}
	}
	if st := app.lastLead(t).lead.Status; st != models.LeadContacted || len(history()) != 2 {
		t.Errorf("invalid posts changed the lead: status %q, history %d", st, len(history()))
	}
	if res := u.do(t, http.MethodPost, "/admin/leads/nosuchlead", url.Values{"status": {"won"}, "csrf": {token}}); res.status != http.StatusNotFound {
		t.Errorf("POST to an unknown lead: %v, want 404", res)
	}

	entries := app.auditActions(t)
	for _, want := range []string{
		"sales@example.com lead.read lead:" + lead.PublicID,
		"sales@example.com lead.update lead:" + lead.PublicID,
	} {
		if !contains(entries, want) {
			t.Errorf("audit log lacks %q: %q", want, entries)
		}
	}
}

// TestInboxLeadPageNamesPrivacyWork: a privacy link emailed to the lead
// and a stop-marketing pressed on their privacy page are said in words on
// the lead's page, the link as sent to the lead, not to sales.
func TestInboxLeadPageNamesPrivacyWork(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", true)
	ctx := context.Background()
	if queued, err := app.store.QueuePrivacyLink(ctx, "ann@example.com", time.Now()); err != nil || !queued {
		t.Fatalf("QueuePrivacyLink: queued %v, %v; want queued", queued, err)
	}
	o := models.Origin{Actor: "data subject (privacy link)", At: time.Now()}
	if _, err := app.store.Suppress(ctx, "ann@example.com", models.MethodPrivacyPage, o); err != nil {
		t.Fatalf("Suppress: %v", err)
	}
	u := app.signedIn(t, "sales@example.com", models.RoleSales)
	page := u.get(t, "/admin/leads/"+lead.PublicID)
	if page.status != http.StatusOK {
		t.Fatalf("GET the lead: %v", page)
	}
	text := html.UnescapeString(page.body)
	if !regexp.MustCompile(`(?s)Privacy link to the lead</strong>.*?<dt>To</dt><dd>ann@example.com</dd>`).MatchString(text) {
		t.Errorf("the lead page does not show the privacy link as an email to the lead:\n%s", text)
	}
	if !strings.Contains(text, "through the person's privacy page") {
		t.Errorf("the lead page does not name the privacy page as where consent was withdrawn:\n%s", text)
	}
	for _, raw := range []string{"privacy_link", "privacy_page", "the sales team (LEADBOX_SALES_TO)"} {
		if strings.Contains(text, raw) {
			t.Errorf("the lead page shows %q", raw)
		}
	}
}

// tagRe matches an HTML tag, and spaceRe a run of white space.
var (
	tagRe   = regexp.MustCompile(`<[^>]*>`)
	spaceRe = regexp.MustCompile(`\s+`)
)

// pageText is what a person reads on page: the tags dropped, the entities
// undone and the white space folded.
func pageText(page string) string {
	return strings.TrimSpace(spaceRe.ReplaceAllString(html.UnescapeString(tagRe.ReplaceAllString(page, " ")), " "))
}

// TestInboxErasedLeadPage: the page of a lead whose personal data was
// erased says so and when, instead of showing empty fields; it keeps the
// status, which can still change, and takes no notes (a note about the
// person would be personal data again).
func TestInboxErasedLeadPage(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitAs(t, "Zed Quinn", "zed@example.org", map[string]any{
		"company": "Blue Heron Ltd", "message": "Our secret expansion plans.", "marketing_consent": "on",
	})
	u := app.signedIn(t, "sales@example.com", models.RoleSales)
	path := "/admin/leads/" + lead.PublicID
	token := csrfOf(t, u.get(t, path).body)
	for _, form := range []url.Values{
		{"status": {"contacted"}, "note": {"Zed wants a call on Monday."}, "csrf": {token}},
		{"status": {"contacted"}, "note": {"Zed's budget is 40k."}, "csrf": {token}},
	} {
		if res := u.do(t, http.MethodPost, path, form); res.status != http.StatusSeeOther {
			t.Fatalf("POST %s: %v, want 303", path, res)
		}
	}
	erasedAt := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	if _, err := app.store.EraseSubject(context.Background(), "zed@example.org", models.Origin{Actor: "dpo", At: erasedAt}); err != nil {
		t.Fatalf("EraseSubject: %v", err)
	}

	page := u.get(t, path)
	if page.status != http.StatusOK {
		t.Fatalf("GET %s after the erasure: %v", path, page)
	}
	text := pageText(page.body)
	for _, want := range []string{
		"This lead's personal data was erased on 2026-12-01 10:30 UTC (a data-subject request or the retention policy); only its time, form and status are kept.",
		"Erased lead", "Form contact", "Lead id " + lead.PublicID, "Contacted", "Status set to Contacted", "Note erased.",
		"Notes cannot be added to an erased lead",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the erased lead's page lacks %q:\n%s", want, text)
		}
	}
	for _, gone := range []string{"Zed", "zed@example.org", "Blue Heron", "secret", "40k", "Marketing consent", "Notification to sales", `id="note"`} {
		if strings.Contains(page.body, gone) {
			t.Errorf("the erased lead's page shows %q", gone)
		}
	}
	if !strings.Contains(page.body, `<title>Erased lead ·`) || !strings.Contains(page.body, `<time datetime="2026-12-01T10:30:00Z">`) {
		t.Errorf("the erased lead's page lacks its title or the erasure's machine-readable time")
	}

	// The status still changes; a note is refused, whoever sends one (a
	// page opened before the erasure still has the field).
	if res := u.do(t, http.MethodPost, path, url.Values{"status": {"lost"}, "csrf": {token}}); res.status != http.StatusSeeOther {
		t.Fatalf("status change on the erased lead: %v, want 303", res)
	}
	res := u.do(t, http.MethodPost, path, url.Values{"status": {"won"}, "note": {"Zed called back."}, "csrf": {token}})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(pageText(res.body), "Your note was not saved: this lead's personal data was erased") {
		t.Errorf("a note on the erased lead: %v, want 422 saying it was not saved", res)
	}
	d, err := app.store.LeadDetail(context.Background(), lead.PublicID, app.cfg.DoubleOptIn)
	if err != nil {
		t.Fatalf("LeadDetail: %v", err)
	}
	last := d.History[len(d.History)-1]
	if d.Status != models.LeadLost || len(d.History) != 3 || last.Status != models.LeadLost || last.Note != "" {
		t.Errorf("after the posts: status %q, history %+v; want lost, with the status change and no note", d.Status, d.History)
	}
}

// TestInboxLeadPageAfterRetention: a lead whose message and details the
// retention policy emptied while its address's consent stands says so,
// and why the address is still there; once the consent is withdrawn, it
// says when the address goes.
func TestInboxLeadPageAfterRetention(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitAs(t, "Ann Keeps", "ann@example.com", map[string]any{
		"company": "Blue Heron Ltd", "message": "Old news about widgets.", "marketing_consent": "on",
	})
	if res := app.postForm(t, "/confirm/"+*lead.ConfirmToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("confirm: %v", res)
	}
	retention := models.Retention{Inquiry: 730 * 24 * time.Hour, DoubleOptIn: app.cfg.DoubleOptIn}
	rep, err := app.store.Purge(context.Background(), time.Now().Add(731*24*time.Hour), retention, false)
	if err != nil || rep.Inquiries != 1 || rep.Leads != 0 {
		t.Fatalf("Purge: %+v, %v; want one inquiry emptied and no lead erased", rep, err)
	}
	u := app.signedIn(t, "sales@example.com", models.RoleSales)
	path := "/admin/leads/" + lead.PublicID

	text := pageText(u.get(t, path).body)
	for _, want := range []string{
		"The message and details were erased under the retention policy (LEADBOX_RETENTION); the address is kept because its marketing consent stands.",
		"Ann Keeps", "ann@example.com", "Add a note",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the lead page after retention lacks %q:\n%s", want, text)
		}
	}
	for _, gone := range []string{"Message", "Blue Heron", "widgets", "erased on"} {
		if strings.Contains(text, gone) {
			t.Errorf("the lead page after retention shows %q:\n%s", gone, text)
		}
	}

	if res := app.postForm(t, "/optout/"+lead.OptOutToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("opt out: %v", res)
	}
	text = pageText(u.get(t, path).body)
	if want := "The message and details were erased under the retention policy (LEADBOX_RETENTION); the name and address stay until"; !strings.Contains(text, want) || strings.Contains(text, "consent stands") {
		t.Errorf("the lead page after retention and an opt-out: want %q and no standing consent:\n%s", want, text)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInboxMarketingRole: a marketing user lands on the marketing export,
// may download marketing.csv, and gets 403 for every other page; no
// answer they get shows an inquiry or a phone number.
func TestInboxMarketingRole(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitAs(t, "Zed Quinn", "zed@example.org", map[string]any{
		"message": "Secret inquiry text 4711.", "phone": "+48 600 700 800", "marketing_consent": "on",
	})
	if res := app.postForm(t, "/confirm/"+*lead.ConfirmToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("confirm: %v", res)
	}
	app.submitLead(t, "ann@example.com", false)

	u := app.addInboxUser(t, "mkt@example.com", models.RoleMarketing)
	res := u.signIn(t, "mkt@example.com", inboxPassword)
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin/marketing" {
		t.Fatalf("marketing sign-in: %v, Location %q; want 303 to /admin/marketing", res, res.header.Get("Location"))
	}
	var seen []response
	page := u.get(t, "/admin/marketing")
	seen = append(seen, page)
	if page.status != http.StatusOK || !strings.Contains(page.body, "<strong>1</strong> address may receive marketing") {
		t.Errorf("GET /admin/marketing: %v, want the count of 1", page)
	}
	if strings.Contains(page.body, `href="/admin"`) {
		t.Errorf("the marketing page links to the lead list, which marketing may not see")
	}
	csv := u.get(t, "/admin/marketing.csv")
	seen = append(seen, csv)
	if csv.status != http.StatusOK || !strings.Contains(csv.body, "zed@example.org") || strings.Contains(csv.body, "ann@example.com") {
		t.Errorf("marketing.csv: %v, want Zed only", csv)
	}
	token := csrfOf(t, page.body)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/admin"},
		{"GET", "/admin?q=zed"},
		{"GET", "/admin/leads/" + lead.PublicID},
		{"GET", "/admin/leads.csv"},
		{"POST", "/admin/leads/" + lead.PublicID},
	} {
		var form url.Values
		if tc.method == http.MethodPost {
			form = url.Values{"status": {"won"}, "note": {"by marketing"}, "csrf": {token}}
		}
		res := u.do(t, tc.method, tc.path, form)
		seen = append(seen, res)
		if res.status != http.StatusForbidden || !strings.Contains(res.body, "not open to your role") {
			t.Errorf("marketing %s %s: %v, want the 403 page", tc.method, tc.path, res)
		}
		checkAdminHeaders(t, tc.path, res)
	}
	if l, err := app.store.LeadByPublicID(context.Background(), lead.PublicID); err != nil || l.Status != models.LeadNew {
		t.Errorf("after a marketing user's post the lead is %q (%v), want new", l.Status, err)
	}
	for _, r := range seen {
		for _, secret := range []string{"Secret inquiry text", "600 700 800", "Please call me about a quote"} {
			if strings.Contains(r.body, secret) {
				t.Errorf("a marketing user was shown %q:\n%s", secret, r.body)
			}
		}
	}

	// Sales may use the marketing page too.
	sales := app.signedIn(t, "sales@example.com", models.RoleSales)
	if res := sales.get(t, "/admin/marketing"); res.status != http.StatusOK || !strings.Contains(res.body, `href="/admin"`) {
		t.Errorf("sales GET /admin/marketing: %v, want the page with the lead list in the navigation", res)
	}
}

// TestInboxCSV: the downloads are the contract's bytes: a byte-order
// mark, a header row, CRLF line ends, RFC 4180 quoting with line breaks
// kept as typed, and a ' before anything a spreadsheet would run.
func TestInboxCSV(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 23, 30, 0, 0, time.UTC)
	app := newTestServer(t, withClock(func() time.Time { return now }), withSetting("LEADBOX_TIMEZONE", "Europe/Warsaw"))
	evil := app.submitAs(t, "=HYPERLINK(\"https://evil.example\")", "evil@example.com", map[string]any{
		"company": "@SUM(A1)", "phone": "+48 123", "message": "-2+3,\nsecond \"line\"\nthird",
	})
	plain := app.submitAs(t, "Ann Example", "ann@example.com", map[string]any{"marketing_consent": "on"})
	if res := app.postForm(t, "/confirm/"+*plain.ConfirmToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("confirm: %v", res)
	}
	u := app.signedIn(t, "sales@example.com", models.RoleSales)

	res := u.get(t, "/admin/leads.csv")
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		res.header.Get("Content-Disposition") != `attachment; filename="leads-2026-03-02.csv"` {
		t.Fatalf("leads.csv: %v, Content-Type %q, Content-Disposition %q", res, res.header.Get("Content-Type"), res.header.Get("Content-Disposition"))
	}
	at := "2026-03-02T23:30:00Z"
	want := "\uFEFF" +
		"id,created_at,form,name,email,phone,company,message,page_url,status,marketing_state,marketing_since\r\n" +
		plain.PublicID + "," + at + ",contact,Ann Example,ann@example.com,'+48 (12) 345-67.89,Acme Sp. z o.o.,Please call me about a quote.,,new,given," + at + "\r\n" +
		evil.PublicID + "," + at + ",contact,\"'=HYPERLINK(\"\"https://evil.example\"\")\",evil@example.com,'+48 123,'@SUM(A1),\"'-2+3,\nsecond \"\"line\"\"\nthird\",,new,not_given,\r\n"
	if res.body != want {
		t.Errorf("leads.csv =\n%q\nwant\n%q", res.body, want)
	}
	checkAdminHeaders(t, "leads.csv", res)

	if res := u.get(t, "/admin/leads.csv?marketing=given"); !strings.Contains(res.body, plain.PublicID) || strings.Contains(res.body, evil.PublicID) {
		t.Errorf("leads.csv?marketing=given:\n%s\nwant Ann's lead only", res.body)
	}
	if res := u.get(t, "/admin/leads.csv?since=nonsense"); res.status != http.StatusUnprocessableEntity {
		t.Errorf("leads.csv with a bad filter: %v, want 422", res)
	}

	res = u.get(t, "/admin/marketing.csv")
	ev := app.ledger(t, "ann@example.com")
	wantM := "\uFEFF" +
		"email,name,company,locale,consent_given_at,consent_confirmed_at,consent_wording_sha256,lead_id\r\n" +
		"ann@example.com,Ann Example,Acme Sp. z o.o.,en," + at + "," + at + "," + sha256Hex(app.cfg.ConsentText) + "," + plain.PublicID + "\r\n"
	if len(ev) != 2 || res.body != wantM {
		t.Errorf("marketing.csv =\n%q\nwant\n%q", res.body, wantM)
	}
	if got := res.header.Get("Content-Disposition"); got != `attachment; filename="marketing-2026-03-02.csv"` {
		t.Errorf("marketing.csv Content-Disposition %q", got)
	}

	entries := app.auditActions(t)
	for _, want := range []string{"sales@example.com leads.export leads", "sales@example.com marketing.export marketing"} {
		if !contains(entries, want) {
			t.Errorf("audit log lacks %q: %q", want, entries)
		}
	}
}

// TestInboxReadsNeedTheAuditLog: when the audit entry of a read cannot be
// written, the user gets a 500 and not the data.
func TestInboxReadsNeedTheAuditLog(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitAs(t, "Zed Quinn", "zed@example.org", map[string]any{"marketing_consent": "on"})
	if res := app.postForm(t, "/confirm/"+*lead.ConfirmToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("confirm: %v", res)
	}
	u := app.signedIn(t, "sales@example.com", models.RoleSales)
	// The database itself refuses new audit entries from now on.
	if _, err := app.rawDB(t).ExecContext(context.Background(),
		`CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log refused'); END`); err != nil {
		t.Fatalf("create trigger: %v", err)
	}
	for _, path := range []string{"/admin", "/admin/leads/" + lead.PublicID, "/admin/leads.csv", "/admin/marketing.csv"} {
		res := u.get(t, path)
		if res.status != http.StatusInternalServerError {
			t.Errorf("GET %s with the audit log refusing: %v, want 500", path, res)
		}
		if strings.Contains(res.body, "zed@example.org") || strings.Contains(res.body, "Zed Quinn") {
			t.Errorf("GET %s with the audit log refusing shows the lead:\n%s", path, res.body)
		}
	}
}
