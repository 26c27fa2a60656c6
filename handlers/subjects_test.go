package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// TestSubjectRequestValidation: a request's body must name one address;
// everything else is a 422 that names the field and changes nothing.
func TestSubjectRequestValidation(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	admin := app.apiToken(t, "dpo", models.RoleAdmin)
	app.submitLead(t, "ann@example.com", false)
	before := app.counts(t)
	for _, path := range []string{"/api/v1/subjects/access", "/api/v1/subjects/erase", "/api/v1/suppressions"} {
		for _, tt := range []struct{ body, field string }{
			{`not json`, "body"},
			{`["ann@example.com"]`, "body"},
			{`{}`, "email"},
			{`{"email": null}`, "email"},
			{`{"email": 42}`, "email"},
			{`{"email": "not an address"}`, "email"},
			{`{"email": "Ann <ann@example.com>"}`, "email"},
			{`{"email": "ann@example.com", "name": "Ann"}`, "name"},
		} {
			res := app.api(t, http.MethodPost, path, admin, []byte(tt.body))
			var out struct {
				Error  string            `json:"error"`
				Fields map[string]string `json:"fields"`
			}
			if res.status != http.StatusUnprocessableEntity || json.Unmarshal([]byte(res.body), &out) != nil ||
				out.Error != "validation" || out.Fields[tt.field] == "" {
				t.Errorf("POST %s %s: got %v, want 422 naming %s", path, tt.body, res, tt.field)
			}
		}
	}
	if after := app.counts(t); after != before {
		t.Errorf("refused requests changed rows: %+v -> %+v", before, after)
	}
}

// TestSubjectAccessAndErasureAPI: access answers everything held about an
// address (and writes an audit entry naming its keyed hash, never the
// address); erasure answers what it did, then zeros; an unknown address
// answers like an erased one.
func TestSubjectAccessAndErasureAPI(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	admin := app.apiToken(t, "dpo", models.RoleAdmin)
	first := app.submitLead(t, "ann@example.com", true)
	app.submitLead(t, "ann@example.com", false)
	bob := app.submitLead(t, "bob@example.com", false)

	n := app.auditCount(t)
	res := app.api(t, http.MethodPost, "/api/v1/subjects/access", admin, []byte(`{"email": "ANN@example.com"}`))
	var acc struct {
		Email string `json:"email"`
		Leads []struct {
			ID      string            `json:"id"`
			Email   string            `json:"email"`
			Consent []json.RawMessage `json:"consent"`
			Emails  []json.RawMessage `json:"emails"`
		} `json:"leads"`
		Suppressed bool `json:"suppressed"`
	}
	if res.status != http.StatusOK || json.Unmarshal([]byte(res.body), &acc) != nil {
		t.Fatalf("access: %v", res)
	}
	if acc.Email != "ann@example.com" || len(acc.Leads) != 2 || acc.Leads[0].ID != first.PublicID ||
		len(acc.Leads[0].Consent) != 2 || len(acc.Leads[0].Emails) != 2 || acc.Suppressed {
		t.Errorf("access answer: %s", res.body)
	}
	if strings.Contains(res.body, bob.PublicID) || strings.Contains(res.body, first.OptOutToken) {
		t.Errorf("access answer holds another person's lead or a link token: %s", res.body)
	}
	lines := auditLines(app.auditSince(t, n))
	if len(lines) != 1 || lines[0].Action != models.AuditSubjectAccess || lines[0].Actor != "dpo" ||
		!strings.HasPrefix(lines[0].Target, "subject:") || strings.Contains(lines[0].Target, "ann") {
		t.Errorf("audit of the access: %+v", lines)
	}

	res = app.api(t, http.MethodPost, "/api/v1/subjects/erase", admin, []byte(`{"email": "ann@example.com"}`))
	checkJSON(t, res, http.StatusOK, `{"erased_leads": 2, "cancelled_emails": 3}`)
	for _, again := range []string{`{"email": "ann@example.com"}`, `{"email": "nobody@example.com"}`} {
		res = app.api(t, http.MethodPost, "/api/v1/subjects/erase", admin, []byte(again))
		checkJSON(t, res, http.StatusOK, `{"erased_leads": 0, "cancelled_emails": 0}`)
	}
	if got := app.columnsHolding(t, "ann@example.com"); len(got) > 0 {
		t.Errorf("after the erasure the database still holds the address in %v", got)
	}
	res = app.api(t, http.MethodGet, "/api/v1/leads", admin, nil)
	if res.status != http.StatusOK || strings.Contains(res.body, first.PublicID) || !strings.Contains(res.body, bob.PublicID) {
		t.Errorf("lead list after the erasure: %v", res)
	}
	res = app.api(t, http.MethodPost, "/api/v1/subjects/access", admin, []byte(`{"email": "ann@example.com"}`))
	checkJSON(t, res, http.StatusOK, `{"email": "ann@example.com", "leads": [], "suppressed": false}`)
	res = app.api(t, http.MethodPatch, "/api/v1/leads/"+first.PublicID, admin, []byte(`{"note": "Ann called again."}`))
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `"note":`) {
		t.Errorf("a note on the erased lead: %v, want 422 naming note", res)
	}
}

// TestSuppressionAPI: an address suppressed by phone is withdrawn at once
// and stays so when it first writes in later; suppressing again is 200.
func TestSuppressionAPI(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	admin := app.apiToken(t, "dpo", models.RoleAdmin)
	res := app.api(t, http.MethodPost, "/api/v1/suppressions", admin, []byte(`{"email": "carol@example.com"}`))
	checkJSON(t, res, http.StatusCreated, `{"suppressed": true}`)
	res = app.api(t, http.MethodPost, "/api/v1/suppressions", admin, []byte(`{"email": "Carol@Example.com"}`))
	checkJSON(t, res, http.StatusOK, `{"suppressed": true}`)
	if got := app.columnsHolding(t, "carol@example.com"); len(got) > 0 {
		t.Errorf("a suppression of an unknown address stored it in %v", got)
	}
	lead := app.submitLead(t, "carol@example.com", false)
	res = app.api(t, http.MethodGet, "/api/v1/leads/"+lead.PublicID, admin, nil)
	if !strings.Contains(res.body, `"marketing":{"state":"withdrawn"`) {
		t.Errorf("the suppressed address's first lead: %v, want marketing withdrawn", res)
	}
}

// privacyToken is the token of a privacy link sent to lead at issued.
func (a *testApp) privacyToken(lead models.Lead, issued time.Time) string {
	return models.PrivacyToken(a.privacyKey, lead.PublicID, issued)
}

// TestPrivacyRequestPage: the form, its errors, and the answer that is the
// same for an address that is held and one that is not; a link is queued
// for the first only.
func TestPrivacyRequestPage(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withRateLimit(3))
	lead := app.submitLead(t, "ann@example.com", false)
	if res := app.get(t, "/privacy"); res.status != http.StatusOK || !strings.Contains(res.body, `name="email"`) {
		t.Fatalf("GET /privacy: %v", res)
	}
	res := app.postForm(t, "/privacy", "email=not-an-address", nil)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `value="not-an-address"`) ||
		!strings.Contains(res.body, `id="email-error"`) {
		t.Errorf("bad address: %v, want 422 with the error beside the kept value", res)
	}
	known := app.postForm(t, "/privacy", "email="+url.QueryEscape("ann@example.com"), nil)
	unknown := app.postForm(t, "/privacy", "email="+url.QueryEscape("zed@example.com"), nil)
	if known.status != http.StatusOK || unknown.status != http.StatusOK {
		t.Fatalf("known %v, unknown %v; want 200 both", known, unknown)
	}
	a := strings.ReplaceAll(withoutRequestID(t, known), "ann@example.com", "ADDRESS")
	b := strings.ReplaceAll(withoutRequestID(t, unknown), "zed@example.com", "ADDRESS")
	if a != b {
		t.Errorf("the answers tell a known address from an unknown one:\n%s\n---\n%s", a, b)
	}
	// The link is queued in the background.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var links []models.OutboxMessage
		for _, m := range app.allOutbox(t) {
			if m.Kind == models.KindPrivacyLink {
				links = append(links, m)
			}
		}
		if len(links) == 1 && links[0].LeadID == lead.ID {
			break
		}
		if len(links) > 1 || time.Now().After(deadline) {
			t.Fatalf("privacy links queued: %+v; want one, to ann's lead", links)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if res := app.postForm(t, "/privacy", "email=zed%40example.com", nil); res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" {
		t.Errorf("fourth request within the minute: %v, want 429 with Retry-After", res)
	}
}

// TestPrivacyPage: the emailed link shows what is held and offers three
// actions; GET changes nothing; a forged, expired or erased link is the
// uniform 404.
func TestPrivacyPage(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", true)
	app.submitLead(t, "bob@example.com", false)
	path := "/privacy/" + app.privacyToken(lead, time.Now())

	app.scan(t, path, http.StatusOK)
	res := app.get(t, path)
	for _, want := range []string{"ann@example.com", lead.Name, "Download my data", "Stop marketing emails", "Erase my data"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("privacy page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "bob@example.com") {
		t.Errorf("privacy page shows another person's lead")
	}
	if rp := res.header.Get("Referrer-Policy"); rp != "no-referrer" {
		t.Errorf("Referrer-Policy = %q, want no-referrer (the token is in the URL)", rp)
	}
	for name, p := range map[string]string{
		"forged":       "/privacy/" + strings.Replace(app.privacyToken(lead, time.Now()), lead.PublicID, "x"+lead.PublicID[1:], 1),
		"expired":      "/privacy/" + app.privacyToken(lead, time.Now().Add(-25*time.Hour)),
		"another key":  "/privacy/" + models.PrivacyToken([]byte("another key, another installation"), lead.PublicID, time.Now()),
		"no such lead": "/privacy/" + models.PrivacyToken(app.privacyKey, "nosuchlead", time.Now()),
		"opt-out":      "/privacy/" + lead.OptOutToken,
	} {
		if res := app.get(t, p); res.status != http.StatusNotFound || !strings.Contains(res.body, "Link not recognised") {
			t.Errorf("%s link: %v, want the uniform 404", name, res)
		}
	}

	n := app.auditCount(t)
	res = app.postForm(t, path, "action=download", nil)
	var data struct {
		Email string `json:"email"`
		Leads []struct {
			ID string `json:"id"`
		} `json:"leads"`
	}
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Disposition"), `attachment; filename="my-data-`) ||
		json.Unmarshal([]byte(res.body), &data) != nil || data.Email != "ann@example.com" || len(data.Leads) != 1 || data.Leads[0].ID != lead.PublicID {
		t.Errorf("download: %v", res)
	}
	res = app.postForm(t, path, "action=withdraw", nil)
	if res.status != http.StatusOK || app.marketingState(t, "ann@example.com") != models.StateWithdrawn {
		t.Errorf("stop marketing: %v, state %s", res, app.marketingState(t, "ann@example.com"))
	}
	res = app.postForm(t, path, "action=erase", nil)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Nothing was erased") {
		t.Errorf("erase without the box ticked: %v, want 422 and nothing erased", res)
	}
	if res := app.postForm(t, path, "action=burn", nil); res.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown action: %v, want 422", res)
	}
	if got := app.columnsHolding(t, "ann@example.com"); len(got) == 0 {
		t.Fatalf("the address is gone before the erasure was confirmed")
	}
	res = app.postForm(t, path, "action=erase&understood=yes", nil)
	if res.status != http.StatusOK || !strings.Contains(res.body, "Your data is erased") {
		t.Errorf("erase: %v", res)
	}
	if got := app.columnsHolding(t, "ann@example.com"); len(got) > 0 {
		t.Errorf("after erasing from the privacy page the address is still in %v", got)
	}
	if res := app.get(t, path); res.status != http.StatusNotFound {
		t.Errorf("the link after the erasure: %v, want 404", res)
	}
	var actions []string
	for _, l := range auditLines(app.auditSince(t, n)) {
		actions = append(actions, l.Action)
		if l.IP != "" || strings.Contains(l.Target, "ann") || l.Actor == "" {
			t.Errorf("self-service audit entry %+v: want an actor, a keyed hash, no IP", l)
		}
	}
	if want := []string{models.AuditSubjectAccess, models.AuditSubjectSuppress, models.AuditSubjectErase}; strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Errorf("audit actions %v, want %v", actions, want)
	}
	// A new submission after the erasure does not revive the old link.
	app.submitLead(t, "ann@example.com", false)
	if res := app.get(t, path); res.status != http.StatusNotFound {
		t.Errorf("the old link after the address wrote in again: %v, want 404", res)
	}
	if erased, err := app.store.ErasedSince(context.Background(), "ann@example.com", time.Now().Add(-time.Minute)); err != nil || !erased {
		t.Errorf("ErasedSince: %v, %v", erased, err)
	}
}
