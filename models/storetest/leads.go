package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

func testCreateLead(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "Ann@Example.com")
	if c := create(t, s, sub, models.Guards{}); c.Duplicate || c.ConfirmationDropped {
		t.Errorf("CreateLeadOnce without guards = %+v, want a plain commit", c)
	}
	if got := counts(t, e, s); got != [3]int64{1, 1, 2} {
		t.Errorf("rows (leads, events, outbox) %v, want [1 1 2]", got)
	}
	if sub.Lead.ID == 0 || sub.Consent.ID == 0 || sub.Outbox[0].ID == 0 || sub.Outbox[1].ID == 0 {
		t.Errorf("ids lead %d, event %d, outbox %d and %d; want all set", sub.Lead.ID, sub.Consent.ID, sub.Outbox[0].ID, sub.Outbox[1].ID)
	}
	if sub.Lead.EmailKey != "ann@example.com" || sub.Consent.LeadID == nil || *sub.Consent.LeadID != sub.Lead.ID {
		t.Errorf("email key %q, event's lead %v; want the normalised address and lead %d", sub.Lead.EmailKey, sub.Consent.LeadID, sub.Lead.ID)
	}
	for _, read := range []struct {
		name string
		get  func() (models.Lead, error)
	}{
		{"LeadByPublicID", func() (models.Lead, error) { return s.LeadByPublicID(ctx, sub.Lead.PublicID) }},
		{"LeadByID", func() (models.Lead, error) { return s.LeadByID(ctx, sub.Lead.ID) }},
		{"LeadByOptOutToken", func() (models.Lead, error) { return s.LeadByOptOutToken(ctx, sub.Lead.OptOutToken) }},
		{"LeadByConfirmToken", func() (models.Lead, error) { return s.LeadByConfirmToken(ctx, *sub.Lead.ConfirmToken) }},
	} {
		got, err := read.get()
		if err != nil {
			t.Errorf("%s: %v", read.name, err)
			continue
		}
		if got.ID != sub.Lead.ID || got.Name != "Ann" || got.Email != "Ann@Example.com" || !got.CreatedAt.Equal(sub.Lead.CreatedAt) {
			t.Errorf("%s = %+v, want the lead as written", read.name, got)
		}
		if c := got.Consent; c == nil || c.Action != models.ActionGiven || c.ConsentText == nil || c.ConsentText.Text != wording {
			t.Errorf("%s: consent %+v, want the given event with its wording", read.name, c)
		}
	}
	for name, err := range map[string]error{
		"LeadByPublicID":     errOf(s.LeadByPublicID(ctx, "nope")),
		"LeadByID":           errOf(s.LeadByID(ctx, 987654)),
		"LeadByOptOutToken":  errOf(s.LeadByOptOutToken(ctx, "nope")),
		"LeadByConfirmToken": errOf(s.LeadByConfirmToken(ctx, "nope")),
	} {
		if !errors.Is(err, models.ErrNotFound) {
			t.Errorf("%s(unknown): %v, want ErrNotFound", name, err)
		}
	}
	msgs, err := outboxIn(ctx, s, models.StatusPending)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("OutboxPage(pending) = %d messages, %v; want 2", len(msgs), err)
	}
	for _, m := range msgs {
		if m.LeadID != sub.Lead.ID || m.Lead == nil || m.MessageID == "" || m.QueuedAt.IsZero() || m.NextAttemptAt.IsZero() {
			t.Errorf("outbox %s: lead %d (loaded %v), message id %q, queued %v, due %v; want this lead's, with an id, queued and due",
				m.Kind, m.LeadID, m.Lead != nil, m.MessageID, m.QueuedAt, m.NextAttemptAt)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

// testCreateLeadAllOrNothing: a submission whose lead or consent event
// cannot be written leaves nothing behind, and the store goes on.
func testCreateLeadAllOrNothing(t *testing.T, e Engine) {
	for _, tt := range []struct {
		name  string
		spoil func(t *testing.T, s models.Store, sub Submission)
	}{
		{"the lead fails (a public id taken)", func(t *testing.T, s models.Store, sub Submission) {
			first := NewSubmission(t, s, "first@example.com")
			create(t, s, first, models.Guards{})
			sub.Lead.PublicID = first.Lead.PublicID
		}},
		{"the consent event fails (an unknown wording)", func(_ *testing.T, _ models.Store, sub Submission) {
			sub.Consent.ConsentTextID = new(int64(987654))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := e.Open(t)
			sub := NewSubmission(t, s, "ann@example.com")
			tt.spoil(t, s, sub)
			before := counts(t, e, s)
			if _, err := s.CreateLeadOnce(context.Background(), sub.Lead, sub.Consent, sub.Outbox, models.Guards{}); err == nil {
				t.Fatal("CreateLeadOnce succeeded, want an error")
			}
			if after := counts(t, e, s); after != before {
				t.Errorf("rows (leads, events, outbox) %v after a failed commit, want unchanged %v", after, before)
			}
			if n := rows(t, e, s, "consent_events", "subject = ?", "ann@example.com"); n != 0 {
				t.Errorf("%d consent events left for the failed lead, want 0", n)
			}
			create(t, s, NewSubmission(t, s, "bob@example.com"), models.Guards{})
		})
	}
}

// testLeadConsentIsItsSubmissions: a lead's confirmation and an opt-out
// through its link carry its id too, yet reading the lead gives the event
// of its submission, with the wording shown.
func testLeadConsentIsItsSubmissions(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "ann@example.com")
	create(t, s, sub, models.Guards{})
	if _, err := s.Confirm(ctx, *sub.Lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(),
		Method: models.MethodOptOutPage, LeadID: &sub.Lead.ID}); err != nil {
		t.Fatalf("Withdraw: %v", err)
	}
	want := func(from string, c *models.ConsentEvent) {
		t.Helper()
		if c == nil || c.ID != sub.Consent.ID || c.Method != models.MethodForm || c.ConsentText == nil || c.ConsentText.Text != wording {
			t.Errorf("%s: consent %+v, want the submission's event %d with its wording", from, c, sub.Consent.ID)
		}
	}
	got, err := s.LeadByID(ctx, sub.Lead.ID)
	if err != nil {
		t.Fatal(err)
	}
	want("LeadByID", got.Consent)
	msgs, err := s.ClaimDue(ctx, time.Now().Add(time.Hour), 10, time.Now().Add(time.Hour+time.Minute))
	if err != nil || len(msgs) == 0 {
		t.Fatalf("ClaimDue: %d messages, %v; want the sales notification", len(msgs), err)
	}
	for _, m := range msgs {
		if m.Lead == nil {
			t.Fatalf("outbox %s: no lead loaded", m.Kind)
		}
		want("ClaimDue "+m.Kind, m.Lead.Consent)
	}
}

func testConsentTextVersion(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	a1, err1 := s.ConsentTextVersion(ctx, "Wording A")
	a2, err2 := s.ConsentTextVersion(ctx, "Wording A")
	b, err3 := s.ConsentTextVersion(ctx, "Wording A ") // one byte more is another wording
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if a1.ID == 0 || a1.ID != a2.ID || b.ID == a1.ID {
		t.Errorf("ids %d, %d for one wording and %d for another; want one non-zero id per wording", a1.ID, a2.ID, b.ID)
	}
	if a1.Hash != models.HashConsentText("Wording A") || a1.Text != "Wording A" {
		t.Errorf("stored %q with hash %s, want %q with its SHA-256", a1.Text, a1.Hash, "Wording A")
	}
}

func duplicate(c models.Created, err error) (bool, error) { return c.Duplicate, err }

// testDuplicates: the same person, message and consent choice within the
// window is the earlier lead, answered again and written once.
func testDuplicates(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	g := withinMinute()
	first := NewSubmission(t, s, "Ann@Example.com")
	if create(t, s, first, g).Duplicate {
		t.Fatal("the first submission is a duplicate")
	}
	again := NewSubmission(t, s, "ann@example.com ")
	c, err := s.CreateLeadOnce(ctx, again.Lead, again.Consent, again.Outbox, g)
	if err != nil || !c.Duplicate {
		t.Fatalf("same person, same message: %+v, %v; want a duplicate", c, err)
	}
	if again.Lead.PublicID != first.Lead.PublicID || again.Lead.Consent == nil || again.Lead.Consent.Action != models.ActionGiven {
		t.Errorf("duplicate returned lead %q (consent %v), want the earlier %q with its consent", again.Lead.PublicID, again.Lead.Consent, first.Lead.PublicID)
	}
	if got := counts(t, e, s); got != [3]int64{1, 1, 2} {
		t.Errorf("rows after a duplicate %v, want those of the first only", got)
	}
	for name, spoil := range map[string]func(Submission) models.Guards{
		"another message":        func(sub Submission) models.Guards { sub.Lead.Message = "A different question."; return g },
		"another consent choice": func(sub Submission) models.Guards { sub.Consent.Action = models.ActionNotGiven; return g },
		"outside the window": func(Submission) models.Guards {
			return models.Guards{DuplicateSince: time.Now().UTC().Add(time.Minute)}
		},
		"without the guard": func(Submission) models.Guards { return models.Guards{} },
	} {
		sub := NewSubmission(t, s, "ann@example.com")
		if dup, err := duplicate(s.CreateLeadOnce(ctx, sub.Lead, sub.Consent, sub.Outbox, spoil(sub))); err != nil || dup {
			t.Errorf("%s: duplicate %v, %v; want a new lead", name, dup, err)
		}
	}
}

func testDuplicatesSurviveRestart(t *testing.T, e Engine) {
	s := e.Open(t)
	first := NewSubmission(t, s, "ann@example.com")
	create(t, s, first, withinMinute())
	s = e.Reopen(t, s)
	again := NewSubmission(t, s, "ann@example.com")
	if !create(t, s, again, withinMinute()).Duplicate || again.Lead.PublicID != first.Lead.PublicID {
		t.Errorf("after a restart the same submission is lead %q, want the earlier %q", again.Lead.PublicID, first.Lead.PublicID)
	}
}

// testSimultaneousDuplicates: copies of one submission racing each other
// (a double click reaching two requests at once) are one lead.
func testSimultaneousDuplicates(t *testing.T, e Engine) {
	s := e.Open(t)
	const n = 8
	subs := make([]Submission, n)
	for i := range subs {
		subs[i] = NewSubmission(t, s, "ann@example.com")
	}
	var wg sync.WaitGroup
	for i := range subs {
		wg.Go(func() { create(t, s, subs[i], withinMinute()) })
	}
	wg.Wait()
	if got := rows(t, e, s, "leads"); got != 1 {
		t.Errorf("%d leads from %d simultaneous copies, want 1", got, n)
	}
	for i := range subs {
		if subs[i].Lead.PublicID != subs[0].Lead.PublicID {
			t.Errorf("copy %d answered with lead %q, copy 0 with %q; want one lead for all", i, subs[i].Lead.PublicID, subs[0].Lead.PublicID)
		}
	}
}

// testTickingAgainAfterAnOptOut: someone who opted out and ticks the box
// again with the same message gives consent anew; without their own
// opt-out it is a double click.
func testTickingAgainAfterAnOptOut(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	g := withinMinute()
	first := NewSubmission(t, s, "ann@example.com")
	create(t, s, first, g)
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "bob@example.com", At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
		t.Fatal(err)
	}
	if !create(t, s, NewSubmission(t, s, "ann@example.com"), g).Duplicate {
		t.Fatal("after another person's opt-out: a new lead, want a duplicate")
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
		t.Fatal(err)
	}
	renewed := NewSubmission(t, s, "ann@example.com")
	if create(t, s, renewed, g).Duplicate || renewed.Lead.ID == first.Lead.ID || renewed.Outbox[1].ID == 0 {
		t.Fatalf("ticked again after the opt-out: lead %d (first %d), confirmation %d; want a new lead with its own confirmation",
			renewed.Lead.ID, first.Lead.ID, renewed.Outbox[1].ID)
	}
	if state, err := s.MarketingStateOf(ctx, "ann@example.com", true); err != nil || state != models.StatePending {
		t.Errorf("state after consenting again: %s, %v; want %s", state, err, models.StatePending)
	}
	click := NewSubmission(t, s, "ann@example.com")
	if !create(t, s, click, g).Duplicate || click.Lead.ID != renewed.Lead.ID {
		t.Errorf("a double click of the renewed consent is lead %d, want %d", click.Lead.ID, renewed.Lead.ID)
	}
}

// testEarlierSubmission: the read-side twin of the duplicate guard.
func testEarlierSubmission(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	first := NewSubmission(t, s, "ann@example.com")
	create(t, s, first, models.Guards{})
	since := time.Now().UTC().Add(-time.Minute)
	find := func(action, message string, since time.Time) (models.Lead, error) {
		return s.EarlierSubmission(ctx, "ann@example.com", action, message, since)
	}
	if got, err := find(models.ActionGiven, "Hello", since); err != nil || got.ID != first.Lead.ID || got.Consent == nil {
		t.Fatalf("EarlierSubmission = lead %d, %v; want %d with its consent", got.ID, err, first.Lead.ID)
	}
	for name, err := range map[string]error{
		"another message":        errOf(find(models.ActionGiven, "Other", since)),
		"before the window":      errOf(find(models.ActionGiven, "Hello", time.Now().UTC().Add(time.Minute))),
		"another consent choice": errOf(find(models.ActionNotGiven, "Hello", since)),
	} {
		if !errors.Is(err, models.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
		t.Fatal(err)
	}
	if _, err := find(models.ActionGiven, "Hello", since); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("after an opt-out, the ticked submission again: %v, want ErrNotFound (it is new consent)", err)
	}
	renewed := NewSubmission(t, s, "ann@example.com")
	create(t, s, renewed, models.Guards{})
	if got, err := find(models.ActionGiven, "Hello", since); err != nil || got.ID != renewed.Lead.ID {
		t.Errorf("the consent given after the opt-out: lead %d, %v; want %d", got.ID, err, renewed.Lead.ID)
	}
}
