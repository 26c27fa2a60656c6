package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// TestOpenReadOnly: a read-only store reads what the writer stored and
// refuses every write, submissions included.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	lead, ev, out := newLead(t, s, "ann@example.com")
	if err := s.CreateLead(ctx, lead, ev, out); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer ro.Close()
	if evs, err := ro.ConsentHistory(ctx, "ann@example.com"); err != nil || len(evs) != 1 {
		t.Errorf("ConsentHistory read-only: %d events, %v; want 1", len(evs), err)
	}
	if err := ro.Ping(ctx); err != nil {
		t.Errorf("Ping read-only: %v", err)
	}
	_, err = ro.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", Purpose: models.PurposeMarketingEmail,
		At: time.Now().UTC(), Action: models.ActionWithdrawn, Method: models.MethodOperator})
	if err == nil {
		t.Error("Withdraw through a read-only store succeeded")
	}
	if err := ro.CreateLead(ctx, lead, ev, out); err == nil {
		t.Error("CreateLead through a read-only store succeeded")
	}
}
