package sqlite

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// kindIsConfirmation selects the outbox rows an opt-out cancels: the
// confirmation emails, the only marketing mail Leadbox sends. A sales
// notification is not marketing: it tells sales about an enquiry the
// person asked them to answer, so it still goes out. The kind is written
// out, not bound, so that SQLite can use the partial index on these rows.
const kindIsConfirmation = "kind = '" + models.KindConsentConfirmation + "'"

// LeadByOptOutToken returns the lead whose opt-out link carries token.
func (s *Store) LeadByOptOutToken(ctx context.Context, token string) (models.Lead, error) {
	return s.leadWhere(ctx, "opt_out_token = ?", token)
}

// LeadByConfirmToken returns the lead whose confirmation link carries token.
func (s *Store) LeadByConfirmToken(ctx context.Context, token string) (models.Lead, error) {
	return s.leadWhere(ctx, "confirm_token = ?", token)
}

// MarketingStateOf computes whether a person may receive marketing from
// their consent history.
func (s *Store) MarketingStateOf(ctx context.Context, subject string, doubleOptIn bool) (models.MarketingState, error) {
	evs, err := s.ConsentHistory(ctx, subject)
	if err != nil {
		return "", err
	}
	return models.ComputeMarketingState(evs, doubleOptIn), nil
}

// Withdraw records that a person withdrew marketing consent and cancels the
// marketing mail still waiting for them, in one transaction. It is
// idempotent: when the latest decision already is a withdrawal it adds
// nothing and reports done=false.
func (s *Store) Withdraw(ctx context.Context, ev models.ConsentEvent) (done bool, err error) {
	ev.Action, ev.Purpose, ev.ConsentText = models.ActionWithdrawn, models.PurposeMarketingEmail, nil
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		evs, err := eventsIn(tx, ev.Subject)
		if err != nil || models.ComputeMarketingState(evs, false) == models.StateWithdrawn {
			return err
		}
		if err := tx.Omit("ConsentText").Create(&ev).Error; err != nil {
			return err
		}
		done = true
		if err := s.queueConsentEvent(tx, models.EventConsentWithdrawn, ev.Subject, ev.LeadID, eventTime(ev.At)); err != nil {
			return err
		}
		return tx.Exec(cancelConfirmationsSQL, models.StatusCancelled, models.StatusPending, ev.Subject).Error
	})
	if err != nil {
		return false, fmt.Errorf("withdraw consent: %w", err)
	}
	return done, nil
}

// Confirm records the double opt-in confirmation of the consent given with
// lead's submission. It is idempotent (done=false when already confirmed)
// and refuses with ErrConfirmSuperseded when a later event overtook the
// consent this link was sent for.
func (s *Store) Confirm(ctx context.Context, lead models.Lead, ev models.ConsentEvent) (done bool, err error) {
	ev.Action, ev.Purpose, ev.ConsentText = models.ActionConfirmed, models.PurposeMarketingEmail, nil
	ev.Subject = models.NormalizeEmail(lead.Email)
	ev.LeadID = &lead.ID
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		evs, err := eventsIn(tx, ev.Subject)
		if err != nil {
			return err
		}
		given, confirmed := models.ConfirmTarget(evs, lead.ID)
		switch {
		case confirmed:
			return nil
		case given == nil:
			return models.ErrConfirmSuperseded
		}
		ev.ConsentTextID = given.ConsentTextID
		if err := tx.Omit("ConsentText").Create(&ev).Error; err != nil {
			return err
		}
		done = true
		return s.queueConsentEvent(tx, models.EventConsentConfirmed, ev.Subject, ev.LeadID, eventTime(ev.At))
	})
	if err != nil {
		return false, fmt.Errorf("confirm consent: %w", err)
	}
	return done, nil
}

// eventTime is when a consent event happened, for its webhook: now when
// the caller left it to the database's default.
func eventTime(at time.Time) time.Time {
	if at.IsZero() {
		return time.Now().UTC()
	}
	return at.UTC()
}

// eventsIn reads a person's marketing consent events, oldest first, inside
// a write transaction, so that the decision taken on them cannot race
// another writer.
func eventsIn(tx *gorm.DB, subject string) ([]models.ConsentEvent, error) {
	var evs []models.ConsentEvent
	err := tx.Where("subject = ? AND purpose = ?", subject, models.PurposeMarketingEmail).Order("id").Find(&evs).Error
	return evs, err
}

// cancelConfirmationsSQL cancels the confirmation emails still waiting for
// a person (normalised address): their leads are found through the consent
// events, whose subject is indexed, and their emails through the partial
// index on confirmation emails. The + before status keeps SQLite from
// walking every pending message through the status index instead, which
// it would otherwise guess is cheaper.
const cancelConfirmationsSQL = `UPDATE outbox SET status = ?, last_error = 'consent withdrawn'
	WHERE +status = ? AND ` + kindIsConfirmation + ` AND lead_id IN
	(SELECT lead_id FROM consent_events WHERE subject = ? AND lead_id IS NOT NULL)`
