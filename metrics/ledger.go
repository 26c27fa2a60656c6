package metrics

import (
	"context"

	"github.com/leadbox/leadbox/models"
)

// CountConsent returns store with every consent event it commits counted
// in leadbox_consent_events_total. It counts at the one seam every write
// to the ledger passes, after the transaction committed: an event that
// was not stored (an error, a duplicate submission, an opt-out or a
// confirmation that was already recorded) is not counted, so the metric
// cannot disagree with the database.
func (m *Metrics) CountConsent(store models.Store) models.Store {
	return ledger{Store: store, m: m}
}

// ledger is a models.Store that counts the consent events it commits.
type ledger struct {
	models.Store
	m *Metrics
}

// CreateLeadOnce commits a lead with its consent event (given or
// not_given) unless it is a duplicate.
func (l ledger) CreateLeadOnce(ctx context.Context, lead *models.Lead, consent *models.ConsentEvent, outbox []models.OutboxMessage, guards models.Guards) (models.Created, error) {
	created, err := l.Store.CreateLeadOnce(ctx, lead, consent, outbox, guards)
	if err == nil && !created.Duplicate && consent != nil {
		if created.RecalledWithdrawal {
			l.m.consentEvent(models.ActionWithdrawn)
		}
		l.m.consentEvent(consent.Action)
	}
	return created, err
}

// Withdraw records a withdrawal, unless the latest decision already is one.
func (l ledger) Withdraw(ctx context.Context, ev models.ConsentEvent) (bool, error) {
	done, err := l.Store.Withdraw(ctx, ev)
	if err == nil && done {
		l.m.consentEvent(models.ActionWithdrawn)
	}
	return done, err
}

// Confirm records a confirmation, unless it is recorded already.
func (l ledger) Confirm(ctx context.Context, lead models.Lead, ev models.ConsentEvent) (bool, error) {
	done, err := l.Store.Confirm(ctx, lead, ev)
	if err == nil && done {
		l.m.consentEvent(models.ActionConfirmed)
	}
	return done, err
}

// Suppress records a suppression; it writes a withdrawal into the ledger
// when the address has one and was not withdrawn already.
func (l ledger) Suppress(ctx context.Context, subject, method string, o models.Origin) (models.Suppression, error) {
	res, err := l.Store.Suppress(ctx, subject, method, o)
	if err == nil && res.Withdrawn {
		l.m.consentEvent(models.ActionWithdrawn)
	}
	return res, err
}
