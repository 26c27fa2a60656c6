package webhook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
	"github.com/leadbox/leadbox/models/storetest"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
	err    error // from verify
}

// receiver is a real HTTP server on loopback that verifies every
// request's signature and answers with the next of its statuses (the last
// one for ever).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), body, verify(testSecret, req.Header, body, time.Now())})
		status := r.statuses[min(len(r.got), len(r.statuses))-1]
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20))) // a chatty receiver: read bounded
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// counted is Metrics for tests.
type counted struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counted) WebhookDelivery(result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[result]++
}

func (c *counted) get(result string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[result]
}

// setup opens a store that queues webhooks to urls, commits one ticked
// submission, and returns a worker with a clock the test moves.
func setup(t *testing.T, urls ...string) (*sqlite.Store, *Worker, *storetest.Submission, *time.Time, *counted) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "leads.db"), sqlite.WithWebhooks(urls))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	sub := storetest.NewSubmission(t, s, "ann.lead@example.com")
	sub.Lead.Name, sub.Lead.Phone, sub.Lead.Company = "Ann Lead", "+48 600 100 200", "Ann Ltd"
	sub.Lead.PageURL, sub.Lead.UTMSource = "https://www.example.com/pricing", "newsletter"
	if _, err := s.CreateLeadOnce(context.Background(), sub.Lead, sub.Consent, sub.Outbox, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	key, _ := parseSecret(testSecret)
	m := &counted{n: map[string]int{}}
	w := New(s, Options{Key: key, DoubleOptIn: true, Timeout: 2 * time.Second, Log: slog.New(slog.DiscardHandler), Metrics: m})
	now := time.Now().UTC()
	w.now = func() time.Time { return now }
	return s, w, &sub, &now, m
}

func parseSecret(s string) ([]byte, error) {
	return base64Decode(strings.TrimPrefix(s, "whsec_"))
}

func rowsOf(t *testing.T, s *sqlite.Store, event string) []models.OutboxMessage {
	t.Helper()
	var rows []models.OutboxMessage
	if err := s.DB().Where("kind = ? AND event = ?", models.KindWebhook, event).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestLeadCreatedArrivesSigned: a receiver that verifies by the spec
// accepts the event; the payload holds what a CRM needs and no token.
func TestLeadCreatedArrivesSigned(t *testing.T) {
	rc := newReceiver(t, http.StatusNoContent)
	s, w, sub, _, m := setup(t, rc.URL+"/hook")
	if err := w.drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	if got[0].err != nil {
		t.Fatalf("signature check: %v", got[0].err)
	}
	if ct := got[0].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var ev struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      Lead   `json:"data"`
	}
	if err := json.Unmarshal(got[0].body, &ev); err != nil {
		t.Fatalf("body %s: %v", got[0].body, err)
	}
	l := sub.Lead
	if ev.Type != models.EventLeadCreated || ev.Data.ID != l.PublicID || ev.Data.Email != l.Email ||
		ev.Data.Name != "Ann Lead" || ev.Data.Phone != l.Phone || ev.Data.Company != "Ann Ltd" ||
		ev.Data.Message != l.Message || ev.Data.PageURL != l.PageURL || ev.Data.UTM["source"] != "newsletter" ||
		ev.Data.Form != "contact" || ev.Data.Locale != "en" || ev.Data.Marketing.State != models.MarketingPending {
		t.Errorf("lead.created = %s; want the lead's fields, marketing pending", got[0].body)
	}
	if _, err := time.Parse(time.RFC3339, ev.Timestamp); err != nil {
		t.Errorf("timestamp %q is not RFC 3339", ev.Timestamp)
	}
	for _, token := range []string{l.OptOutToken, *l.ConfirmToken} {
		if strings.Contains(string(got[0].body), token) {
			t.Errorf("the payload holds a link token: %s", got[0].body)
		}
	}
	if rows := rowsOf(t, s, models.EventLeadCreated); rows[0].Status != models.StatusSent || rows[0].Attempts != 1 {
		t.Errorf("row after a 204: %s, %d attempts; want sent after 1", rows[0].Status, rows[0].Attempts)
	}
	if m.get(ResultSent) != 1 {
		t.Errorf("deliveries counted sent %d, want 1", m.get(ResultSent))
	}
}

// TestRetriedWithTheSameID: after a 500 the webhook is tried again within
// a minute, with the same webhook-id and a new timestamp and signature.
func TestRetriedWithTheSameID(t *testing.T) {
	rc := newReceiver(t, http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusOK)
	s, w, _, now, m := setup(t, rc.URL)
	for i := range 3 {
		if err := w.drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		row := rowsOf(t, s, models.EventLeadCreated)[0]
		if i < 2 {
			if row.Status != models.StatusPending || row.LastError == "" {
				t.Fatalf("after attempt %d: %s (%q), want pending with the error", i+1, row.Status, row.LastError)
			}
			wait := row.NextAttemptAt.Sub(*now)
			if i == 0 && (wait <= 0 || wait > time.Minute) {
				t.Errorf("first retry in %s, want within a minute", wait)
			}
			*now = row.NextAttemptAt
		} else if row.Status != models.StatusSent || row.Attempts != 3 {
			t.Errorf("after the 200: %s, %d attempts; want sent after 3", row.Status, row.Attempts)
		}
	}
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(got))
	}
	for i, r := range got {
		if r.err != nil {
			t.Errorf("attempt %d: signature: %v", i+1, r.err)
		}
		if id := r.header.Get("webhook-id"); id != got[0].header.Get("webhook-id") || !strings.HasPrefix(id, "msg_") {
			t.Errorf("attempt %d: webhook-id %q, want the first's %q", i+1, id, got[0].header.Get("webhook-id"))
		}
	}
	if got[0].header.Get("webhook-timestamp") == got[2].header.Get("webhook-timestamp") {
		t.Errorf("every attempt has timestamp %s; want each its own", got[0].header.Get("webhook-timestamp"))
	}
	if m.get(ResultRetry) != 2 || m.get(ResultSent) != 1 {
		t.Errorf("counted retry %d, sent %d; want 2 and 1", m.get(ResultRetry), m.get(ResultSent))
	}
}

// TestStopsAfter4xx: a 4xx (not 408 or 429) fails at once, a redirect is
// not followed, and nothing more is sent.
func TestStopsAfter4xx(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusGone, http.StatusFound} {
		rc := newReceiver(t, status)
		s, w, _, now, m := setup(t, rc.URL)
		for range 2 {
			if err := w.drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			*now = now.Add(time.Hour)
		}
		if n := len(rc.requests()); n != 1 {
			t.Errorf("HTTP %d: receiver got %d requests, want 1", status, n)
		}
		row := rowsOf(t, s, models.EventLeadCreated)[0]
		if row.Status != models.StatusFailed || !strings.Contains(row.LastError, "HTTP") {
			t.Errorf("HTTP %d: row %s (%q), want failed with the status", status, row.Status, row.LastError)
		}
		if m.get(ResultFailed) != 1 {
			t.Errorf("HTTP %d: counted failed %d, want 1", status, m.get(ResultFailed))
		}
	}
}

// TestRetriesForThreeDays: 408, 429 and network errors are retried, and
// given up on three days after the webhook was queued.
func TestRetriesForThreeDays(t *testing.T) {
	rc := newReceiver(t, http.StatusTooManyRequests, http.StatusRequestTimeout)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connection refused from now on
	s, w, _, now, _ := setup(t, rc.URL, deadURL)
	start := *now
	for now.Sub(start) < GiveUpAfter+retryMax {
		if err := w.drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(retryMax)
	}
	for _, row := range rowsOf(t, s, models.EventLeadCreated) {
		if row.Status != models.StatusFailed || !strings.Contains(row.LastError, "gave up") || row.Attempts < 30 {
			t.Errorf("%s: %s after %d attempts (%q), want failed after three days of retries", row.Target, row.Status, row.Attempts, row.LastError)
		}
	}
}

// TestErasedLeadIsNotSent: a lead erased before its webhook went out is
// not sent; subject.erased goes, with the lead ids only.
func TestErasedLeadIsNotSent(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	s, w, sub, now, _ := setup(t, rc.URL)
	if _, err := s.EraseSubject(t.Context(), "ann.lead@example.com", models.Origin{Actor: "dpo", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	*now = time.Now().UTC().Add(time.Second)
	if err := w.drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want subject.erased only", len(got))
	}
	var ev struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(got[0].body, &ev); err != nil || got[0].err != nil {
		t.Fatalf("body %s: %v, signature %v", got[0].body, err, got[0].err)
	}
	ids, _ := ev.Data["lead_ids"].([]any)
	if ev.Type != models.EventSubjectErased || len(ev.Data) != 1 || len(ids) != 1 || ids[0] != sub.Lead.PublicID {
		t.Errorf("subject.erased = %s, want only the lead ids", got[0].body)
	}
	for _, pd := range []string{"ann.lead", "Ann Lead", "600 100", "Ann Ltd", "pricing"} {
		if strings.Contains(string(got[0].body), pd) {
			t.Errorf("subject.erased holds %q: %s", pd, got[0].body)
		}
	}
}

// TestConsentEventsShowTheStateWhenSent: a confirmation is reported with
// the lead and the person's marketing state when the webhook is sent.
func TestConsentEventsShowTheStateWhenSent(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	s, w, sub, now, _ := setup(t, rc.URL)
	if _, err := s.Confirm(t.Context(), *sub.Lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
		t.Fatal(err)
	}
	*now = time.Now().UTC().Add(time.Second)
	if err := w.drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, r := range rc.requests() {
		var ev struct {
			Type string `json:"type"`
			Data Lead   `json:"data"`
		}
		if err := json.Unmarshal(r.body, &ev); err != nil || r.err != nil {
			t.Fatalf("body %s: %v, signature %v", r.body, err, r.err)
		}
		if ev.Data.ID != sub.Lead.PublicID {
			t.Errorf("%s is about lead %q, want %q", ev.Type, ev.Data.ID, sub.Lead.PublicID)
		}
		states[ev.Type] = ev.Data.Marketing.State
	}
	want := map[string]string{models.EventLeadCreated: models.MarketingGiven, models.EventConsentConfirmed: models.MarketingGiven}
	if len(states) != len(want) || states[models.EventConsentConfirmed] != models.MarketingGiven {
		t.Errorf("events and the marketing state they show: %v, want %v (the state when sent)", states, want)
	}
}
