package sqlite

import (
	"context"
	"fmt"
	"hash/maphash"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// TestConfirmationLimitAsksNoQuery: while the index covers the window the
// limit is decided from memory, with no query in the single writer's
// path. To tell the two apart the test deletes the queued confirmation
// emails behind the store's back: the database would then count none.
func TestConfirmationLimitAsksNoQuery(t *testing.T) {
	s := newStore(t)
	now := time.Now().UTC()
	submitTicked(t, s, "ann@example.com", now, limitOf(2))
	submitTicked(t, s, "ann@example.com", now, limitOf(2))
	if err := s.w.Exec("DELETE FROM outbox WHERE kind = ?", models.KindConsentConfirmation).Error; err != nil {
		t.Fatalf("delete the confirmation emails: %v", err)
	}
	if !submitTicked(t, s, "ann@example.com", now, limitOf(2)) {
		t.Error("a third confirmation was queued: the limit was counted in the database, not in memory")
	}
}

// TestConfirmationLimitWithinOneGroup: the group's own uncommitted
// confirmations count.
func TestConfirmationLimitWithinOneGroup(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var group []*createReq
	for range 3 {
		lead, ev, out := newLead(t, s, "ann@example.com")
		lead.Message = "Message " + models.NewToken(4)
		group = append(group, newReq(ctx, s, lead, ev, out, limitOf(2)))
	}
	s.commits.commit(group)
	for i, r := range group {
		if r.err != nil || r.dropped != (i == 2) {
			t.Errorf("request %d: err %v, dropped %v; want only the third dropped", i+1, r.err, r.dropped)
		}
	}
	if got := confirmationsQueued(t, s, "ann@example.com"); got != 2 {
		t.Errorf("%d confirmations queued, want 2", got)
	}
}

// TestConfirmationLimitSurvivesRestart: the counts are loaded back from the
// outbox.
func TestConfirmationLimitSurvivesRestart(t *testing.T) {
	s, path := newStoreAt(t)
	now := time.Now().UTC()
	submitTicked(t, s, "ann@example.com", now.Add(-models.ConfirmWindow-time.Minute), limitOf(2)) // too old to count
	submitTicked(t, s, "ann@example.com", now.Add(-time.Hour), limitOf(2))
	submitTicked(t, s, "ann@example.com", now.Add(-time.Minute), limitOf(2))
	s = reopen(t, s, path)
	if got := s.commits.confirms.count[s.commits.confirms.key("ann@example.com")]; got != 2 {
		t.Errorf("after a restart the index counts %d confirmations for ann, want the 2 of the last day", got)
	}
	if !submitTicked(t, s, "ann@example.com", now, limitOf(2)) {
		t.Error("after a restart, a third confirmation within a day was queued")
	}
}

// TestConfirmationLimitBeyondMemory: when more confirmations were queued
// than the index holds, checks reaching back past what it forgot count in
// the database, and still hold the limit.
func TestConfirmationLimitBeyondMemory(t *testing.T) {
	defer func(n int) { maxConfirmEntries = n }(maxConfirmEntries)
	maxConfirmEntries = 4
	s := newStore(t)
	now := time.Now().UTC()
	submitTicked(t, s, "ann@example.com", now.Add(-2*time.Hour), limitOf(2))
	submitTicked(t, s, "ann@example.com", now.Add(-time.Hour), limitOf(2))
	for i := range 5 { // others push ann's two out of the index
		submitTicked(t, s, fmt.Sprintf("other%d@example.com", i), now.Add(-time.Minute), limitOf(2))
	}
	person := s.commits.confirms.key("ann@example.com")
	if got := s.commits.confirms.count[person]; got != 0 {
		t.Fatalf("the index still counts %d confirmations for ann; the test needs them forgotten", got)
	}
	if _, ok := s.commits.confirms.known(person, now.Add(-models.ConfirmWindow)); ok {
		t.Fatal("the index claims to know the whole day after forgetting part of it")
	}
	if !submitTicked(t, s, "ann@example.com", now, limitOf(2)) {
		t.Error("a third confirmation was queued once the index had forgotten the first two")
	}
	if got := confirmationsQueued(t, s, "ann@example.com"); got != 2 {
		t.Errorf("%d confirmations queued for ann, want 2", got)
	}
}

func TestConfirmIndexRing(t *testing.T) {
	defer func(n int) { maxConfirmEntries = n }(maxConfirmEntries)
	maxConfirmEntries = 3
	c := newConfirmIndex(maphash.MakeSeed())
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	a, b := c.key("a@example.com"), c.key("b@example.com")
	c.from = t0.Add(-models.ConfirmWindow)
	c.add(a, t0)
	c.add(b, t0.Add(time.Second))
	c.add(a, t0.Add(2*time.Second))
	if n, ok := c.known(a, t0.Add(-time.Hour)); !ok || n != 2 {
		t.Errorf("a: %d, %v; want 2, true", n, ok)
	}
	c.add(b, t0.Add(3*time.Second)) // forgets a's first
	if _, ok := c.known(a, t0.Add(-time.Hour)); ok {
		t.Error("the index claims to know the time of an entry it forgot")
	}
	if n, ok := c.known(a, t0.Add(time.Second)); !ok || n != 1 {
		t.Errorf("a since t0+1s: %d, %v; want 1, true", n, ok)
	}
	// Expiry drops the oldest entries and empties the map.
	if n, ok := c.known(b, t0.Add(time.Hour)); !ok || n != 0 || len(c.count) != 0 || c.size != 0 {
		t.Errorf("after expiry: b %d, %v; map %v, size %d; want 0, true, empty, 0", n, ok, c.count, c.size)
	}
}

// TestConfirmationLimitCountsSubaddresses: victim+1@, victim+2@ ... reach
// victim@'s inbox at most providers (RFC 5233), so they share its count,
// in memory and, once the index has forgotten them, in the database. A
// "+" inside another local part, or the same local part at another
// domain, is someone else.
func TestConfirmationLimitCountsSubaddresses(t *testing.T) {
	defer func(n int) { maxConfirmEntries = n }(maxConfirmEntries)
	maxConfirmEntries = 6
	s := newStore(t)
	now := time.Now().UTC()
	victim := s.commits.confirms.key("victim@example.com")
	// In memory: the index covers the whole day.
	for i, email := range []string{"victim@example.com", "victim+1@example.com", "Victim+x_y%z@example.com"} {
		if _, ok := s.commits.confirms.known(victim, now.Add(-models.ConfirmWindow)); !ok {
			t.Fatal("the index does not cover the day; this part of the test needs it to")
		}
		if got, want := submitTicked(t, s, email, now, limitOf(2)), i == 2; got != want {
			t.Errorf("in memory, submission %d (%s): dropped = %v, want %v", i+1, email, got, want)
		}
	}
	for _, email := range []string{"victim@example.org", "victimx+1@example.com", "vict+im@example.com"} {
		if submitTicked(t, s, email, now, limitOf(2)) {
			t.Errorf("in memory, %s is someone else, but its confirmation was dropped", email)
		}
	}
	// In the database: others push the victim's two out of the index.
	for i := range maxConfirmEntries {
		submitTicked(t, s, fmt.Sprintf("other%d@example.com", i), now.Add(time.Millisecond), limitOf(2))
	}
	if _, ok := s.commits.confirms.known(victim, now.Add(2*time.Millisecond-models.ConfirmWindow)); ok {
		t.Fatal("the index still knows the whole day; the database part of the test needs it forgotten")
	}
	later := now.Add(2 * time.Millisecond)
	if !submitTicked(t, s, "victim+2@example.com", later, limitOf(2)) {
		t.Error("in the database, a subaddress got a third confirmation")
	}
	if submitTicked(t, s, "victim+3@example.org", later, limitOf(2)) {
		t.Error("in the database, victim+3@example.org (another domain, one earlier email to victim@) was dropped")
	}
}
