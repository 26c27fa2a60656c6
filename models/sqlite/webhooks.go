package sqlite

import (
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// Option configures a Store at open.
type Option func(*Store)

// WithWebhooks makes the store queue a webhook to each of urls for every
// event it commits (lead created, consent confirmed or withdrawn, subject
// erased), in the transaction that commits the change itself: an event is
// sent if and only if its change happened, whoever made it (a request, the
// retention task, an operator's command).
//
// The store learns the URLs at open, rather than every caller passing the
// rows in, because it is the one place all these changes pass through:
// Withdraw, Confirm, Suppress and the erasure decide inside their
// transaction whether anything changed at all (an opt-out repeated is no
// event), which a caller cannot know beforehand, and a caller that forgot
// its rows would lose events silently.
func WithWebhooks(urls []string) Option {
	return func(s *Store) { s.webhooks = slices.Clone(urls) }
}

// withLeadCreated returns outbox with the lead.created webhooks appended
// (their lead id is set when the lead is inserted). Every lead that reaches
// the store is one sales hears of: spam is dropped before it.
func (s *Store) withLeadCreated(outbox []models.OutboxMessage, at time.Time) []models.OutboxMessage {
	if len(s.webhooks) == 0 {
		return outbox
	}
	return append(slices.Clip(outbox), models.WebhookRows(s.webhooks, models.EventLeadCreated, 0, "", at)...)
}

// queueWebhooks inserts the rows of one event inside tx.
func queueWebhooks(tx *gorm.DB, rows []models.OutboxMessage) error {
	if len(rows) == 0 {
		return nil
	}
	return tx.Omit("Lead").Create(&rows).Error
}

// queueConsentEvent queues event about subject's consent in tx: about the
// lead the change came through when known (a link), or else the person's
// newest lead. A person with no lead (an address only on the suppression
// list) has nothing a receiver could match, and no event.
func (s *Store) queueConsentEvent(tx *gorm.DB, event, subject string, leadID *int64, at time.Time) error {
	if len(s.webhooks) == 0 {
		return nil
	}
	var id int64
	if leadID != nil {
		id = *leadID
	} else if err := tx.Raw(`SELECT coalesce(max(lead_id), 0) FROM consent_events WHERE subject = ? AND lead_id IS NOT NULL`,
		subject).Scan(&id).Error; err != nil {
		return err
	}
	if id == 0 {
		return nil
	}
	return queueWebhooks(tx, models.WebhookRows(s.webhooks, event, id, "", at))
}

// queueErased queues subject.erased for the leads ids in tx, after they
// were blanked: the rows carry the leads' public ids (which the erased
// rows keep, and which identify nobody) and point at the first lead.
func (s *Store) queueErased(tx *gorm.DB, ids []int64, at time.Time) error {
	if len(s.webhooks) == 0 || len(ids) == 0 {
		return nil
	}
	var publicIDs []string
	if err := tx.Raw(`SELECT public_id FROM leads WHERE id IN ? ORDER BY id`, ids).Scan(&publicIDs).Error; err != nil {
		return err
	}
	sorted := slices.Sorted(slices.Values(ids))
	return queueWebhooks(tx, models.ErasedRows(s.webhooks, sorted, publicIDs, at))
}
