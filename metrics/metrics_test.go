package metrics_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/internal/scrapetest"
	"github.com/leadbox/leadbox/internal/testlog"
	"github.com/leadbox/leadbox/mailer"
	"github.com/leadbox/leadbox/metrics"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
	"github.com/leadbox/leadbox/models/storetest"
)

// What the users declare, the metrics package implements.
var (
	_ handlers.Metrics = (*metrics.Metrics)(nil)
	_ mailer.Metrics   = (*metrics.Metrics)(nil)
)

// openStore opens a real SQLite database in a temporary folder.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "leadbox.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newMetrics builds Leadbox's metrics on a new registry, as serve does.
func newMetrics(t *testing.T, o metrics.Options) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New(prometheus.NewRegistry(), o)
	if err != nil {
		t.Fatalf("metrics.New: %v", err)
	}
	return m
}

// scrape reads m's page as Prometheus would.
func scrape(t *testing.T, m *metrics.Metrics) scrapetest.Scrape {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	s, _ := scrapetest.Get(t, srv.Client(), srv.URL)
	return s
}

// want checks the value of one series.
func want(t *testing.T, s scrapetest.Scrape, value float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.Value(name, labels...)
	if !ok {
		t.Errorf("%s%v: got no series, want %v", name, labels, value)
	} else if got != value {
		t.Errorf("%s%v = %v, want %v", name, labels, got, value)
	}
}

// TestSeriesExistFromTheStart: every series of a known label value is
// there, at zero, before anything happened, so that rate() and alerts see
// the first event; and the Go and process collectors are registered.
func TestSeriesExistFromTheStart(t *testing.T) {
	s := scrape(t, newMetrics(t, metrics.Options{Forms: []string{"contact"}, Outbox: openStore(t)}))
	for _, o := range []string{"accepted", "invalid", "spam", "duplicate", "rate_limited"} {
		want(t, s, 0, "leadbox_submissions_total", "form", "contact", "outcome", o)
	}
	for _, r := range []string{"honeypot", "time_trap", "duplicate", "rate_limit", "captcha"} {
		want(t, s, 0, "leadbox_spam_total", "reason", r)
	}
	for _, k := range []string{"sales_notification", "consent_confirmation"} {
		for _, r := range []string{"sent", "retry", "failed"} {
			want(t, s, 0, "leadbox_email_sends_total", "kind", k, "result", r)
		}
	}
	for _, e := range []string{"given", "not_given", "confirmed", "withdrawn"} {
		want(t, s, 0, "leadbox_consent_events_total", "event", e)
	}
	for _, st := range []string{"pending", "sending", "sent", "failed", "cancelled"} {
		want(t, s, 0, "leadbox_outbox_messages", "state", st)
	}
	want(t, s, 0, "leadbox_outbox_oldest_pending_seconds")
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if _, ok := s[name]; !ok {
			t.Errorf("the scrape has no %s", name)
		}
	}
}

// TestCounting: each call counts one, under its own labels.
func TestCounting(t *testing.T) {
	m := newMetrics(t, metrics.Options{Forms: []string{"contact"}})
	m.Submission("contact", handlers.OutcomeAccepted)
	m.Submission("contact", handlers.OutcomeAccepted)
	m.Submission("gmi-contact", handlers.OutcomeSpam) // a form known only later
	m.Spam(models.SpamHoneypot)
	m.EmailSend(models.KindSalesNotification, mailer.ResultRetry)
	m.EmailSend("privacy_link", mailer.ResultSent) // a kind known only later
	m.Request("/optout/:token", http.MethodPost, http.StatusOK, 3*time.Millisecond)
	m.Request("/optout/:token", http.MethodPost, http.StatusOK, 2*time.Second)
	m.Request(handlers.RouteUnmatched, http.MethodGet, http.StatusNotFound, time.Millisecond)

	s := scrape(t, m)
	want(t, s, 2, "leadbox_submissions_total", "form", "contact", "outcome", "accepted")
	want(t, s, 1, "leadbox_submissions_total", "form", "gmi-contact", "outcome", "spam")
	want(t, s, 1, "leadbox_spam_total", "reason", "honeypot")
	want(t, s, 1, "leadbox_email_sends_total", "kind", "sales_notification", "result", "retry")
	want(t, s, 1, "leadbox_email_sends_total", "kind", "privacy_link", "result", "sent")
	if n := s.Count("leadbox_http_request_duration_seconds", "route", "/optout/:token", "method", "POST", "code", "200"); n != 2 {
		t.Errorf("POST /optout/:token 200: %d observations, want 2", n)
	}
	if n := s.Count("leadbox_http_request_duration_seconds", "route", "unmatched", "code", "404"); n != 1 {
		t.Errorf("unmatched 404: %d observations, want 1", n)
	}
}

// TestCountingDoesNotAllocate: the submission path pays no allocation
// for its counting once a label set has been used.
func TestCountingDoesNotAllocate(t *testing.T) {
	m := newMetrics(t, metrics.Options{Forms: []string{"contact"}})
	count := func() {
		m.Submission("contact", handlers.OutcomeAccepted)
		m.Spam(models.SpamDuplicate)
		m.Request("/contact", http.MethodPost, http.StatusCreated, 2*time.Millisecond)
	}
	count()
	if n := testing.AllocsPerRun(100, count); n != 0 {
		t.Errorf("counting a submission allocates %v times, want 0", n)
	}
}

// TestOutboxGauges: the outbox's gauges are what the database holds at
// the scrape, and the oldest pending email's age is measured from when it
// was queued.
func TestOutboxGauges(t *testing.T) {
	ctx := t.Context()
	store := openStore(t)
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		sub := storetest.NewSubmission(t, store, email)
		if _, err := store.CreateLeadOnce(ctx, sub.Lead, sub.Consent, sub.Outbox, models.Guards{}); err != nil {
			t.Fatal(err)
		}
	}
	// One sent, one failed, two pending.
	claimed, err := store.ClaimDue(ctx, time.Now().UTC().Add(time.Minute), 2, time.Now().UTC().Add(time.Minute))
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimDue: %d messages, %v; want 2", len(claimed), err)
	}
	err = store.Record(ctx, []models.Outcome{
		{ID: claimed[0].ID, Status: models.StatusSent, At: time.Now().UTC(), Attempted: true},
		{ID: claimed[1].ID, Status: models.StatusFailed, Reason: "550", Attempted: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := store.OutboxCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := counts.OldestPending.Add(90 * time.Second)
	s := scrape(t, newMetrics(t, metrics.Options{Outbox: store, Now: func() time.Time { return now }}))
	want(t, s, 2, "leadbox_outbox_messages", "state", "pending")
	want(t, s, 1, "leadbox_outbox_messages", "state", "sent")
	want(t, s, 1, "leadbox_outbox_messages", "state", "failed")
	want(t, s, 0, "leadbox_outbox_messages", "state", "cancelled")
	want(t, s, 90, "leadbox_outbox_oldest_pending_seconds")
}

type brokenOutbox struct{}

func (brokenOutbox) OutboxCounts(context.Context) (models.OutboxCounts, error) {
	return models.OutboxCounts{}, errors.New("count outbox: database is locked")
}

// TestScrapeWhenTheDatabaseFails: the outbox gauges are left out of that
// scrape, and the cause logged; every other metric is still served.
func TestScrapeWhenTheDatabaseFails(t *testing.T) {
	var logs testlog.Buffer
	m := newMetrics(t, metrics.Options{Forms: []string{"contact"}, Outbox: brokenOutbox{},
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	m.Submission("contact", handlers.OutcomeAccepted)
	s := scrape(t, m)
	want(t, s, 1, "leadbox_submissions_total", "outcome", "accepted")
	if _, ok := s["leadbox_outbox_messages"]; ok {
		t.Errorf("the scrape has outbox gauges the database could not give")
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("log:\n%s\nwant the cause", logs.String())
	}
}

// TestCountConsent: consent events are counted once committed, and only
// then: a duplicate submission, a repeated opt-out or confirmation, which
// store nothing, count nothing.
func TestCountConsent(t *testing.T) {
	ctx := t.Context()
	m := newMetrics(t, metrics.Options{})
	store := m.CountConsent(openStore(t))

	ann := storetest.NewSubmission(t, store, "ann@example.com")
	if _, err := store.CreateLeadOnce(ctx, ann.Lead, ann.Consent, ann.Outbox, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	again := storetest.NewSubmission(t, store, "ann@example.com")
	again.Lead.Message = ann.Lead.Message
	dup, err := store.CreateLeadOnce(ctx, again.Lead, again.Consent, again.Outbox,
		models.Guards{DuplicateSince: time.Now().UTC().Add(-time.Minute)})
	if err != nil || !dup.Duplicate {
		t.Fatalf("the same submission again: duplicate %v, %v; want a duplicate", dup.Duplicate, err)
	}
	bob := storetest.NewSubmission(t, store, "bob@example.com")
	bob.Consent.Action = models.ActionNotGiven
	bob.Lead.ConfirmToken, bob.Lead.ConfirmExpiresAt, bob.Outbox = nil, nil, bob.Outbox[:1]
	if _, err := store.CreateLeadOnce(ctx, bob.Lead, bob.Consent, bob.Outbox, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := store.Confirm(ctx, *ann.Lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := store.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOneClick}); err != nil {
			t.Fatal(err)
		}
	}

	s := scrape(t, m)
	want(t, s, 1, "leadbox_consent_events_total", "event", "given")
	want(t, s, 1, "leadbox_consent_events_total", "event", "not_given")
	want(t, s, 1, "leadbox_consent_events_total", "event", "confirmed")
	want(t, s, 1, "leadbox_consent_events_total", "event", "withdrawn")
	history, err := store.ConsentHistory(ctx, "ann@example.com")
	if err != nil || len(history) != 3 {
		t.Errorf("ann's ledger holds %d events (%v), want 3: the counts must match it", len(history), err)
	}
}

// TestCountSuppressions: a suppression counts the withdrawal it writes
// into a known address's ledger, and the one it writes back when an
// address suppressed while unknown first submits; a repeat counts nothing.
func TestCountSuppressions(t *testing.T) {
	ctx := t.Context()
	m := newMetrics(t, metrics.Options{})
	store := m.CountConsent(openStore(t))
	o := models.Origin{Actor: "dpo", At: time.Now().UTC()}

	ann := storetest.NewSubmission(t, store, "ann@example.com")
	if _, err := store.CreateLeadOnce(ctx, ann.Lead, ann.Consent, ann.Outbox, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := store.Suppress(ctx, "ann@example.com", models.MethodSuppression, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Suppress(ctx, "carol@example.com", models.MethodSuppression, o); err != nil {
		t.Fatal(err)
	}
	carol := storetest.NewSubmission(t, store, "carol@example.com")
	if _, err := store.CreateLeadOnce(ctx, carol.Lead, carol.Consent, carol.Outbox, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	s := scrape(t, m)
	want(t, s, 2, "leadbox_consent_events_total", "event", "given")
	want(t, s, 2, "leadbox_consent_events_total", "event", "withdrawn")
	var events int
	for _, addr := range []string{"ann@example.com", "carol@example.com"} {
		h, err := store.ConsentHistory(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		events += len(h)
	}
	if events != 4 {
		t.Errorf("the ledgers hold %d events, want 4: the counts must match them", events)
	}
}
