package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// outboxIn lists every message in status, a page at a time.
func outboxIn(ctx context.Context, s models.Store, status string) ([]models.OutboxMessage, error) {
	var all []models.OutboxMessage
	var after int64
	for {
		page, err := s.OutboxPage(ctx, []string{status}, after, 2)
		if err != nil || len(page) == 0 {
			return all, err
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
}

// testOutboxPagesAndCounts: the outbox listed a page at a time, oldest
// first, nothing repeated or skipped, and counted by state with the age of
// its oldest pending message.
func testOutboxPagesAndCounts(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	if c, err := s.OutboxCounts(ctx); err != nil || len(c.ByStatus) != 0 || !c.OldestPending.IsZero() {
		t.Fatalf("counts of an empty outbox: %+v, %v", c, err)
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var want []int64
	for i := range 5 {
		sub := NewSubmission(t, s, fmt.Sprintf("p%d@example.com", i)).at(t0.Add(time.Duration(i) * time.Minute))
		for j := range sub.Outbox {
			sub.Outbox[j].QueuedAt = sub.Lead.CreatedAt
		}
		create(t, s, sub, models.Guards{})
		for _, m := range sub.Outbox {
			want = append(want, m.ID)
		}
	}
	slices.Sort(want)
	now := time.Now().UTC()
	claimed, err := s.ClaimDue(ctx, now, 1, now.Add(time.Minute)) // the oldest is now being sent
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimDue = %d, %v", len(claimed), err)
	}
	var got []int64
	var after int64
	pages := 0
	for {
		page, err := s.OutboxPage(ctx, []string{models.StatusPending, models.StatusSending}, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, m := range page {
			if m.Lead == nil {
				t.Errorf("message %d listed without its lead", m.ID)
			}
			got = append(got, m.ID)
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) || pages != 4 {
		t.Errorf("pages of 3 gave %v in %d pages, want %v in 4", got, pages, want)
	}
	c, err := s.OutboxCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.ByStatus[models.StatusPending] != int64(len(want)-1) || c.ByStatus[models.StatusSending] != 1 {
		t.Errorf("counts %v, want %d pending and 1 sending", c.ByStatus, len(want)-1)
	}
	// The oldest pending: the first lead's confirmation email (its sales
	// email is the one being sent).
	if !c.OldestPending.Equal(t0) {
		t.Errorf("oldest pending queued at %v, want %v", c.OldestPending, t0)
	}
}

func ids(msgs []models.OutboxMessage) []int64 {
	out := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	slices.Sort(out)
	return out
}

// testOutboxClaimAndLease: due messages are leased to one claimer until
// the lease runs out; then another may take them over.
func testOutboxClaimAndLease(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	a, b := NewSubmission(t, s, "ann@example.com"), NewSubmission(t, s, "bob@example.com")
	create(t, s, a, models.Guards{})
	create(t, s, b, models.Guards{})
	now := time.Now().UTC()

	if at, ok, err := s.NextDue(ctx); err != nil || !ok || at.After(now) {
		t.Errorf("NextDue = %v, %v, %v; want a message due by now", at, ok, err)
	}
	first, err := s.ClaimDue(ctx, now, 3, now.Add(time.Minute))
	if err != nil || len(first) != 3 {
		t.Fatalf("ClaimDue(limit 3) = %d messages, %v; want 3", len(first), err)
	}
	for _, m := range first {
		if m.Status != models.StatusSending || m.LeaseUntil == nil || m.Lead == nil {
			t.Errorf("claimed message %d: status %q, lease %v, lead loaded %v; want sending, leased, with its lead",
				m.ID, m.Status, m.LeaseUntil, m.Lead != nil)
		}
	}
	rest, err := s.ClaimDue(ctx, now, 10, now.Add(time.Minute))
	if err != nil || len(rest) != 1 || slices.Contains(ids(first), rest[0].ID) {
		t.Fatalf("a second ClaimDue = %v, %v; want only the one message not leased", ids(rest), err)
	}
	if again, err := s.ClaimDue(ctx, now.Add(30*time.Second), 10, now.Add(2*time.Minute)); err != nil || len(again) != 0 {
		t.Errorf("ClaimDue within the lease = %v, %v; want nothing", ids(again), err)
	}
	// The first claimer keeps its messages by extending the lease.
	if err := s.ExtendLease(ctx, ids(first), now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimDue(ctx, now.Add(2*time.Minute), 10, now.Add(time.Hour)); err != nil || len(got) != 1 || got[0].ID != rest[0].ID {
		t.Errorf("after the lease of one claim ran out: %v, %v; want only its message %d", ids(got), err, rest[0].ID)
	}
	// A claimer that died: its lease runs out and the messages are due.
	taken, err := s.ClaimDue(ctx, now.Add(6*time.Minute), 10, now.Add(7*time.Minute))
	if err != nil || !slices.Equal(ids(taken), ids(first)) {
		t.Errorf("after the extended lease ran out: %v, %v; want %v taken over", ids(taken), err, ids(first))
	}
}

// testOutboxOutcomes: what a worker records of each message, and what an
// operator can requeue.
func testOutboxOutcomes(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	for _, email := range []string{"a@example.com", "b@example.com"} {
		create(t, s, NewSubmission(t, s, email), models.Guards{})
	}
	now := time.Now().UTC()
	msgs, err := s.ClaimDue(ctx, now, 10, now.Add(time.Minute))
	if err != nil || len(msgs) != 4 {
		t.Fatalf("ClaimDue = %d, %v; want 4", len(msgs), err)
	}
	sentAt, retryAt := now.Add(time.Second), now.Add(time.Hour)
	outcomes := []models.Outcome{
		{ID: msgs[0].ID, Status: models.StatusSent, At: sentAt, Attempted: true},
		{ID: msgs[1].ID, Status: models.StatusPending, Next: retryAt, Reason: "421 try later", Attempted: true},
		{ID: msgs[2].ID, Status: models.StatusFailed, Reason: "550 no such user", Attempted: true},
		{ID: msgs[3].ID, Status: models.StatusPending}, // given back untried
	}
	if err := s.Record(ctx, outcomes); err != nil {
		t.Fatalf("Record: %v", err)
	}
	byID := map[int64]models.OutboxMessage{}
	for _, st := range []string{models.StatusSent, models.StatusPending, models.StatusFailed} {
		got, err := outboxIn(ctx, s, st)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			byID[m.ID] = m
		}
	}
	check := func(i int, status string, attempts int, lastError string) {
		t.Helper()
		m, ok := byID[msgs[i].ID]
		if !ok || m.Status != status || m.Attempts != attempts || m.LastError != lastError || m.LeaseUntil != nil {
			t.Errorf("message %d: %+v; want %s after %d attempts, error %q, no lease", i, m, status, attempts, lastError)
		}
	}
	check(0, models.StatusSent, 1, "")
	check(1, models.StatusPending, 1, "421 try later")
	check(2, models.StatusFailed, 1, "550 no such user")
	check(3, models.StatusPending, 0, "")
	if m := byID[msgs[0].ID]; m.SentAt == nil || !m.SentAt.Equal(sentAt) {
		t.Errorf("sent at %v, want %v", m.SentAt, sentAt)
	}
	if m := byID[msgs[1].ID]; !m.NextAttemptAt.Equal(retryAt) {
		t.Errorf("retry due %v, want %v", m.NextAttemptAt, retryAt)
	}
	// An outcome for a message no longer leased to the recorder is not
	// written: another worker took it over.
	if err := s.Record(ctx, []models.Outcome{{ID: msgs[0].ID, Status: models.StatusFailed, Reason: "late"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := outboxIn(ctx, s, models.StatusFailed); len(got) != 1 {
		t.Errorf("%d failed messages after a stale outcome, want 1 (unchanged)", len(got))
	}

	// Requeue: failed or cancelled messages only, due now, attempts kept.
	later := now.Add(2 * time.Minute)
	if err := s.Requeue(ctx, msgs[2].ID, later); err != nil {
		t.Fatalf("Requeue a failed message: %v", err)
	}
	if err := s.Requeue(ctx, msgs[1].ID, later); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("Requeue a pending message: %v, want ErrNotFound", err)
	}
	if err := s.Requeue(ctx, 987654, later); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("Requeue an unknown id: %v, want ErrNotFound", err)
	}
	due, err := s.ClaimDue(ctx, later, 10, later.Add(time.Minute))
	if err != nil || !slices.Contains(ids(due), msgs[2].ID) {
		t.Fatalf("ClaimDue after the requeue = %v, %v; want %d", ids(due), err, msgs[2].ID)
	}
	for _, m := range due {
		if m.ID == msgs[2].ID && (m.Attempts != 1 || !m.QueuedAt.Equal(later)) {
			t.Errorf("requeued message: %d attempts, queued %v; want 1 kept, queued %v", m.Attempts, m.QueuedAt, later)
		}
	}
}

// testOutboxLanes: emails and webhooks share the outbox but not their
// claims: ClaimDue and NextDue see emails only, ClaimDueWebhooks and
// NextDueWebhook webhooks only, each with its lead; Cancel stops a
// pending message of either kind, and only a pending one.
func testOutboxLanes(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "lanes@example.com")
	sub.Outbox = append(sub.Outbox, models.WebhookRows([]string{"https://crm.example.com/h"},
		models.EventLeadCreated, 0, "", sub.Lead.CreatedAt)...)
	create(t, s, sub, models.Guards{})
	hook := sub.Outbox[len(sub.Outbox)-1]
	if hook.ID == 0 {
		t.Fatal("the webhook row was not stored")
	}
	later := time.Now().UTC().Add(time.Minute)
	mails, err := s.ClaimDue(ctx, later, 10, later.Add(time.Minute))
	if err != nil || len(mails) != len(sub.Outbox)-1 {
		t.Fatalf("ClaimDue = %v, %v; want the %d emails", ids(mails), err, len(sub.Outbox)-1)
	}
	for _, m := range mails {
		if m.Kind == models.KindWebhook {
			t.Errorf("ClaimDue claimed webhook %d", m.ID)
		}
	}
	if _, ok, err := s.NextDue(ctx); err != nil || ok {
		t.Errorf("NextDue with only a webhook pending = %v, %v; want nothing", ok, err)
	}
	if _, ok, err := s.NextDueWebhook(ctx); err != nil || !ok {
		t.Errorf("NextDueWebhook = %v, %v; want the webhook", ok, err)
	}
	if err := s.Cancel(ctx, mails[0].ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("Cancel of an email being sent = %v, want ErrNotFound", err)
	}
	if err := s.Cancel(ctx, hook.ID); err != nil {
		t.Fatalf("Cancel of a pending webhook: %v", err)
	}
	if got, err := s.ClaimDueWebhooks(ctx, later, 10, later.Add(time.Minute)); err != nil || len(got) != 0 {
		t.Errorf("ClaimDueWebhooks after Cancel = %v, %v; want nothing", ids(got), err)
	}
	if err := s.Requeue(ctx, hook.ID, later); err != nil {
		t.Fatalf("Requeue of the cancelled webhook: %v", err)
	}
	got, err := s.ClaimDueWebhooks(ctx, later, 10, later.Add(time.Minute))
	if err != nil || len(got) != 1 || got[0].ID != hook.ID || got[0].Lead == nil || got[0].Target != hook.Target ||
		got[0].Event != models.EventLeadCreated {
		t.Fatalf("ClaimDueWebhooks = %+v, %v; want the webhook with its lead, event and target", got, err)
	}
}
