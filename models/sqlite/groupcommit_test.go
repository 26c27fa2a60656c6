package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// TestGroupCommitIsolatesFailures commits a group in which one submission
// breaks a constraint: it alone fails, the others are stored whole.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var group []*createReq
	for i, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		lead, ev, out := newLead(t, s, email)
		if i == 2 {
			lead.PublicID = group[0].lead.PublicID // unique constraint
		}
		group = append(group, newReq(ctx, s, lead, ev, out, models.Guards{}))
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	lead, ev, out := newLead(t, s, "d@example.com")
	group = append(group, newReq(cancelled, s, lead, ev, out, models.Guards{}))

	s.commits.commit(group)

	for i, wantErr := range []bool{false, false, true, true} {
		if (group[i].err != nil) != wantErr {
			t.Errorf("request %d: err = %v, want error %v", i, group[i].err, wantErr)
		}
	}
	if !errors.Is(group[3].err, context.Canceled) {
		t.Errorf("cancelled request: err = %v, want context.Canceled", group[3].err)
	}
	if got := rowCounts(t, s); got != [3]int64{2, 2, 4} {
		t.Errorf("rows (leads, events, outbox) = %v, want the two good submissions whole: [2 2 4]", got)
	}
}

// TestGroupCommitUnderConcurrency creates leads from many goroutines at
// once; each gets its own answer and every one is stored.
func TestGroupCommitUnderConcurrency(t *testing.T) {
	s := newStore(t)
	const n = 200
	var wg sync.WaitGroup
	ids := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			lead, ev, out := newLead(t, s, fmt.Sprintf("p%d@example.com", i))
			if err := s.CreateLead(context.Background(), lead, ev, out); err != nil {
				t.Errorf("CreateLead %d: %v", i, err)
			}
			ids[i] = lead.ID
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, id := range ids {
		if id == 0 || seen[id] {
			t.Errorf("lead %d got id %d (zero or shared)", i, id)
		}
		seen[id] = true
	}
	if got := rowCounts(t, s); got != [3]int64{n, n, 2 * n} {
		t.Errorf("rows = %v, want [%d %d %d]", got, n, n, 2*n)
	}
}

func TestCreateLeadAfterClose(t *testing.T) {
	s := newStore(t)
	lead, ev, out := newLead(t, s, "late@example.com")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLead(context.Background(), lead, ev, out); !errors.Is(err, errStoreClosed) {
		t.Errorf("CreateLead after Close = %v, want errStoreClosed", err)
	}
}

// TestFormBusy: submissions queuing up behind the writer make the form
// busy, and it stops being busy once they are gone.
func TestFormBusy(t *testing.T) {
	s := newStore(t)
	if s.FormBusy() {
		t.Error("a fresh store says the form is busy")
	}
	var wg sync.WaitGroup
	for i := range 100 { // far more than one commit can take at once
		wg.Go(func() {
			lead, ev, out := newLead(t, s, fmt.Sprintf("b%d@example.com", i))
			if err := s.CreateLead(context.Background(), lead, ev, out); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if !s.FormBusy() {
		t.Error("after 100 simultaneous submissions the form is not busy")
	}
	s.commits.crowdedAt.Store(time.Now().Add(-busyFor).UnixNano())
	if s.FormBusy() {
		t.Error("still busy", busyFor, "after the last crowded group")
	}
}
