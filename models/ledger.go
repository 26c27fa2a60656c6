package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// marketingKinds are the outbox kinds that an opt-out cancels. A sales
// notification is not marketing: it tells sales about an enquiry the person
// asked them to answer, so it still goes out.
var marketingKinds = []string{KindConsentConfirmation}

// LeadByOptOutToken returns the lead whose opt-out link carries token.
func (s *Store) LeadByOptOutToken(ctx context.Context, token string) (Lead, error) {
	return s.leadWhere(ctx, "opt_out_token = ?", token)
}

// LeadByConfirmToken returns the lead whose confirmation link carries token.
func (s *Store) LeadByConfirmToken(ctx context.Context, token string) (Lead, error) {
	return s.leadWhere(ctx, "confirm_token = ?", token)
}

// MarketingStateOf computes whether a person may receive marketing from
// their consent history.
func (s *Store) MarketingStateOf(ctx context.Context, subject string, doubleOptIn bool) (MarketingState, error) {
	evs, err := s.ConsentHistory(ctx, subject)
	if err != nil {
		return "", err
	}
	return ComputeMarketingState(evs, doubleOptIn), nil
}

// Withdraw records that a person withdrew marketing consent and cancels the
// marketing mail still waiting for them, in one transaction. It is
// idempotent: when the latest decision already is a withdrawal it adds
// nothing and reports done=false.
func (s *Store) Withdraw(ctx context.Context, ev ConsentEvent) (done bool, err error) {
	ev.Action, ev.Purpose, ev.ConsentText = ActionWithdrawn, PurposeMarketingEmail, nil
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		state, err := stateIn(tx, ev.Subject, false)
		if err != nil || state == StateWithdrawn {
			return err
		}
		if err := tx.Omit("ConsentText").Create(&ev).Error; err != nil {
			return err
		}
		done = true
		return tx.Model(&OutboxMessage{}).
			Where("status = ? AND kind IN ? AND lead_id IN (?)", StatusPending, marketingKinds,
				tx.Model(&Lead{}).Select("id").Where("email_key = ?", ev.Subject)).
			Updates(map[string]any{"status": StatusCancelled, "last_error": "consent withdrawn"}).Error
	})
	if err != nil {
		return false, fmt.Errorf("withdraw consent: %w", err)
	}
	return done, nil
}

// ErrConfirmSuperseded means the confirmation link is not for the person's
// latest consent: they opted out since, or a newer submission sent a newer
// link.
var ErrConfirmSuperseded = errors.New("confirmation superseded")

// Confirm records the double opt-in confirmation of the consent given with
// lead's submission. It is idempotent (done=false when already confirmed)
// and refuses with ErrConfirmSuperseded when a later event overtook the
// consent this link was sent for.
func (s *Store) Confirm(ctx context.Context, lead Lead, ev ConsentEvent) (done bool, err error) {
	ev.Action, ev.Purpose, ev.ConsentText = ActionConfirmed, PurposeMarketingEmail, nil
	ev.Subject = NormalizeEmail(lead.Email)
	ev.LeadID = &lead.ID
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var evs []ConsentEvent
		if err := tx.Where("subject = ? AND purpose = ?", ev.Subject, PurposeMarketingEmail).
			Order("at, id").Find(&evs).Error; err != nil {
			return err
		}
		given, confirmed := ConfirmTarget(evs, lead.ID)
		switch {
		case confirmed:
			return nil
		case given == nil:
			return ErrConfirmSuperseded
		}
		ev.ConsentTextID = given.ConsentTextID
		if err := tx.Omit("ConsentText").Create(&ev).Error; err != nil {
			return err
		}
		done = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("confirm consent: %w", err)
	}
	return done, nil
}

// ConfirmTarget says what the confirmation link sent for leadID can do,
// given the person's events (oldest first). The link confirms that lead's
// "given" event only while it is the latest decision: an opt-out or a newer
// submission's consent since then supersedes it. It returns the event to
// confirm, or confirmed=true when the latest decision already is this
// lead's confirmation; both zero means superseded.
func ConfirmTarget(events []ConsentEvent, leadID int64) (given *ConsentEvent, confirmed bool) {
	var last *ConsentEvent
	for i := range events {
		if events[i].Purpose == PurposeMarketingEmail && events[i].Action != ActionNotGiven {
			last = &events[i]
		}
	}
	if last == nil || last.LeadID == nil || *last.LeadID != leadID {
		return nil, false
	}
	switch last.Action {
	case ActionConfirmed:
		return nil, true
	case ActionGiven:
		return last, false
	}
	return nil, false
}

// stateIn computes a person's state inside a transaction.
func stateIn(tx *gorm.DB, subject string, doubleOptIn bool) (MarketingState, error) {
	var evs []ConsentEvent
	if err := tx.Where("subject = ? AND purpose = ?", subject, PurposeMarketingEmail).
		Order("at, id").Find(&evs).Error; err != nil {
		return "", err
	}
	return ComputeMarketingState(evs, doubleOptIn), nil
}
