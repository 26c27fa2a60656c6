package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// testLedgerAppendOnly: the database itself refuses to edit or delete
// consent proof, whatever the code does; appending still works.
func testLedgerAppendOnly(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "ann@example.com")
	create(t, s, sub, models.Guards{})
	db := e.DB(s).WithContext(ctx)
	for name, err := range map[string]error{
		"SQL update":  db.Exec("UPDATE consent_events SET action = ? WHERE id = ?", models.ActionWithdrawn, sub.Consent.ID).Error,
		"GORM update": db.Model(&models.ConsentEvent{}).Where("id = ?", sub.Consent.ID).Update("subject", "x@example.com").Error,
		"SQL delete":  db.Exec("DELETE FROM consent_events WHERE id = ?", sub.Consent.ID).Error,
		"GORM delete": db.Delete(&models.ConsentEvent{}, sub.Consent.ID).Error,
	} {
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s of a consent event: %v, want the database's append-only refusal", name, err)
		}
	}
	hist, err := s.ConsentHistory(ctx, "ann@example.com")
	if err != nil || len(hist) != 1 || hist[0].Action != models.ActionGiven || hist[0].Subject != "ann@example.com" {
		t.Errorf("history after refused edits: %+v, %v; want the given event unchanged", hist, err)
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOneClick}); err != nil {
		t.Errorf("append a withdrawal: %v", err)
	}
}

// testOptOutByToken: the opt-out link finds its lead; a withdrawal is
// recorded once, stops the confirmation email but not the sales one.
func testOptOutByToken(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "Ann@Example.com")
	create(t, s, sub, models.Guards{})
	lead, err := s.LeadByOptOutToken(ctx, sub.Lead.OptOutToken)
	if err != nil || lead.ID != sub.Lead.ID {
		t.Fatalf("LeadByOptOutToken = lead %d, %v; want %d", lead.ID, err, sub.Lead.ID)
	}
	ev := models.ConsentEvent{Subject: models.NormalizeEmail(lead.Email), At: time.Now().UTC(),
		Method: models.MethodOneClick, LeadID: &lead.ID, IP: "192.0.2.9", UserAgent: "mail client"}
	for i, want := range []bool{true, false} {
		done, err := s.Withdraw(ctx, ev)
		if err != nil || done != want {
			t.Errorf("Withdraw %d = %v, %v; want %v (idempotent)", i+1, done, err, want)
		}
	}
	hist, err := s.ConsentHistory(ctx, "ann@example.com")
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %d events, %v; want the given and one withdrawal", len(hist), err)
	}
	w := hist[1]
	if w.Action != models.ActionWithdrawn || w.Purpose != models.PurposeMarketingEmail || w.Method != models.MethodOneClick ||
		w.IP != "192.0.2.9" || w.UserAgent != "mail client" || w.LeadID == nil || *w.LeadID != lead.ID {
		t.Errorf("withdrawal recorded as %+v", w)
	}
	if st, err := s.MarketingStateOf(ctx, "ann@example.com", true); err != nil || st != models.StateWithdrawn {
		t.Errorf("state %q, %v; want withdrawn", st, err)
	}
	cancelled, err := outboxIn(ctx, s, models.StatusCancelled)
	if err != nil || len(cancelled) != 1 || cancelled[0].Kind != models.KindConsentConfirmation || cancelled[0].LastError == "" {
		t.Errorf("cancelled after the opt-out: %+v, %v; want the confirmation email, with the reason", cancelled, err)
	}
	pending, err := outboxIn(ctx, s, models.StatusPending)
	if err != nil || len(pending) != 1 || pending[0].Kind != models.KindSalesNotification {
		t.Errorf("pending after the opt-out: %+v, %v; want the sales notification still", pending, err)
	}
}

// testConfirmByToken: the confirm link confirms its lead's consent once,
// and not after the person withdrew.
func testConfirmByToken(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "ann@example.com")
	create(t, s, sub, models.Guards{})
	lead, err := s.LeadByConfirmToken(ctx, *sub.Lead.ConfirmToken)
	if err != nil || lead.ID != sub.Lead.ID {
		t.Fatalf("LeadByConfirmToken = lead %d, %v; want %d", lead.ID, err, sub.Lead.ID)
	}
	if st, _ := s.MarketingStateOf(ctx, "ann@example.com", true); st != models.StatePending {
		t.Errorf("before confirming: %q, want pending", st)
	}
	ev := models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink, IP: "192.0.2.7"}
	for i, want := range []bool{true, false} {
		if done, err := s.Confirm(ctx, lead, ev); err != nil || done != want {
			t.Errorf("Confirm %d = %v, %v; want %v (idempotent)", i+1, done, err, want)
		}
	}
	if st, _ := s.MarketingStateOf(ctx, "ann@example.com", true); st != models.StateSubscribed {
		t.Errorf("after confirming: %q, want subscribed", st)
	}
	hist, _ := s.ConsentHistory(ctx, "ann@example.com")
	if len(hist) != 2 || hist[1].ConsentTextID == nil || *hist[1].ConsentTextID != *sub.Consent.ConsentTextID {
		t.Errorf("the confirmation does not refer to the wording confirmed: %+v", hist)
	}

	// A second submission's link, after an opt-out, confirms nothing.
	later := NewSubmission(t, s, "ann@example.com")
	later.Lead.Message = "Another question."
	create(t, s, later, models.Guards{})
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Confirm(ctx, *later.Lead, ev); !errors.Is(err, models.ErrConfirmSuperseded) {
		t.Errorf("Confirm after an opt-out: %v, want ErrConfirmSuperseded", err)
	}
	if st, _ := s.MarketingStateOf(ctx, "ann@example.com", true); st != models.StateWithdrawn {
		t.Errorf("after a refused confirmation: %q, want withdrawn", st)
	}
}
