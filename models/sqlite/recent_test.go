package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

func TestRecentLeadsForgetsTheOldestFirst(t *testing.T) {
	r := newRecentLeads()
	t0 := time.Now()
	first := keyOf("a@example.com", models.ActionGiven, "hello")
	r.add(first, recentLead{id: 1, at: t0.UnixNano()})
	for i := range maxRecent {
		r.add(keyOf("b@example.com", models.ActionGiven, string(rune(i))), recentLead{id: int64(i + 2), at: t0.UnixNano()})
	}
	if _, ok := r.find(first, t0.Add(-time.Minute)); ok {
		t.Error("the oldest entry survived maxRecent newer ones")
	}
	if len(r.byKey) != maxRecent || len(r.ring) != maxRecent {
		t.Errorf("index holds %d keys in a ring of %d, want %d", len(r.byKey), len(r.ring), maxRecent)
	}
	last := keyOf("b@example.com", models.ActionGiven, string(rune(maxRecent-1)))
	if l, ok := r.find(last, t0.Add(-time.Minute)); !ok || l.id != maxRecent+1 {
		t.Errorf("newest entry: %d, %v; want %d", l.id, ok, maxRecent+1)
	}
	if _, ok := r.find(last, t0.Add(time.Minute)); ok {
		t.Error("an entry older than the window was found")
	}
}

// TestDuplicateWithinOneGroup: two copies committed in the same group are
// one lead.
func TestDuplicateWithinOneGroup(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	since := time.Now().UTC().Add(-time.Minute)
	var group []*createReq
	for range 2 {
		lead, ev, out := newLead(t, s, "ann@example.com")
		lead.Message = "Same words."
		group = append(group, newReq(ctx, s, lead, ev, out, models.Guards{DuplicateSince: since}))
	}
	s.commits.commit(group)
	if group[0].err != nil || group[1].err != nil || group[0].earlier != 0 || group[1].earlier != group[0].lead.ID {
		t.Errorf("group outcomes: (%v, %d), (%v, %d); want the second to point at lead %d",
			group[0].err, group[0].earlier, group[1].err, group[1].earlier, group[0].lead.ID)
	}
	if got := rowCounts(t, s); got[0] != 1 {
		t.Errorf("%d leads, want 1", got[0])
	}
}
