package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

func TestRecentLeadsForgetsTheOldestFirst(t *testing.T) {
	r := newRecentLeads()
	t0 := time.Now()
	first := keyOf("a@example.com", models.ActionGiven, "hello")
	r.add(first, 1, t0)
	for i := range maxRecent {
		r.add(keyOf("b@example.com", models.ActionGiven, string(rune(i))), int64(i+2), t0)
	}
	if _, ok := r.find(first, t0.Add(-time.Minute)); ok {
		t.Error("the oldest entry survived maxRecent newer ones")
	}
	if len(r.byKey) != maxRecent || len(r.ring) != maxRecent {
		t.Errorf("index holds %d keys in a ring of %d, want %d", len(r.byKey), len(r.ring), maxRecent)
	}
	last := keyOf("b@example.com", models.ActionGiven, string(rune(maxRecent-1)))
	if id, ok := r.find(last, t0.Add(-time.Minute)); !ok || id != maxRecent+1 {
		t.Errorf("newest entry: %d, %v; want %d", id, ok, maxRecent+1)
	}
	if _, ok := r.find(last, t0.Add(time.Minute)); ok {
		t.Error("an entry older than the window was found")
	}
}

// TestDuplicateDetectionSurvivesRestart: a browser retrying just after a
// restart still gets the first lead.
func TestDuplicateDetectionSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	first, ev, out := newLead(t, s, "ann@example.com")
	if err := s.CreateLead(ctx, first, ev, out); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	again, ev2, out2 := newLead(t, s, "ann@example.com")
	again.Message = first.Message
	dup, err := duplicate(s.CreateLeadOnce(ctx, again, ev2, out2, models.Guards{DuplicateSince: time.Now().UTC().Add(-time.Minute)}))
	if err != nil || !dup || again.PublicID != first.PublicID {
		t.Errorf("after a restart: dup = %v (%q, want %q), err %v", dup, again.PublicID, first.PublicID, err)
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

// TestTickingAgainAfterAnOptOutIsNotADuplicate: someone who opted out and
// ticks the box again with the same message, within the duplicate window,
// gives consent anew: a new lead, a new "given" event and a new
// confirmation email. Without the opt-out it is a double click.
func TestTickingAgainAfterAnOptOutIsNotADuplicate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	guards := models.Guards{DuplicateSince: time.Now().UTC().Add(-time.Minute)}
	first, ev, out := newLead(t, s, "ann@example.com")
	if err := s.CreateLead(ctx, first, ev, out); err != nil {
		t.Fatal(err)
	}
	again, ev2, out2 := newLead(t, s, "ann@example.com")
	if dup, err := duplicate(s.CreateLeadOnce(ctx, again, ev2, out2, guards)); err != nil || !dup {
		t.Fatalf("the same submission again: duplicate %v, err %v; want a duplicate", dup, err)
	}
	// Someone else's opt-out changes nothing for Ann.
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "bob@example.com", At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
		t.Fatal(err)
	}
	other, evO, outO := newLead(t, s, "ann@example.com")
	if dup, err := duplicate(s.CreateLeadOnce(ctx, other, evO, outO, guards)); err != nil || !dup {
		t.Fatalf("after another person's opt-out: duplicate %v, err %v; want a duplicate", dup, err)
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
		t.Fatal(err)
	}
	third, ev3, out3 := newLead(t, s, "ann@example.com")
	if dup, err := duplicate(s.CreateLeadOnce(ctx, third, ev3, out3, guards)); err != nil || dup {
		t.Fatalf("ticked again after the opt-out: duplicate %v, err %v; want new consent", dup, err)
	}
	if third.ID == first.ID || out3[1].ID == 0 {
		t.Errorf("lead %d (first was %d), confirmation email %d; want a new lead with its own confirmation", third.ID, first.ID, out3[1].ID)
	}
	state, err := s.MarketingStateOf(ctx, "ann@example.com", true)
	if err != nil || state != models.StatePending {
		t.Errorf("state after consenting again: %s, %v; want %s", state, err, models.StatePending)
	}
	// And a double click of that new submission is a duplicate again.
	fourth, ev4, out4 := newLead(t, s, "ann@example.com")
	if dup, err := duplicate(s.CreateLeadOnce(ctx, fourth, ev4, out4, guards)); err != nil || !dup || fourth.ID != third.ID {
		t.Errorf("a double click of the renewed consent: duplicate %v (lead %d, want %d), err %v", dup, fourth.ID, third.ID, err)
	}
}

// TestEarlierSubmission: the read-side twin of the writer's duplicate rule
// (for a CAPTCHA retry) finds the same submission in the window, and not
// a ticked one the person has opted out of since.
func TestEarlierSubmission(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	first, ev, out := newLead(t, s, "ann@example.com")
	if err := s.CreateLead(ctx, first, ev, out); err != nil {
		t.Fatal(err)
	}
	since := time.Now().UTC().Add(-time.Minute)
	find := func() (models.Lead, error) {
		return s.EarlierSubmission(ctx, "ann@example.com", models.ActionGiven, first.Message, since)
	}
	if got, err := find(); err != nil || got.ID != first.ID {
		t.Fatalf("EarlierSubmission = lead %d, %v; want %d", got.ID, err, first.ID)
	}
	for name, err := range map[string]error{
		"another message": func() error {
			_, err := s.EarlierSubmission(ctx, "ann@example.com", models.ActionGiven, "Other", since)
			return err
		}(),
		"before the window": func() error {
			_, err := s.EarlierSubmission(ctx, "ann@example.com", models.ActionGiven, first.Message, time.Now().UTC().Add(time.Minute))
			return err
		}(),
		"another consent choice": func() error {
			_, err := s.EarlierSubmission(ctx, "ann@example.com", models.ActionNotGiven, first.Message, since)
			return err
		}(),
	} {
		if !errors.Is(err, models.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
		t.Fatal(err)
	}
	if _, err := find(); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("after an opt-out, the ticked submission again: %v, want ErrNotFound (it is new consent)", err)
	}
	// That new consent, made after the opt-out, is found again: only a
	// withdrawal after a submission renews it.
	renewed, ev2, out2 := newLead(t, s, "ann@example.com")
	if err := s.CreateLead(ctx, renewed, ev2, out2); err != nil {
		t.Fatal(err)
	}
	if got, err := find(); err != nil || got.ID != renewed.ID {
		t.Errorf("the consent given after the opt-out: lead %d, %v; want %d", got.ID, err, renewed.ID)
	}
}
