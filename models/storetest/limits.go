package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// limitOf is the guard that allows n confirmation emails per person in
// models.ConfirmWindow.
func limitOf(n int) models.Guards {
	return models.Guards{LimitConfirmations: true, MaxConfirmations: n}
}

// submitTicked commits a ticked submission of email with a new message,
// made at at, and reports whether its confirmation email was dropped.
func submitTicked(t *testing.T, s models.Store, email string, at time.Time, g models.Guards) bool {
	t.Helper()
	sub := NewSubmission(t, s, email).at(at)
	sub.Lead.Message = "Message " + models.NewToken(4)
	c := create(t, s, sub, g)
	if c.ConfirmationDropped != (sub.Outbox[1].ID == 0) {
		t.Errorf("ConfirmationDropped = %v but the confirmation's outbox id is %d", c.ConfirmationDropped, sub.Outbox[1].ID)
	}
	return c.ConfirmationDropped
}

// confirmations counts the confirmation emails queued for a person's
// leads, straight from the tables.
func confirmations(t *testing.T, e Engine, s models.Store, subject string) int64 {
	t.Helper()
	return rows(t, e, s, "outbox", "kind = ? AND lead_id IN (SELECT id FROM leads WHERE email_key = ?)",
		models.KindConsentConfirmation, subject)
}

func testConfirmationLimit(t *testing.T, e Engine) {
	s := e.Open(t)
	now := time.Now().UTC()
	for i, want := range []bool{false, false, true} {
		if got := submitTicked(t, s, "Ann@Example.com", now, limitOf(2)); got != want {
			t.Errorf("submission %d: dropped = %v, want %v", i+1, got, want)
		}
	}
	if submitTicked(t, s, "bob@example.com", now, limitOf(2)) {
		t.Error("bob's first confirmation was dropped: people share a count")
	}
	if got := confirmations(t, e, s, "ann@example.com"); got != 2 {
		t.Errorf("%d confirmations queued for ann, want 2", got)
	}
	if got := counts(t, e, s); got[0] != 4 || got[1] != 4 {
		t.Errorf("%d leads and %d consent events, want every submission kept: 4 and 4", got[0], got[1])
	}
	if submitTicked(t, s, "ann@example.com", now.Add(models.ConfirmWindow+time.Second), limitOf(2)) {
		t.Error("a confirmation a whole window later was dropped")
	}
	if !submitTicked(t, s, "ann@example.com", now.Add(models.ConfirmWindow+time.Second), limitOf(1)) {
		t.Error("a lower limit was not applied")
	}
}

// testConfirmationLimitCountsMailboxes: the spellings and subaddresses
// that reach one mailbox share its count.
func testConfirmationLimitCountsMailboxes(t *testing.T, e Engine) {
	s := e.Open(t)
	now := time.Now().UTC()
	for i, email := range []string{"victim@example.com", "VICTIM+1@Example.com", "victim+2@ｅxample.com", "victim+x@example.com"} {
		if got, want := submitTicked(t, s, email, now, limitOf(2)), i >= 2; got != want {
			t.Errorf("%s: dropped = %v, want %v", email, got, want)
		}
	}
	if submitTicked(t, s, "victimx@example.com", now, limitOf(2)) {
		t.Error("another mailbox sharing a prefix was limited")
	}
	if submitTicked(t, s, "victim@example.org", now, limitOf(2)) {
		t.Error("the same local part at another domain was limited")
	}
}

func testConfirmationLimitSimultaneous(t *testing.T, e Engine) {
	s := e.Open(t)
	now := time.Now().UTC()
	const n = 12
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { submitTicked(t, s, "victim@example.com", now, limitOf(3)) })
	}
	wg.Wait()
	if got := confirmations(t, e, s, "victim@example.com"); got != 3 {
		t.Errorf("%d confirmations queued by %d simultaneous submissions, want the limit of 3", got, n)
	}
	if got := rows(t, e, s, "leads"); got != n {
		t.Errorf("%d leads, want all %d", got, n)
	}
}

func testConfirmationLimitSurvivesRestart(t *testing.T, e Engine) {
	s := e.Open(t)
	now := time.Now().UTC()
	submitTicked(t, s, "ann@example.com", now.Add(-models.ConfirmWindow-time.Hour), limitOf(2)) // too old to count
	submitTicked(t, s, "ann@example.com", now.Add(-time.Hour), limitOf(2))
	submitTicked(t, s, "ann@example.com", now.Add(-time.Minute), limitOf(2))
	s = e.Reopen(t, s)
	if !submitTicked(t, s, "ann@example.com", now, limitOf(2)) {
		t.Error("after a restart, a third confirmation within the window was queued")
	}
}

func testSpamTallies(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	l := models.NewSpamLog(s, 24*time.Hour)
	t0 := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	l.Now = func() time.Time { return t0 }
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { l.Note(models.SpamHoneypot) })
	}
	wg.Wait()
	l.Note(models.SpamTimeTrap)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	l.Note(models.SpamHoneypot) // the same hour adds to the same row
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.SpamCounts(ctx, t0.Add(-time.Hour))
	want := []models.SpamCount{{Reason: models.SpamHoneypot, Count: 51}, {Reason: models.SpamTimeTrap, Count: 1}}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("SpamCounts = %v, %v; want %v", got, err, want)
	}
	if n := rows(t, e, s, "spam_tallies"); n != 2 {
		t.Errorf("%d tally rows, want 2 (one per hour and reason)", n)
	}
	l.Now = func() time.Time { return t0.Add(3 * time.Hour) }
	l.Note(models.SpamDuplicate)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeSpam(ctx, t0.Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("PurgeSpam = %d, %v; want the 2 rows of the earlier hour", n, err)
	}
	if got, _ := s.SpamCounts(ctx, time.Time{}); len(got) != 1 || got[0] != (models.SpamCount{Reason: models.SpamDuplicate, Count: 1}) {
		t.Errorf("after the purge SpamCounts = %v, want only the later duplicate", got)
	}
}

func testSecrets(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	a, err := s.Secret(ctx, "form_stamp")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.Secret(ctx, "form_stamp"); err != nil || len(a) != 32 || !bytes.Equal(a, b) {
		t.Errorf("Secret twice = %x, %x (%v); want the same 32 bytes", a, b, err)
	}
	if c, _ := s.Secret(ctx, "other"); bytes.Equal(a, c) {
		t.Error("two secrets of different names are equal")
	}
	s = e.Reopen(t, s)
	if b, err := s.Secret(ctx, "form_stamp"); err != nil || !bytes.Equal(a, b) {
		t.Errorf("after a restart Secret = %x, %v; want %x", b, err, a)
	}
}

// testConfirmationLimitAcrossSpellings: full-width letters and the ASCII
// form of a domain reach the same mailbox (IDNA maps them), so they buy a
// bot no more confirmation emails to its victim.
func testConfirmationLimitAcrossSpellings(t *testing.T, e Engine) {
	s := e.Open(t)
	now := time.Now().UTC()
	for i, email := range []string{"victim@example.com", "victim@ｅxample.com", "victim@eｘample.com", "VICTIM@xn--bcher-kva.de", "victim@bücher.de"} {
		want := i != 0 && i != 3 // one each for example.com and bücher.de
		if got := submitTicked(t, s, email, now, limitOf(1)); got != want {
			t.Errorf("submission %d (%s): dropped = %v, want %v", i+1, email, got, want)
		}
	}
}
