package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// leadIDs decodes a list answer into its leads' ids and its next cursor.
func leadIDs(t *testing.T, r response) (ids []string, next *string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("list: got %v, want 200", r)
	}
	var page struct {
		Leads []struct {
			ID string `json:"id"`
		} `json:"leads"`
		NextCursor *string `json:"next_cursor"`
	}
	decodeJSON(t, r, &page)
	for _, l := range page.Leads {
		ids = append(ids, l.ID)
	}
	return ids, page.NextCursor
}

// TestAPILeadJSON: a lead in the list is exactly the contract's fields,
// times in RFC 3339 UTC, newest first.
func TestAPILeadJSON(t *testing.T) {
	t.Parallel()
	clock := newTestClock("2026-12-01T09:30:00Z")
	app := newTestServer(t, withClock(clock.now))
	token := app.apiToken(t, "crm", models.RoleSales)
	first := app.newLead(t, map[string]any{
		"email": "ann@example.com", "marketing_consent": true,
		"page": "https://www.example.com/pricing?plan=pro", "utm_source": "newsletter", "utm_campaign": "spring",
	})
	clock.advance(90 * time.Minute)
	second := app.newLead(t, map[string]any{"name": "Bob", "email": "bob@example.org", "phone": nil, "company": nil})

	res := app.api(t, http.MethodGet, "/api/v1/leads", token, nil)
	checkJSON(t, res, http.StatusOK, `{"leads":[
		{"id":"`+second+`","created_at":"2026-12-01T11:00:00Z","form":"contact","name":"Bob","email":"bob@example.org",
		 "phone":"","company":"","message":"Please call me about a quote.","extra":{},"page_url":"","utm":{},
		 "locale":"en","status":"new","marketing":{"state":"not_given","since":null},"spam":null,"erased_at":null},
		{"id":"`+first+`","created_at":"2026-12-01T09:30:00Z","form":"contact","name":"Ann Example","email":"ann@example.com",
		 "phone":"+48 (12) 345-67.89","company":"Acme Sp. z o.o.","message":"Please call me about a quote.","extra":{},
		 "page_url":"https://www.example.com/pricing?plan=pro","utm":{"campaign":"spring","source":"newsletter"},
		 "locale":"en","status":"new","marketing":{"state":"pending","since":"2026-12-01T09:30:00Z"},"spam":null,"erased_at":null}
	],"next_cursor":null}`)
}

// TestAPILeadDetail: one lead with its person's consent ledger (oldest
// first, with the wording and its hash), its emails and its history.
func TestAPILeadDetail(t *testing.T) {
	t.Parallel()
	clock := newTestClock("2026-12-01T09:30:00Z")
	app := newTestServer(t, withClock(clock.now))
	token := app.apiToken(t, "crm", models.RoleSales)
	id := app.newLead(t, map[string]any{"marketing_consent": true})
	lead := app.leadByPublicID(t, id).lead
	clock.advance(time.Hour)
	if res := app.postForm(t, "/optout/"+lead.OptOutToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("opt out: got %v", res)
	}
	clock.advance(time.Hour)
	checkJSON(t, app.api(t, http.MethodPatch, "/api/v1/leads/"+id, token, []byte(`{"status":"contacted","note":"Called.\nWill call again."}`)),
		http.StatusOK, `{"id":"`+id+`","created_at":"2026-12-01T09:30:00Z","form":"contact","name":"Ann Example",
		"email":"ann@example.com","phone":"+48 (12) 345-67.89","company":"Acme Sp. z o.o.",
		"message":"Please call me about a quote.","extra":{},"page_url":"","utm":{},"locale":"en","status":"contacted",
		"marketing":{"state":"withdrawn","since":"2026-12-01T10:30:00Z"},"spam":null,"erased_at":null}`)
	clock.advance(time.Minute)
	if res := app.api(t, http.MethodPatch, "/api/v1/leads/"+id, token, []byte(`{"note":"Sent the quote."}`)); res.status != http.StatusOK {
		t.Fatalf("PATCH note: got %v", res)
	}

	wording := app.cfg.ConsentText
	wordingJSON, _ := json.Marshal(wording)
	checkJSON(t, app.api(t, http.MethodGet, "/api/v1/leads/"+id, token, nil), http.StatusOK, `{"id":"`+id+`",
		"created_at":"2026-12-01T09:30:00Z","form":"contact","name":"Ann Example","email":"ann@example.com",
		"phone":"+48 (12) 345-67.89","company":"Acme Sp. z o.o.","message":"Please call me about a quote.",
		"extra":{},"page_url":"","utm":{},"locale":"en","status":"contacted",
		"marketing":{"state":"withdrawn","since":"2026-12-01T10:30:00Z"},"spam":null,"erased_at":null,
		"consent":[
			{"event":"given","at":"2026-12-01T09:30:00Z","method":"form","ip":"127.0.0.1","user_agent":"`+testUserAgent+`",
			 "wording":`+string(wordingJSON)+`,"wording_sha256":"`+sha256Hex(wording)+`"},
			{"event":"withdrawn","at":"2026-12-01T10:30:00Z","method":"optout_page","ip":"127.0.0.1","user_agent":"`+testUserAgent+`",
			 "wording":null,"wording_sha256":null}
		],
		"emails":[
			{"kind":"sales_notification","to":"\u003csales@localhost\u003e","state":"pending","attempts":0,"last_error":"","sent_at":null},
			{"kind":"consent_confirmation","to":"ann@example.com","state":"cancelled","attempts":0,"last_error":"consent withdrawn","sent_at":null}
		],
		"history":[
			{"at":"2026-12-01T11:30:00Z","actor":"crm","status":"contacted","note":"Called.\nWill call again."},
			{"at":"2026-12-01T11:31:00Z","actor":"crm","status":null,"note":"Sent the quote."}
		]}`)

	checkJSON(t, app.api(t, http.MethodGet, "/api/v1/leads/"+strings.Repeat("a", 26), token, nil), http.StatusNotFound, `{"error":"not_found"}`)
	checkJSON(t, app.api(t, http.MethodPatch, "/api/v1/leads/nope", token, []byte(`{"status":"won"}`)), http.StatusNotFound, `{"error":"not_found"}`)
}

// TestAPIErasedLead: a lead whose personal data was erased is left out of
// the list; by its id it answers what is kept, with erased_at, so that a
// client can tell it from a lead whose fields were never filled in.
func TestAPIErasedLead(t *testing.T) {
	t.Parallel()
	clock := newTestClock("2026-12-01T09:30:00Z")
	app := newTestServer(t, withClock(clock.now))
	token := app.apiToken(t, "crm", models.RoleSales)
	id := app.newLead(t, map[string]any{"marketing_consent": true, "utm_source": "newsletter"})
	if res := app.api(t, http.MethodPatch, "/api/v1/leads/"+id, token, []byte(`{"status":"contacted","note":"Called Ann."}`)); res.status != http.StatusOK {
		t.Fatalf("PATCH: %v", res)
	}
	erasedAt := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	if _, err := app.store.EraseSubject(context.Background(), "ann@example.com", models.Origin{Actor: "dpo", At: erasedAt}); err != nil {
		t.Fatalf("EraseSubject: %v", err)
	}

	checkJSON(t, app.api(t, http.MethodGet, "/api/v1/leads", token, nil), http.StatusOK, `{"leads":[],"next_cursor":null}`)
	checkJSON(t, app.api(t, http.MethodGet, "/api/v1/leads/"+id, token, nil), http.StatusOK, `{"id":"`+id+`",
		"created_at":"2026-12-01T09:30:00Z","form":"contact","name":"","email":"","phone":"","company":"","message":"",
		"extra":{},"page_url":"","utm":{},"locale":"en","status":"contacted",
		"marketing":{"state":"not_given","since":null},"spam":null,"erased_at":"2026-12-02T08:00:00Z",
		"consent":[],
		"emails":[
			{"kind":"sales_notification","to":"\u003csales@localhost\u003e","state":"cancelled","attempts":0,"last_error":"erased","sent_at":null},
			{"kind":"consent_confirmation","to":"","state":"cancelled","attempts":0,"last_error":"erased","sent_at":null}
		],
		"history":[{"at":"2026-12-01T09:30:00Z","actor":"crm","status":"contacted","note":null}]}`)
}

// TestAPINeverShowsLinkTokens: the opt-out and confirm tokens are in no
// answer of the API, JSON or CSV.
func TestAPINeverShowsLinkTokens(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	token := app.apiToken(t, "crm", models.RoleAdmin)
	pending := app.submitLead(t, "ann@example.com", true)
	confirmed := app.submitLead(t, "bob@example.com", true)
	if res := app.postForm(t, "/confirm/"+*confirmed.ConfirmToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("confirm: got %v", res)
	}
	plain := app.submitLead(t, "cid@example.com", false)
	secrets := []string{pending.OptOutToken, *pending.ConfirmToken, confirmed.OptOutToken, *confirmed.ConfirmToken, plain.OptOutToken}

	paths := []string{"/api/v1/leads", "/api/v1/leads.csv", "/api/v1/marketing.csv", "/api/v1/audit"}
	for _, l := range []models.Lead{pending, confirmed, plain} {
		paths = append(paths, "/api/v1/leads/"+l.PublicID)
	}
	for _, p := range paths {
		res := app.api(t, http.MethodGet, p, token, nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: got %v", p, res)
		}
		if p == "/api/v1/marketing.csv" && !strings.Contains(res.body, "bob@example.com") {
			t.Errorf("marketing.csv lacks the confirmed address, so this test checks less than it says:\n%s", res.body)
		}
		for _, s := range secrets {
			if strings.Contains(res.body, s) {
				t.Errorf("GET %s shows a link token:\n%s", p, res.body)
			}
		}
	}
	for _, l := range []models.Lead{pending, confirmed, plain} {
		res := app.api(t, http.MethodPatch, "/api/v1/leads/"+l.PublicID, token, []byte(`{"status":"won"}`))
		if res.status != http.StatusOK {
			t.Fatalf("PATCH: got %v", res)
		}
		for _, s := range secrets {
			if strings.Contains(res.body, s) {
				t.Errorf("PATCH shows a link token:\n%s", res.body)
			}
		}
	}
}

// TestAPIListValidation: a bad parameter is a 422 naming it, never a 500;
// unknown parameters are ignored.
func TestAPIListValidation(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withRateLimit(0))
	token := app.apiToken(t, "crm", models.RoleAdmin)
	for i := range 3 {
		app.newLead(t, map[string]any{"email": fmt.Sprintf("p%d@example.com", i)})
	}
	_, next := leadIDs(t, app.api(t, http.MethodGet, "/api/v1/leads?limit=1", token, nil))
	if next == nil {
		t.Fatal("a page of 1 of 3 leads has no next_cursor")
	}
	cursor := *next
	_, auditNext := func() ([]string, *string) {
		var p struct {
			NextCursor *string `json:"next_cursor"`
		}
		decodeJSON(t, app.api(t, http.MethodGet, "/api/v1/audit?limit=1", token, nil), &p)
		return nil, p.NextCursor
	}()
	if auditNext == nil {
		t.Fatal("the audit log's first page of 1 has no next_cursor")
	}
	// One character changed, still base64url: only the signature can tell.
	tampered := []byte(cursor)
	if tampered[10] = 'A'; cursor[10] == 'A' {
		tampered[10] = 'B'
	}
	for _, tc := range []struct {
		query, param string
	}{
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"limit=1.5", "limit"},
		{"limit=99999999999999999999", "limit"},
		{"limit=5&limit=6", "limit"},
		{"since=yesterday", "since"},
		{"since=2026-13-01", "since"},
		{"since=2026-02-30", "since"},
		{"since=2026-12-01T10:00:00+02:00", "since"}, // the + became a space
		{"since=1%", "since"},
		{"until=2026-12-01T25:00:00Z", "until"},
		{"since=2026-12-02&until=2026-12-01", "until"},
		{"status=done", "status"},
		{"status=NEW", "status"},
		{"marketing=maybe", "marketing"},
		{"marketing=subscribed", "marketing"},
		{"spam=yes", "spam"},
		{"form=" + url.QueryEscape("no spaces"), "form"},
		{"form=" + strings.Repeat("f", 65), "form"},
		{"q=" + strings.Repeat("x", 201), "q"},
		{"q=%ff", "q"},
		{"q=a%00b", "q"},
		{"cursor=garbage", "cursor"},
		{"cursor=" + string(tampered), "cursor"},
		{"cursor=" + cursor + "A", "cursor"},
		{"cursor=" + cursor + "&status=new", "cursor"}, // another filter
		{"cursor=" + cursor + "&q=p1", "cursor"},
		{"cursor=" + *auditNext, "cursor"}, // the audit log's
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := app.api(t, http.MethodGet, "/api/v1/leads?"+tc.query, token, nil)
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("got %v, want 422", res)
			}
			var v validationError
			decodeJSON(t, res, &v)
			if v.Error != "validation" || len(v.Fields) != 1 || v.Fields[tc.param] == "" {
				t.Errorf("answer %s, want a validation error naming %s only", res.body, tc.param)
			}
			if cc := res.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
	// Accepted: unknown parameters, empty values, an escaped offset, the
	// cursor with its own filter.
	for _, q := range []string{
		"foo=bar&utm_source=x", "status=&marketing=&limit=", "since=2026-12-01T10:00:00%2B02:00",
		"since=2026-12-01&until=2026-12-01", "limit=1&cursor=" + cursor, "limit=500", "spam=false&form=contact",
		"q=" + url.QueryEscape("Ann Example"),
	} {
		if res := app.api(t, http.MethodGet, "/api/v1/leads?"+q, token, nil); res.status != http.StatusOK {
			t.Errorf("GET /api/v1/leads?%s: got %v, want 200", q, res)
		}
	}
	// The audit log's cursor rules are the list's.
	for _, q := range []string{"limit=0", "cursor=" + cursor, "cursor=" + string(tampered)} {
		if res := app.api(t, http.MethodGet, "/api/v1/audit?"+q, token, nil); res.status != http.StatusUnprocessableEntity {
			t.Errorf("GET /api/v1/audit?%s: got %v, want 422", q, res)
		}
	}
	// leads.csv checks the filters too.
	if res := app.api(t, http.MethodGet, "/api/v1/leads.csv?status=done", token, nil); res.status != http.StatusUnprocessableEntity ||
		!strings.Contains(res.body, `"status"`) {
		t.Errorf("GET /api/v1/leads.csv?status=done: got %v, want 422 naming status", res)
	}
}

// TestAPIListFilters: each filter reaches the store.
func TestAPIListFilters(t *testing.T) {
	t.Parallel()
	clock := newTestClock("2026-11-30T23:00:00Z")
	app := newTestServer(t, withClock(clock.now), withRateLimit(0), withSetting("LEADBOX_DOUBLE_OPT_IN", "false"))
	token := app.apiToken(t, "crm", models.RoleAdmin)
	a := app.newLead(t, map[string]any{"email": "ann@example.com", "name": "Ann", "marketing_consent": true})
	clock.advance(2 * time.Hour) // 2026-12-01T01:00:00Z
	b := app.newLead(t, map[string]any{"email": "bob@example.com", "name": "Bob", "company": "Widgets"})
	clock.advance(24 * time.Hour) // 2026-12-02T01:00:00Z
	c := app.newLead(t, map[string]any{"email": "cid@example.com", "name": "Cid", "message": "Big ORDER please"})
	if res := app.api(t, http.MethodPatch, "/api/v1/leads/"+b, token, []byte(`{"status":"won"}`)); res.status != http.StatusOK {
		t.Fatalf("PATCH: %v", res)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{c, b, a}},
		{"q=WIDGET", []string{b}},
		{"q=order", []string{c}},
		{"q=example.com", []string{c, b, a}},
		{"q=%25", nil}, // a literal %, not a wildcard
		{"status=won", []string{b}},
		{"status=new", []string{c, a}},
		{"marketing=given", []string{a}},
		{"marketing=not_given", []string{c, b}},
		{"marketing=withdrawn", nil},
		{"since=2026-12-01", []string{c, b}},
		{"until=2026-12-01", []string{b, a}},
		{"since=2026-12-01&until=2026-12-01", []string{b}},
		{"since=2026-12-01T01:00:00Z", []string{c, b}},
		{"until=2026-12-01T01:00:00Z", []string{a}},
		{"since=2026-12-01T02:00:00%2B01:00", []string{c, b}},
		{"form=contact", []string{c, b, a}},
		{"form=other", nil},
		{"spam=true", nil},
		{"spam=false", []string{c, b, a}},
	} {
		ids, next := leadIDs(t, app.api(t, http.MethodGet, "/api/v1/leads?"+tc.query, token, nil))
		if !slices.Equal(ids, tc.want) || next != nil {
			t.Errorf("?%s: got %v (next %v), want %v", tc.query, ids, next, tc.want)
		}
	}
}

// TestAPIPagination: pages follow the keyset; leads that arrive between
// two pages neither repeat a lead nor skip one, and the last page says so.
func TestAPIPagination(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withRateLimit(0))
	token := app.apiToken(t, "crm", models.RoleSales)
	var older []string
	for i := range 5 {
		older = append(older, app.newLead(t, map[string]any{"email": fmt.Sprintf("old%d@example.com", i)}))
	}
	slices.Reverse(older) // newest first

	page1, next := leadIDs(t, app.api(t, http.MethodGet, "/api/v1/leads?limit=2", token, nil))
	if !slices.Equal(page1, older[:2]) || next == nil {
		t.Fatalf("page 1: got %v (next %v), want %v and a cursor", page1, next, older[:2])
	}
	var newer []string
	for i := range 3 {
		newer = append(newer, app.newLead(t, map[string]any{"email": fmt.Sprintf("new%d@example.com", i)}))
	}
	page2, next := leadIDs(t, app.api(t, http.MethodGet, "/api/v1/leads?limit=2&cursor="+*next, token, nil))
	if !slices.Equal(page2, older[2:4]) || next == nil {
		t.Fatalf("page 2: got %v (next %v), want %v and a cursor", page2, next, older[2:4])
	}
	page3, next := leadIDs(t, app.api(t, http.MethodGet, "/api/v1/leads?limit=2&cursor="+*next, token, nil))
	if !slices.Equal(page3, older[4:]) || next != nil {
		t.Fatalf("page 3: got %v (next %v), want %v and no cursor", page3, next, older[4:])
	}
	// A page exactly full is still the last when nothing follows.
	all, next := leadIDs(t, app.api(t, http.MethodGet, "/api/v1/leads?limit=8", token, nil))
	if len(all) != 8 || next != nil {
		t.Errorf("a page of 8 of 8 leads: got %d leads, next %v; want 8 and null", len(all), next)
	}
	if slices.Reverse(newer); !slices.Equal(all[:3], newer) {
		t.Errorf("first page now starts %v, want the new leads %v", all[:3], newer)
	}
}
