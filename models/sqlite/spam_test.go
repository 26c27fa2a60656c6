package sqlite

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

func TestSpamLogTalliesByHourAndReason(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
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
	l.Note(models.SpamHoneypot) // same hour: adds to the same row
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.SpamCounts(ctx, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []models.SpamCount{{Reason: models.SpamHoneypot, Count: 51}, {Reason: models.SpamTimeTrap, Count: 1}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("SpamCounts = %v, want %v", got, want)
	}
	var rows int64
	s.r.Model(&SpamTally{}).Count(&rows)
	if rows != 2 {
		t.Errorf("%d tally rows, want 2 (one per hour and reason)", rows)
	}

	// Purging removes hours before the cut-off only.
	l.Now = func() time.Time { return t0.Add(3 * time.Hour) }
	l.Note(models.SpamDuplicate)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeSpam(ctx, t0.Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("PurgeSpam = %d, %v; want 2 rows", n, err)
	}
	got, _ = s.SpamCounts(ctx, time.Time{})
	if len(got) != 1 || got[0] != (models.SpamCount{Reason: models.SpamDuplicate, Count: 1}) {
		t.Errorf("after purge SpamCounts = %v, want only the later duplicate", got)
	}
}

func TestSecretIsCreatedOnceAndShared(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a, err := s.Secret(ctx, "form_stamp")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Secret(ctx, "form_stamp")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || !bytes.Equal(a, b) {
		t.Errorf("Secret twice = %x, %x; want the same 32 bytes", a, b)
	}
	c, _ := s.Secret(ctx, "other")
	if bytes.Equal(a, c) {
		t.Error("two secrets of different names are equal")
	}
}

func TestCreateLeadOnceFindsTheEarlierLead(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Now().UTC()
	first, c1, o1 := newLead(t, s, "Ann@Example.com")
	if dup, err := duplicate(s.CreateLeadOnce(ctx, first, c1, o1, models.Guards{DuplicateSince: t0.Add(-time.Minute)})); err != nil || dup {
		t.Fatalf("first CreateLeadOnce = %v, %v; want created", dup, err)
	}
	again, c2, o2 := newLead(t, s, "ann@example.com ")
	again.Message = first.Message
	dup, err := duplicate(s.CreateLeadOnce(ctx, again, c2, o2, models.Guards{DuplicateSince: t0.Add(-time.Minute)}))
	if err != nil || !dup {
		t.Fatalf("same person, same message: dup = %v, err %v; want dup", dup, err)
	}
	if again.PublicID != first.PublicID || again.Consent == nil {
		t.Errorf("duplicate returned lead %q (consent %v), want the earlier %q with its consent", again.PublicID, again.Consent, first.PublicID)
	}
	if got := rowCounts(t, s); got[0] != 1 {
		t.Errorf("%d leads after a duplicate, want 1", got[0])
	}

	other, c3, o3 := newLead(t, s, "ann@example.com")
	other.Message = "A different question."
	if dup, err := duplicate(s.CreateLeadOnce(ctx, other, c3, o3, models.Guards{DuplicateSince: t0.Add(-time.Minute)})); err != nil || dup {
		t.Errorf("different message: dup = %v, err %v; want a new lead", dup, err)
	}
	unticked, c5, o5 := newLead(t, s, "ann@example.com")
	unticked.Message, c5.Action = first.Message, models.ActionNotGiven
	if dup, err := duplicate(s.CreateLeadOnce(ctx, unticked, c5, o5, models.Guards{DuplicateSince: t0.Add(-time.Minute)})); err != nil || dup {
		t.Errorf("same message, other consent choice: dup = %v, err %v; want a new lead", dup, err)
	}
	late, c4, o4 := newLead(t, s, "ann@example.com")
	late.Message = first.Message
	if dup, err := duplicate(s.CreateLeadOnce(ctx, late, c4, o4, models.Guards{DuplicateSince: time.Now().UTC().Add(time.Minute)})); err != nil || dup {
		t.Errorf("outside the window: dup = %v, err %v; want a new lead", dup, err)
	}
}
