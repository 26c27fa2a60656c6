package sqlite

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

var testHooks = []string{"https://a.example.com/hook", "http://127.0.0.1:9/hook"}

func newHookStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "leads.db"), WithWebhooks(testHooks))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// webhookRows returns the webhook rows of event, oldest first.
func webhookRows(t *testing.T, s *Store, event string) []models.OutboxMessage {
	t.Helper()
	var rows []models.OutboxMessage
	if err := s.DB().Where("kind = ? AND event = ?", models.KindWebhook, event).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkEvent: one row per URL, one webhook-id for all.
func checkEvent(t *testing.T, rows []models.OutboxMessage, event string, leadID int64) {
	t.Helper()
	if len(rows) != len(testHooks) {
		t.Fatalf("%s: %d webhook rows, want one per URL (%d)", event, len(rows), len(testHooks))
	}
	for i, r := range rows {
		if r.Target != testHooks[i] || r.LeadID != leadID || r.Status != models.StatusPending || r.MessageID != rows[0].MessageID {
			t.Errorf("%s row %d: target %q lead %d status %s id %q; want %q, lead %d, pending, id %q",
				event, i, r.Target, r.LeadID, r.Status, r.MessageID, testHooks[i], leadID, rows[0].MessageID)
		}
	}
}

// TestWebhooksQueuedWithTheirChange: every event the store commits queues
// one webhook per URL in its own transaction, a repeated opt-out none, and
// the email lane and the webhook lane never claim each other's rows.
func TestWebhooksQueuedWithTheirChange(t *testing.T) {
	ctx := context.Background()
	s := newHookStore(t)
	lead, ev, out := newLead(t, s, "ann@example.com")
	if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	for i, m := range out {
		if m.ID == 0 {
			t.Errorf("the caller's outbox row %d (%s) has no id after CreateLeadOnce", i, m.Kind)
		}
	}
	checkEvent(t, webhookRows(t, s, models.EventLeadCreated), models.EventLeadCreated, lead.ID)

	now := time.Now().UTC().Add(time.Second)
	mails, err := s.ClaimDue(ctx, now, 100, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		if m.Kind == models.KindWebhook {
			t.Errorf("ClaimDue claimed webhook %d; the mail lane must claim emails only", m.ID)
		}
	}
	if len(mails) != len(out) {
		t.Errorf("ClaimDue claimed %d emails, want %d", len(mails), len(out))
	}
	if _, ok, err := s.NextDue(ctx); err != nil || ok {
		t.Errorf("NextDue with only webhooks pending = %v, %v; want none", ok, err)
	}
	if _, ok, err := s.NextDueWebhook(ctx); err != nil || !ok {
		t.Errorf("NextDueWebhook = %v, %v; want the webhooks", ok, err)
	}
	hooks, err := s.ClaimDueWebhooks(ctx, now, 100, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != len(testHooks) || hooks[0].Lead == nil || hooks[0].Lead.ID != lead.ID {
		t.Fatalf("ClaimDueWebhooks = %d rows (lead %v), want %d with their lead", len(hooks), hooks[0].Lead, len(testHooks))
	}

	if _, err := s.Confirm(ctx, *lead, models.ConsentEvent{At: now, Method: models.MethodConfirmLink}); err != nil {
		t.Fatal(err)
	}
	checkEvent(t, webhookRows(t, s, models.EventConsentConfirmed), models.EventConsentConfirmed, lead.ID)

	wd := models.ConsentEvent{Subject: "ann@example.com", At: now, Method: models.MethodOperator}
	for range 2 { // the second changes nothing, and queues nothing
		if _, err := s.Withdraw(ctx, wd); err != nil {
			t.Fatal(err)
		}
	}
	withdrawn := webhookRows(t, s, models.EventConsentWithdrawn)
	checkEvent(t, withdrawn, models.EventConsentWithdrawn, lead.ID)

	if err := s.Cancel(ctx, withdrawn[1].ID); err != nil {
		t.Errorf("Cancel a pending webhook: %v", err)
	}
	if err := s.Cancel(ctx, withdrawn[1].ID); err == nil {
		t.Errorf("Cancel a cancelled webhook: nil error, want ErrNotFound")
	}
}

// TestErasureCancelsWebhooks: erasing a person cancels the webhooks about
// their leads still waiting, and queues subject.erased, whose row holds the
// leads' public ids and nothing of the person.
func TestErasureCancelsWebhooks(t *testing.T) {
	ctx := context.Background()
	s := newHookStore(t)
	lead, ev, out := newLead(t, s, "bob@example.com")
	lead.Name, lead.Phone, lead.Company = "Bob Secretname", "+48 600 700 800", "Bobcorp"
	if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	detail, err := s.SubjectAccess(ctx, "bob@example.com", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, ld := range detail.Leads {
		for _, m := range ld.Emails {
			if m.Kind == models.KindWebhook {
				t.Errorf("subject access lists webhook %d among the emails", m.ID)
			}
		}
	}
	if len(detail.Leads) != 1 || len(detail.Leads[0].Emails) != len(out) {
		t.Errorf("subject access: %d leads, want 1 with its %d emails", len(detail.Leads), len(out))
	}
	res, err := s.EraseSubject(ctx, "bob@example.com", models.Origin{Actor: "dpo", At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range webhookRows(t, s, models.EventLeadCreated) {
		if r.Status != models.StatusCancelled {
			t.Errorf("lead.created to %s is %s after the erasure, want cancelled", r.Target, r.Status)
		}
	}
	if res.CancelledEmails != len(out) {
		t.Errorf("erasure reports %d cancelled emails, want the %d emails and not the webhooks", res.CancelledEmails, len(out))
	}
	erased := webhookRows(t, s, models.EventSubjectErased)
	checkEvent(t, erased, models.EventSubjectErased, lead.ID)
	var data map[string]any
	if err := json.Unmarshal([]byte(erased[0].Data), &data); err != nil {
		t.Fatalf("subject.erased data %q: %v", erased[0].Data, err)
	}
	ids, _ := data["lead_ids"].([]any)
	if len(data) != 1 || len(ids) != 1 || ids[0] != lead.PublicID {
		t.Errorf("subject.erased data = %s, want only the lead ids [%q]", erased[0].Data, lead.PublicID)
	}
	var all []models.OutboxMessage
	if err := s.DB().Find(&all).Error; err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		row, _ := json.Marshal(m)
		for _, pd := range []string{"bob@", "Secretname", "600 700", "Bobcorp"} {
			if strings.Contains(string(row), pd) {
				t.Errorf("outbox row %d (%s %s) holds %q after the erasure", m.ID, m.Kind, m.Event, pd)
			}
		}
	}
}

// TestSuppressionReportsTheWithdrawal: a suppression that withdraws a
// known address's consent is reported about its newest lead; one of an
// address Leadbox holds nothing about has no lead to report, and queues
// nothing.
func TestSuppressionReportsTheWithdrawal(t *testing.T) {
	ctx := context.Background()
	s := newHookStore(t)
	var newest int64
	for range 2 {
		lead, ev, out := newLead(t, s, "cy@example.com")
		lead.Message = "Message " + models.NewToken(4)
		if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
			t.Fatal(err)
		}
		newest = lead.ID
	}
	o := models.Origin{Actor: "dpo", At: time.Now().UTC()}
	if _, err := s.Suppress(ctx, "cy@example.com", models.MethodOperator, o); err != nil {
		t.Fatal(err)
	}
	checkEvent(t, webhookRows(t, s, models.EventConsentWithdrawn), models.EventConsentWithdrawn, newest)
	if _, err := s.Suppress(ctx, "nobody@example.com", models.MethodOperator, o); err != nil {
		t.Fatal(err)
	}
	if n := len(webhookRows(t, s, models.EventConsentWithdrawn)); n != len(testHooks) {
		t.Errorf("%d consent.withdrawn rows after suppressing an unknown address, want still %d", n, len(testHooks))
	}
}

// TestRetentionReportsWholeErasures: when retention erases a person whole,
// subject.erased is queued as for a request; a dry run queues nothing.
func TestRetentionReportsWholeErasures(t *testing.T) {
	ctx := context.Background()
	s := newHookStore(t)
	now := time.Now().UTC()
	old := now.Add(-800 * 24 * time.Hour)
	lead, ev, out := newLead(t, s, "old@example.com")
	lead.CreatedAt, ev.At = old, old
	ev.Action = models.ActionNotGiven
	lead.ConfirmToken, lead.ConfirmExpiresAt = nil, nil
	out = out[:1]
	out[0].CreatedAt = old
	if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	r := models.Retention{Inquiry: 730 * 24 * time.Hour, IP: 30 * 24 * time.Hour, DoubleOptIn: true}
	if _, err := s.Purge(ctx, now, r, true); err != nil {
		t.Fatal(err)
	}
	if n := len(webhookRows(t, s, models.EventSubjectErased)); n != 0 {
		t.Errorf("a dry purge queued %d subject.erased rows", n)
	}
	rep, err := s.Purge(ctx, now, r, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.People != 1 {
		t.Fatalf("purge erased %d people, want the old lead's", rep.People)
	}
	checkEvent(t, webhookRows(t, s, models.EventSubjectErased), models.EventSubjectErased, lead.ID)
}
