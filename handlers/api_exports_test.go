package handlers_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/models"
)

// checkCSV fails unless the answer is a 200 CSV download called filename
// with exactly the bytes want.
func checkCSV(t *testing.T, r response, filename, want string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("got %v, want 200", r)
	}
	for h, v := range map[string]string{
		"Content-Type":        "text/csv; charset=utf-8",
		"Content-Disposition": `attachment; filename="` + filename + `"`,
		"Cache-Control":       "no-store",
	} {
		if got := r.header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if r.body != want {
		t.Errorf("body\n got %q\nwant %q", r.body, want)
	}
}

// TestAPILeadsCSV: leads.csv byte for byte: the byte-order mark, the
// header row, RFC 4180 quoting, CRLF, defused formulas, the list's
// filters.
func TestAPILeadsCSV(t *testing.T) {
	t.Parallel()
	clock := newTestClock("2026-12-01T09:30:00Z")
	app := newTestServer(t, withClock(clock.now))
	token := app.apiToken(t, "crm", models.RoleSales)
	ann := app.newLead(t, map[string]any{
		"name": `=HYPERLINK("http://evil.example")`, "company": "@acme", "marketing_consent": true,
		"message": "-2+3 is the price\nsee \"quote\", please", "page": "https://www.example.com/p?a=1,2",
	})
	clock.advance(time.Hour)
	bob := app.newLead(t, map[string]any{"name": "Bob", "email": "bob@example.org", "phone": nil})
	if res := app.api(t, http.MethodPatch, "/api/v1/leads/"+bob, token, []byte(`{"status":"won"}`)); res.status != http.StatusOK {
		t.Fatalf("PATCH: %v", res)
	}
	clock.advance(24 * time.Hour)

	const header = "\ufeffid,created_at,form,name,email,phone,company,message,page_url,status,marketing_state,marketing_since\r\n"
	bobRow := bob + ",2026-12-01T10:30:00Z,contact,Bob,bob@example.org,,Acme Sp. z o.o.,Please call me about a quote.,,won,not_given,\r\n"
	annRow := ann + `,2026-12-01T09:30:00Z,contact,"'=HYPERLINK(""http://evil.example"")",ann@example.com,'+48 (12) 345-67.89,'@acme,` +
		`"'-2+3 is the price` + "\n" + `see ""quote"", please","https://www.example.com/p?a=1,2",new,pending,2026-12-01T09:30:00Z` + "\r\n"
	checkCSV(t, app.api(t, http.MethodGet, "/api/v1/leads.csv", token, nil), "leads-2026-12-02.csv", header+bobRow+annRow)
	checkCSV(t, app.api(t, http.MethodGet, "/api/v1/leads.csv?status=won&limit=1&cursor=x", token, nil), "leads-2026-12-02.csv", header+bobRow)
	checkCSV(t, app.api(t, http.MethodGet, "/api/v1/leads.csv?marketing=given", token, nil), "leads-2026-12-02.csv", header)
}

// TestAPIMarketingCSV: marketing.csv has the addresses that may receive
// marketing now (confirmed, under double opt-in) and nobody else, byte for
// byte; the marketing role may download it.
func TestAPIMarketingCSV(t *testing.T) {
	t.Parallel()
	clock := newTestClock("2026-12-01T09:30:00Z")
	app := newTestServer(t, withClock(clock.now), withRateLimit(0))
	token := app.apiToken(t, "newsletter", models.RoleMarketing)
	app.submitLead(t, "pending@example.com", true)
	app.submitLead(t, "never@example.com", false)
	cat := app.submitLead(t, "cat@example.com", true)
	left := app.submitLead(t, "left@example.com", true)
	clock.advance(10 * time.Minute)
	for _, l := range []models.Lead{cat, left} {
		if res := app.postForm(t, "/confirm/"+*l.ConfirmToken, "", nil); res.status != http.StatusOK {
			t.Fatalf("confirm: %v", res)
		}
	}
	clock.advance(time.Minute)
	if res := app.postForm(t, "/optout/"+left.OptOutToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("opt out: %v", res)
	}

	want := "\ufeffemail,name,company,locale,consent_given_at,consent_confirmed_at,consent_wording_sha256,lead_id\r\n" +
		"cat@example.com,Ann Example,Acme Sp. z o.o.,en,2026-12-01T09:30:00Z,2026-12-01T09:40:00Z," +
		sha256Hex(app.cfg.ConsentText) + "," + cat.PublicID + "\r\n"
	checkCSV(t, app.api(t, http.MethodGet, "/api/v1/marketing.csv", token, nil), "marketing-2026-12-01.csv", want)
}

// failingExports is the real store whose audit log or lead stream breaks
// when told to.
type failingExports struct {
	*testStore
	auditFails bool
	// streamFailsAfter makes EachLead fail after that many leads; <0 never.
	streamFailsAfter int
}

var errBroken = errors.New("disk on fire")

func (s failingExports) AppendAudit(ctx context.Context, e *models.AuditEntry) error {
	if s.auditFails {
		return errBroken
	}
	return s.testStore.AppendAudit(ctx, e)
}

func (s failingExports) EachLead(ctx context.Context, f models.LeadFilter, doubleOptIn bool, fn func(models.LeadItem) error) error {
	n := 0
	return s.testStore.EachLead(ctx, f, doubleOptIn, func(it models.LeadItem) error {
		if s.streamFailsAfter >= 0 && n >= s.streamFailsAfter {
			return errBroken
		}
		n++
		return fn(it)
	})
}

// TestAPIReadsRefusedWithoutAudit: when the audit log cannot take a read's
// entry, the read is refused with a 500 and no data leaves.
func TestAPIReadsRefusedWithoutAudit(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withSetting("LEADBOX_DOUBLE_OPT_IN", "false"),
		withStore(func(s *testStore) handlers.Store {
			return failingExports{testStore: s, auditFails: true, streamFailsAfter: -1}
		}))
	token := app.apiToken(t, "crm", models.RoleAdmin)
	id := app.newLead(t, map[string]any{"marketing_consent": true})
	for _, p := range []string{"/api/v1/leads", "/api/v1/leads/" + id, "/api/v1/leads.csv", "/api/v1/marketing.csv", "/api/v1/audit"} {
		res := app.api(t, http.MethodGet, p, token, nil)
		if res.status != http.StatusInternalServerError || !strings.HasPrefix(res.body, `{"error":"internal",`) {
			t.Errorf("GET %s: got %v, want a JSON 500", p, res)
		}
		for _, personal := range []string{"ann@example.com", "Ann Example", "Acme"} {
			if strings.Contains(res.body, personal) {
				t.Errorf("GET %s sent %q without its audit entry:\n%s", p, personal, res.body)
			}
		}
	}
}

// TestAPIExportCutShort: an export that fails before anything went out is
// a clean 500; one that fails after rows were sent is cut off, so the
// client sees a broken download, never a file that looks complete.
func TestAPIExportCutShort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		after int
	}{
		{"before the first row", 0},
		{"while rows are still buffered", 10},
		{"after rows were sent", 900}, // more than the writer's buffer and a batch
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t,
				withStore(func(s *testStore) handlers.Store { return failingExports{testStore: s, streamFailsAfter: tc.after} }))
			token := app.apiToken(t, "crm", models.RoleAdmin)
			app.seedLeads(t, 1000)
			req, _ := http.NewRequest(http.MethodGet, app.srv.URL+"/api/v1/leads.csv", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := app.client.Do(req)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if tc.after < 900 {
				if err != nil || res.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(string(body), `{"error":"internal"`) ||
					res.Header.Get("Content-Disposition") != "" {
					t.Errorf("got %d %.200q (read error %v), want a JSON 500", res.StatusCode, body, err)
				}
				return
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the cut export: error %v, want unexpected EOF; got %d, %d bytes", err, res.StatusCode, len(body))
			}
		})
	}
}

// seedLeads commits n leads through the store, as the submission handler
// does, concurrently (the group-commit writer batches them), and returns
// their public ids.
func (a *testApp) seedLeads(t *testing.T, n int) map[string]bool {
	t.Helper()
	ctx := context.Background()
	ct, err := a.store.ConsentTextVersion(ctx, a.cfg.ConsentText)
	if err != nil {
		t.Fatalf("ConsentTextVersion: %v", err)
	}
	ids := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			at := time.Now().UTC()
			lead := &models.Lead{
				PublicID: models.NewKey(16), CreatedAt: at, Name: fmt.Sprintf("Lead %d", i),
				Email: fmt.Sprintf("lead%d@example.com", i), EmailKey: fmt.Sprintf("lead%d@example.com", i),
				Message: "Hello, line one\nline two", OptOutToken: models.NewKey(20),
			}
			consent := &models.ConsentEvent{
				Subject: lead.EmailKey, Purpose: models.PurposeMarketingEmail, At: at,
				Action: models.ActionNotGiven, Method: models.MethodForm, ConsentTextID: &ct.ID,
			}
			_, err := a.store.CreateLeadOnce(ctx, lead, consent, nil, models.Guards{})
			ids[i] = lead.PublicID
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("CreateLeadOnce: %v", err)
		}
	}
	set := make(map[string]bool, n)
	for _, id := range ids {
		set[id] = true
	}
	return set
}

// TestAPILeadsCSVManyRows: an export of more leads than storage reads at
// once, and than go out between two flushes, has every lead once, in the
// list's order.
func TestAPILeadsCSVManyRows(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	token := app.apiToken(t, "crm", models.RoleAdmin)
	const n = 1234
	seeded := app.seedLeads(t, n)

	res := app.api(t, http.MethodGet, "/api/v1/leads.csv", token, nil)
	if res.status != http.StatusOK || !strings.HasPrefix(res.body, "\ufeff") {
		t.Fatalf("got %v", res)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(res.body, "\ufeff")))
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read the CSV: %v", err)
	}
	if len(records) != n+1 {
		t.Fatalf("%d records, want a header and %d rows", len(records), n)
	}
	var exported []string
	for _, rec := range records[1:] {
		if !seeded[rec[0]] {
			t.Fatalf("row for unknown lead %q", rec[0])
		}
		exported = append(exported, rec[0])
	}
	var listed []string
	path := "/api/v1/leads?limit=500"
	for {
		ids, next := leadIDs(t, app.api(t, http.MethodGet, path, token, nil))
		listed = append(listed, ids...)
		if next == nil {
			break
		}
		path = "/api/v1/leads?limit=500&cursor=" + *next
	}
	if !slices.Equal(exported, listed) {
		t.Errorf("the export's %d rows are not the list's %d leads in its order", len(exported), len(listed))
	}
	if got := len(slices.Compact(slices.Sorted(slices.Values(exported)))); got != n {
		t.Errorf("%d distinct leads exported, want %d", got, n)
	}
}
