package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/internal/testlog"
	"github.com/leadbox/leadbox/models"
)

// panickyStore fails the way a broken database or a bug would.
type panickyStore struct {
	*testStore
	panic bool
}

func (p panickyStore) LeadByOptOutToken(ctx context.Context, token string) (models.Lead, error) {
	if p.panic {
		panic("nil map write in a store method")
	}
	return p.testStore.LeadByOptOutToken(ctx, token)
}

// TestInternalErrorsShowNoInternals: a database error or a panic gives users
// a generic page or JSON with a reference, and operators a log line with the
// same request id and the cause.
func TestInternalErrorsShowNoInternals(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	for _, tc := range []struct {
		name        string
		panic       bool
		path, ctype string
		body        string
		accept      string
	}{
		{"database error, form", false, "/contact", "application/x-www-form-urlencoded", "name=A&email=a@example.com&message=m", ""},
		{"database error, JSON", false, "/contact", "application/json", `{"name":"A","email":"a@example.com","message":"m"}`, ""},
		{"panic, page", true, "/optout/" + strings.Repeat("a", 42), "", "", ""},
		{"panic, JSON", true, "/optout/" + strings.Repeat("a", 42), "", "", "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t, withLog(slog.New(slog.NewJSONHandler(logs, nil))),
				withStore(func(s *testStore) handlers.Store { return panickyStore{testStore: s, panic: tc.panic} }))
			if !tc.panic {
				_ = app.store.Close() // every later query fails: "sql: database is closed"
			}
			method := http.MethodGet
			if tc.body != "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, app.srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", resp.StatusCode)
			}
			id := resp.Header.Get("X-Request-Id")
			for _, leak := range []string{"sql", "database is closed", "panic", "nil map", "goroutine", ".go:"} {
				if strings.Contains(body.String(), leak) {
					t.Errorf("answer shows internals (%q):\n%s", leak, body.String())
				}
			}
			if !strings.Contains(body.String(), id) {
				t.Errorf("answer does not quote the reference %q:\n%s", id, body.String())
			}
			if strings.Contains(resp.Header.Get("Content-Type"), "json") != (tc.ctype == "application/json" || tc.accept != "") {
				t.Errorf("Content-Type %q for this client", resp.Header.Get("Content-Type"))
			}
			var line struct {
				RequestID string `json:"request_id"`
				Err       string `json:"err"`
			}
			found := false
			for _, l := range strings.Split(logs.String(), "\n") {
				if json.Unmarshal([]byte(l), &line) == nil && line.RequestID == id && strings.Contains(l, `"msg":"internal error"`) {
					found = true
					if line.Err == "" {
						t.Errorf("log line for %s has no cause: %s", id, l)
					}
				}
			}
			if !found {
				t.Errorf("no internal-error log line with request id %s:\n%s", id, logs.String())
			}
		})
	}
}
