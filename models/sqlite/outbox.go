package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// The outbox has two lanes: emails, which the mail worker claims, and
// webhooks, which the webhook worker claims, so that a receiver that is
// slow or down delays only webhooks. Each lane's queries name its kind
// condition written out, not bound, so that SQLite can match the webhook
// lane's partial index (idx_outbox_webhooks_due).
const (
	kindIsWebhook = "kind = '" + models.KindWebhook + "'"
	kindIsEmail   = "kind != '" + models.KindWebhook + "'"
)

// ClaimDue leases up to limit emails that are due at due (pending and
// past their next attempt, or sending with a lease that ran out because a
// worker died) until leaseUntil, and returns them with their leads. While
// leased, no other worker picks them up. The lease is counted from the
// claim, not from due: a worker late in a long drain still asks for
// messages due when it began. Webhooks are not emails: see
// ClaimDueWebhooks.
func (s *Store) ClaimDue(ctx context.Context, due time.Time, limit int, leaseUntil time.Time) ([]models.OutboxMessage, error) {
	return s.claimDue(ctx, kindIsEmail, due, limit, leaseUntil)
}

// ClaimDueWebhooks is ClaimDue for the webhook lane.
func (s *Store) ClaimDueWebhooks(ctx context.Context, due time.Time, limit int, leaseUntil time.Time) ([]models.OutboxMessage, error) {
	return s.claimDue(ctx, kindIsWebhook, due, limit, leaseUntil)
}

func (s *Store) claimDue(ctx context.Context, lane string, due time.Time, limit int, leaseUntil time.Time) ([]models.OutboxMessage, error) {
	var msgs []models.OutboxMessage
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Two queries, each served by the (status, next_attempt_at) index in
		// order: one OR across both would sort the whole backlog each time.
		var ids, expired []int64
		if err := tx.Model(&models.OutboxMessage{}).Where("status = ? AND next_attempt_at <= ? AND "+lane, models.StatusPending, due).
			Order("next_attempt_at").Limit(limit).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if err := tx.Model(&models.OutboxMessage{}).Where("status = ? AND lease_until <= ? AND "+lane, models.StatusSending, due).
			Limit(limit).Pluck("id", &expired).Error; err != nil {
			return err
		}
		ids = append(expired, ids...)
		if len(ids) > limit {
			ids = ids[:limit]
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(&models.OutboxMessage{}).Where("id IN ?", ids).
			Updates(map[string]any{"status": models.StatusSending, "lease_until": leaseUntil}).Error; err != nil {
			return err
		}
		return withSubmissionConsent(tx, "Lead.Consent").Where("id IN ?", ids).Order("next_attempt_at, id").Find(&msgs).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim due outbox messages: %w", err)
	}
	return msgs, nil
}

// ExtendLease keeps leased messages leased until until, for a worker still
// working through them.
func (s *Store) ExtendLease(ctx context.Context, ids []int64, until time.Time) error {
	err := s.w.WithContext(ctx).Model(&models.OutboxMessage{}).Where("id IN ? AND status = ?", ids, models.StatusSending).
		Update("lease_until", until).Error
	if err != nil {
		return fmt.Errorf("extend outbox lease: %w", err)
	}
	return nil
}

// NextDue returns when the next pending email is due; ok is false when
// nothing is waiting.
func (s *Store) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	return s.nextDue(ctx, kindIsEmail)
}

// NextDueWebhook is NextDue for the webhook lane.
func (s *Store) NextDueWebhook(ctx context.Context) (at time.Time, ok bool, err error) {
	return s.nextDue(ctx, kindIsWebhook)
}

func (s *Store) nextDue(ctx context.Context, lane string) (at time.Time, ok bool, err error) {
	var m models.OutboxMessage
	err = s.r.WithContext(ctx).Select("next_attempt_at").
		Where("status = ? AND "+lane, models.StatusPending).Order("next_attempt_at").Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read next due outbox message: %w", err)
	}
	return m.NextAttemptAt, true, nil
}

// Record writes outcomes of leased messages in one transaction. A message
// that is no longer leased (another worker took it over) is left alone.
func (s *Store) Record(ctx context.Context, outcomes []models.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, o := range outcomes {
			fields := map[string]any{"status": o.Status, "lease_until": nil}
			if o.Attempted {
				fields["attempts"] = gorm.Expr("attempts + 1")
			}
			switch {
			case o.Status == models.StatusSent:
				fields["sent_at"], fields["last_error"] = o.At, ""
			case o.Status == models.StatusPending && o.Next.IsZero(): // released untried
			case o.Status == models.StatusPending:
				fields["next_attempt_at"], fields["last_error"] = o.Next, o.Reason
			default:
				fields["last_error"] = o.Reason
			}
			if err := tx.Model(&models.OutboxMessage{}).Where("id = ? AND status = ?", o.ID, models.StatusSending).
				Updates(fields).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record outbox outcomes: %w", err)
	}
	return nil
}

// Requeue puts a failed or cancelled message back in line, due now, with its
// attempt count kept for the record.
func (s *Store) Requeue(ctx context.Context, id int64, now time.Time) error {
	res := s.w.WithContext(ctx).Model(&models.OutboxMessage{}).
		Where("id = ? AND status IN ?", id, []string{models.StatusFailed, models.StatusCancelled}).
		Updates(map[string]any{"status": models.StatusPending, "next_attempt_at": now, "queued_at": now})
	if res.Error != nil {
		return fmt.Errorf("requeue outbox message %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("requeue outbox message %d: no failed or cancelled message with that id: %w", id, models.ErrNotFound)
	}
	return nil
}

// Cancel stops a pending message (an email or a webhook) from being sent;
// the reason is recorded as the operator's. A message being sent at that
// moment, or already sent, failed or cancelled, is not pending:
// ErrNotFound.
func (s *Store) Cancel(ctx context.Context, id int64) error {
	res := s.w.WithContext(ctx).Model(&models.OutboxMessage{}).
		Where("id = ? AND status = ?", id, models.StatusPending).
		Updates(map[string]any{"status": models.StatusCancelled, "last_error": "cancelled by an operator"})
	if res.Error != nil {
		return fmt.Errorf("cancel outbox message %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("cancel outbox message %d: no pending message with that id: %w", id, models.ErrNotFound)
	}
	return nil
}

// OutboxPage lists up to limit messages in the given states after the
// message with id after, oldest first, with their leads: a page at a time,
// so that a backlog of any size is listed in bounded memory (and its leads
// loaded with a bounded IN list).
func (s *Store) OutboxPage(ctx context.Context, statuses []string, after int64, limit int) ([]models.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	var msgs []models.OutboxMessage
	err := s.r.WithContext(ctx).Preload("Lead").Where("status IN ? AND id > ?", statuses, after).
		Order("id").Limit(limit).Find(&msgs).Error
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return msgs, nil
}

// OutboxCounts counts the messages (emails and webhooks) in each state,
// and finds when the oldest pending email was queued.
func (s *Store) OutboxCounts(ctx context.Context) (models.OutboxCounts, error) {
	c := models.OutboxCounts{ByStatus: map[string]int64{}}
	db := s.r.WithContext(ctx)
	var rows []struct {
		Status string
		N      int64
	}
	// The (status, next_attempt_at) index covers this: no table rows read.
	if err := db.Raw("SELECT status, count(*) AS n FROM outbox GROUP BY status").Scan(&rows).Error; err != nil {
		return c, fmt.Errorf("count outbox: %w", err)
	}
	for _, r := range rows {
		c.ByStatus[r.Status] = r.N
	}
	if c.ByStatus[models.StatusPending] == 0 {
		return c, nil
	}
	var oldest time.Time
	// ORDER BY ... LIMIT 1 rather than min(): an aggregate loses the
	// column's type, and the driver would hand back text.
	// Emails only: the age is how far behind the mail is (and what the
	// alert on it means); a webhook receiver that is down for hours is
	// retried for days, and is seen in leadbox_webhook_deliveries_total.
	err := db.Raw("SELECT queued_at FROM outbox WHERE status = ? AND "+kindIsEmail+" ORDER BY queued_at LIMIT 1", models.StatusPending).
		Row().Scan(&oldest)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("oldest pending email: %w", err)
	}
	c.OldestPending = oldest.UTC()
	return c, nil
}
