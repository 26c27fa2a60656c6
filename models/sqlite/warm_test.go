package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// guardsOf is the guards of the default settings: duplicates within a
// minute, at most n confirmation emails a day.
func guardsOf(n int) models.Guards {
	g := limitOf(n)
	g.DuplicateSince = time.Now().UTC().Add(-time.Minute)
	return g
}

// TestGuardsWhileIndexesLoad: a store serves before its in-memory indexes
// are loaded, and its guards hold meanwhile (answered by the database);
// once loaded, the indexes know what was committed in between, and count
// it once.
func TestGuardsWhileIndexesLoad(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	first, ev, out := newLead(t, s, "ann@example.com")
	if _, err := s.CreateLeadOnce(ctx, first, ev, out, guardsOf(2)); err != nil {
		t.Fatalf("first submission: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	s = openCold(t, path, release)
	select {
	case <-s.IndexesLoaded():
		t.Fatal("the indexes were loaded while their load was held")
	default:
	}
	again, ev, out := newLead(t, s, "ann@example.com")
	c, err := s.CreateLeadOnce(ctx, again, ev, out, guardsOf(2))
	if err != nil || !c.Duplicate || again.PublicID != first.PublicID {
		t.Fatalf("the same submission while loading: %+v, %v, lead %q; want a duplicate of %q", c, err, again.PublicID, first.PublicID)
	}
	if submitTicked(t, s, "ann@example.com", time.Now().UTC(), guardsOf(2)) {
		t.Error("the second confirmation within a day was dropped while the indexes loaded")
	}
	if !submitTicked(t, s, "ann@example.com", time.Now().UTC(), guardsOf(2)) {
		t.Error("a third confirmation within a day was queued while the indexes loaded")
	}

	close(release)
	waitLoaded(t, s)
	if got := s.commits.confirms.count[s.commits.confirms.key("ann@example.com")]; got != 2 {
		t.Errorf("once loaded, the index counts %d confirmations for ann, want 2", got)
	}
	// Now from memory: delete the rows behind the store's back; the
	// index still knows them.
	if err := s.w.Exec("DELETE FROM outbox WHERE kind = ?", models.KindConsentConfirmation).Error; err != nil {
		t.Fatalf("delete the confirmation emails: %v", err)
	}
	if !submitTicked(t, s, "ann@example.com", time.Now().UTC(), guardsOf(2)) {
		t.Error("after the load, the limit was not counted in memory")
	}
}

// TestIndexesLearnWhatWasCommittedWhileLoading: what the writer committed
// after the load's snapshot is added once the indexes arrive, and an
// erasure made meanwhile is applied to them.
func TestIndexesLearnWhatWasCommittedWhileLoading(t *testing.T) {
	ctx := context.Background()
	_, path := newStoreAt(t)
	s := openCold(t, path, nil)
	submit := func(email string) *models.Lead {
		lead, ev, out := newLead(t, s, email)
		if _, err := s.CreateLeadOnce(ctx, lead, ev, out, guardsOf(5)); err != nil {
			t.Fatalf("submit: %v", err)
		}
		return lead
	}
	ann, bob := submit("ann@example.com"), submit("bob@example.com")
	if _, err := s.EraseSubject(ctx, "bob@example.com", models.Origin{}); err != nil {
		t.Fatalf("erase bob: %v", err)
	}
	// The writer is idle and its answers are back, so its pending work
	// can be read here. A load whose snapshot saw none of it:
	g := s.commits
	w := &warmIndexes{recent: newRecentLeads(), confirms: newConfirmIndex(g.seed)}
	w.recent.add(keyOf("bob@example.com", models.ActionGiven, "Hello"), recentLead{id: bob.ID, at: bob.CreatedAt.UnixNano()}) // as if seen before the erasure
	for _, apply := range g.pending {
		apply(w)
	}
	if l, ok := w.recent.find(keyOf("ann@example.com", models.ActionGiven, ann.Message), time.Now().Add(-time.Minute)); !ok || l.id != ann.ID || l.publicID != ann.PublicID {
		t.Errorf("ann's submission in the loaded index: %+v, %v; want lead %d (%s)", l, ok, ann.ID, ann.PublicID)
	}
	if _, ok := w.recent.find(keyOf("bob@example.com", models.ActionGiven, "Hello"), time.Now().Add(-time.Minute)); ok {
		t.Error("bob's erased submission is in the loaded index")
	}
	if got := w.confirms.count[w.confirms.key("ann@example.com")]; got != 1 {
		t.Errorf("ann's confirmations in the loaded index: %d, want 1", got)
	}
	// A snapshot that saw ann's lead already counts it: not again.
	w = &warmIndexes{recent: newRecentLeads(), confirms: newConfirmIndex(g.seed), upTo: bob.ID}
	w.confirms.add(w.confirms.key("ann@example.com"), ann.CreatedAt)
	for _, apply := range g.pending {
		apply(w)
	}
	if got := w.confirms.count[w.confirms.key("ann@example.com")]; got != 1 {
		t.Errorf("ann's confirmations, seen by the snapshot and committed while loading: %d, want 1", got)
	}
}
