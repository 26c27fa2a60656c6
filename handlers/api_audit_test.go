package handlers_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/internal/testlog"
	"github.com/leadbox/leadbox/models"
)

// TestAPIAuditsReads: every read of personal data and every change leaves
// an audit entry with the token's name, the action, ids or the filter's
// shape (never a search term), and the client's IP as the trusted proxies
// tell it; refused and failed requests leave none.
func TestAPIAuditsReads(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withRateLimit(0))
	sales := app.apiToken(t, "crm-sync", models.RoleSales)
	admin := app.apiToken(t, "ops", models.RoleAdmin)
	id := app.newLead(t, map[string]any{"email": "ann@example.com", "marketing_consent": true})
	app.newLead(t, map[string]any{"email": "bob@example.com", "name": "Bob"})
	forged := http.Header{"Authorization": {"Bearer " + sales}, "X-Forwarded-For": {"203.0.113.9"}}
	start := app.auditCount(t)

	get := func(path string) response {
		t.Helper()
		res := app.do(t, http.MethodGet, path, "", nil, forged)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: got %v", path, res)
		}
		return res
	}
	get("/api/v1/leads?q=" + url.QueryEscape("ann@example.com") + "&status=new")
	get("/api/v1/leads?since=2026-12-01T10:00:00%2B01:00&marketing=pending&form=contact&spam=false&limit=5")
	_, next := leadIDs(t, get("/api/v1/leads?limit=1"))
	get("/api/v1/leads?limit=1&cursor=" + *next)
	get("/api/v1/leads/" + id)
	get("/api/v1/leads.csv?q=Ann&until=2030-01-01") // a date: up to the end of that day
	get("/api/v1/marketing.csv")
	if res := app.do(t, http.MethodPatch, "/api/v1/leads/"+id, "application/json", []byte(`{"status":"contacted","note":"Ann called back"}`), forged); res.status != http.StatusOK {
		t.Fatalf("PATCH: %v", res)
	}
	// Neither a refusal, a bad request nor an unknown lead reads anything.
	app.do(t, http.MethodGet, "/api/v1/audit", "", nil, forged)
	app.do(t, http.MethodGet, "/api/v1/leads?limit=0", "", nil, forged)
	app.do(t, http.MethodGet, "/api/v1/leads/nope", "", nil, forged)
	app.do(t, http.MethodPatch, "/api/v1/leads/"+id, "application/json", []byte(`{"status":"bogus"}`), forged)
	if res := app.api(t, http.MethodGet, "/api/v1/audit?limit=1", admin, nil); res.status != http.StatusOK {
		t.Fatalf("GET /api/v1/audit: %v", res)
	}

	got := auditLines(app.auditSince(t, start))
	const ip = "127.0.0.1" // X-Forwarded-For from a client that is not a trusted proxy is ignored
	want := []auditLine{
		{"crm-sync", "leads.list", "leads?q&status=new&limit=50", ip},
		{"crm-sync", "leads.list", "leads?form=contact&marketing=pending&since=2026-12-01T09:00:00Z&limit=5", ip},
		{"crm-sync", "leads.list", "leads?limit=1", ip},
		{"crm-sync", "leads.list", "leads?limit=1&cursor", ip},
		{"crm-sync", "lead.read", "lead:" + id, ip},
		{"crm-sync", "leads.export", "leads?q&until=2030-01-02T00:00:00Z", ip},
		{"crm-sync", "marketing.export", "marketing", ip},
		{"crm-sync", "lead.update", "lead:" + id, ip},
		{"ops", "audit.read", "audit", ip},
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit entries\n got %+v\nwant %+v", got, want)
	}
	for _, e := range app.auditSince(t, 0) {
		if line := fmt.Sprint(e); strings.Contains(line, "ann") || strings.Contains(line, "Ann") || strings.Contains(line, "example.com") {
			t.Errorf("audit entry holds personal data: %+v", e)
		}
	}
}

// TestAPIAuditLog: the audit log newest first, a page at a time, in the
// contract's fields.
func TestAPIAuditLog(t *testing.T) {
	t.Parallel()
	clock := newTestClock("2026-12-01T09:30:00Z")
	app := newTestServer(t, withClock(clock.now))
	admin := app.apiToken(t, "ops", models.RoleAdmin) // entry 1: token.create by cli
	id := app.newLead(t, nil)
	app.api(t, http.MethodGet, "/api/v1/leads/"+id, admin, nil) // entry 2
	clock.advance(time.Minute)

	res := app.api(t, http.MethodGet, "/api/v1/audit?limit=1", admin, nil) // reads 2, appends 3
	var page struct {
		Entries []map[string]string `json:"entries"`
		Next    *string             `json:"next_cursor"`
	}
	decodeJSON(t, res, &page)
	if page.Next == nil {
		t.Fatalf("first page of 1 of 2 entries has no next_cursor: %s", res.body)
	}
	checkJSON(t, res, http.StatusOK, `{"entries":[{"at":"2026-12-01T09:30:00Z","actor":"ops","action":"lead.read",
		"target":"lead:`+id+`","ip":"127.0.0.1"}],"next_cursor":"`+*page.Next+`"}`)

	res = app.api(t, http.MethodGet, "/api/v1/audit?limit=1&cursor="+*page.Next, admin, nil)
	decodeJSON(t, res, &page)
	if len(page.Entries) != 1 || page.Entries[0]["action"] != models.AuditTokenCreate || page.Entries[0]["actor"] != models.CLIActor ||
		page.Entries[0]["target"] != "token:ops" || page.Next != nil {
		t.Errorf("second page: got %s, want the token.create entry and no next_cursor", res.body)
	}
	// The newest entries are the reads of the log itself.
	res = app.api(t, http.MethodGet, "/api/v1/audit?limit=2", admin, nil)
	decodeJSON(t, res, &page)
	if len(page.Entries) != 2 || page.Entries[0]["action"] != "audit.read" || page.Entries[0]["target"] != "audit?cursor" ||
		page.Entries[1]["action"] != "audit.read" || page.Entries[1]["at"] != "2026-12-01T09:31:00Z" {
		t.Errorf("newest entries: got %s, want the two reads of the log, newest first", res.body)
	}
}

// TestAPILogsNoPersonalData: the access log and every other log line name
// the route pattern, never the path (a lead's id) or the query (a search
// term), and never the token or anything a lead or a note says.
func TestAPILogsNoPersonalData(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	app := newTestServer(t, withLog(slog.New(slog.NewJSONHandler(logs, nil))))
	token := app.apiToken(t, "crm", models.RoleSales)
	id := app.newLead(t, map[string]any{"email": "ann@example.com"})
	app.api(t, http.MethodGet, "/api/v1/leads?q="+url.QueryEscape("ann@example.com"), token, nil)
	app.api(t, http.MethodGet, "/api/v1/leads/"+id, token, nil)
	app.api(t, http.MethodPatch, "/api/v1/leads/"+id, token, []byte(`{"note":"Secret deal with Ann"}`))
	app.api(t, http.MethodGet, "/api/v1/leads.csv?q=Acme", token, nil)
	app.api(t, http.MethodGet, "/api/v1/leads?since=nonsense-ann", token, nil)
	app.api(t, http.MethodGet, "/api/v1/leads/"+id, "lbx_wrong-token-ann", nil)

	out := logs.String()
	for _, secret := range []string{"ann@example.com", "ann%40", "Ann", "Acme", "Secret deal", "nonsense", id, token, "lbx_wrong", "q="} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
	for _, route := range []string{`"route":"/api/v1/leads/:id"`, `"route":"/api/v1/leads"`, `"route":"/api/v1/leads.csv"`} {
		if !strings.Contains(out, route) {
			t.Errorf("the log has no line for %s:\n%s", route, out)
		}
	}
}
