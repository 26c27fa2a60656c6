package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/internal/testlog"
)

// TestSubmissionsWhenLeadsCannotBeStored: with the database file gone
// from under the server (as after a restore or a wrong cleanup), a
// submission is answered 503 with Retry-After, in JSON and as the form
// again with everything typed, nothing is counted as accepted, and the log
// says so once for the whole episode, not once per submission.
func TestSubmissionsWhenLeadsCannotBeStored(t *testing.T) {
	logs := &testlog.Buffer{}
	app := newTestServer(t, withDuplicateWindow(0), withLog(slog.New(slog.NewJSONHandler(logs, nil))))
	if err := os.Remove(app.dbPath); err != nil {
		t.Fatal(err)
	}

	res := app.post(t, jsonBody, validFields(), nil)
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") != "60" {
		t.Fatalf("JSON: %s, Retry-After %q; want 503 with Retry-After: 60", res, res.header.Get("Retry-After"))
	}
	var body struct {
		Error  string            `json:"error"`
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal([]byte(res.body), &body); err != nil || body.Error != "unavailable" || !strings.Contains(body.Fields["form"], "nothing was saved") {
		t.Errorf("JSON body %s (%v), want error unavailable and a message saying nothing was saved", res.body, err)
	}

	fields := validFields()
	fields["message"] = "Please keep this text."
	res = app.post(t, urlencoded, fields, nil)
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") != "60" {
		t.Fatalf("form: %s; want 503 with Retry-After: 60", res)
	}
	for _, want := range []string{"Your message was not sent yet", "nothing was saved", "Please keep this text.", `value="Ann Example"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the form page after a failure lacks %q", want)
		}
	}
	if app.notified.Load() != 0 {
		t.Errorf("the mail sender was woken %d times for leads that were not stored", app.notified.Load())
	}
	if n := strings.Count(logs.String(), "leads cannot be stored"); n != 1 {
		t.Errorf("%d log lines about the episode for two failed submissions, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), `"level":"ERROR","msg":"internal error"`) {
		t.Errorf("a storage failure was logged as an internal error:\n%s", logs.String())
	}
}

// TestClientGoneIsNotAnError: a client that goes away before its
// submission is answered is logged as that, at INFO, with 499, not as an
// internal error with 500.
func TestClientGoneIsNotAnError(t *testing.T) {
	logs := &testlog.Buffer{}
	app := newTestServer(t, withLog(slog.New(slog.NewJSONHandler(logs, nil))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // gone before the lead reaches the writer
	ct, body := encode(t, jsonBody, validFields())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/contact", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	app.handler.ServeHTTP(rec, req)
	if rec.Code != 499 {
		t.Errorf("status %d, want 499", rec.Code)
	}
	if out := logs.String(); strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, "the client closed the request") {
		t.Errorf("log:\n%s\nwant an INFO line about the client, no ERROR", out)
	}
}
