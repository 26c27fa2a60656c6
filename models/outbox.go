package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ClaimDue leases up to limit messages that are due at now (pending and
// past their next attempt, or sending with a lease that ran out because a
// worker died) and returns them with their leads. While leased, no other
// worker picks them up.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]OutboxMessage, error) {
	var msgs []OutboxMessage
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []int64
		err := tx.Model(&OutboxMessage{}).
			Where("(status = ? AND next_attempt_at <= ?) OR (status = ? AND lease_until <= ?)",
				StatusPending, now, StatusSending, now).
			Order("next_attempt_at, id").Limit(limit).Pluck("id", &ids).Error
		if err != nil || len(ids) == 0 {
			return err
		}
		until := now.Add(lease)
		if err := tx.Model(&OutboxMessage{}).Where("id IN ?", ids).
			Updates(map[string]any{"status": StatusSending, "lease_until": until}).Error; err != nil {
			return err
		}
		return tx.Preload("Lead.Consent.ConsentText").Where("id IN ?", ids).Order("next_attempt_at, id").Find(&msgs).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim due outbox messages: %w", err)
	}
	return msgs, nil
}

// NextDue returns when the next pending message is due; ok is false when
// nothing is waiting.
func (s *Store) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	var m OutboxMessage
	err = s.r.WithContext(ctx).Select("next_attempt_at").
		Where("status = ?", StatusPending).Order("next_attempt_at").Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read next due outbox message: %w", err)
	}
	return m.NextAttemptAt, true, nil
}

// MarkSent records that the SMTP server accepted the message.
func (s *Store) MarkSent(ctx context.Context, id int64, at time.Time) error {
	return s.finish(ctx, id, map[string]any{
		"status": StatusSent, "sent_at": at, "lease_until": nil,
		"attempts": gorm.Expr("attempts + 1"), "last_error": "",
	})
}

// MarkRetry records a temporary failure and when to try again.
func (s *Store) MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error {
	return s.finish(ctx, id, map[string]any{
		"status": StatusPending, "next_attempt_at": next, "lease_until": nil,
		"attempts": gorm.Expr("attempts + 1"), "last_error": reason,
	})
}

// MarkFailed records a permanent failure; the message is not tried again
// unless an operator puts it back with Requeue.
func (s *Store) MarkFailed(ctx context.Context, id int64, reason string) error {
	return s.finish(ctx, id, map[string]any{
		"status": StatusFailed, "lease_until": nil,
		"attempts": gorm.Expr("attempts + 1"), "last_error": reason,
	})
}

// MarkCancelled records that the message must not be sent (for example,
// the person withdrew consent before it went out).
func (s *Store) MarkCancelled(ctx context.Context, id int64, reason string) error {
	return s.finish(ctx, id, map[string]any{
		"status": StatusCancelled, "lease_until": nil, "last_error": reason,
	})
}

// Release gives a leased message back without counting an attempt, for a
// worker that shuts down before it could send.
func (s *Store) Release(ctx context.Context, id int64) error {
	return s.finish(ctx, id, map[string]any{"status": StatusPending, "lease_until": nil})
}

func (s *Store) finish(ctx context.Context, id int64, fields map[string]any) error {
	res := s.w.WithContext(ctx).Model(&OutboxMessage{}).
		Where("id = ? AND status = ?", id, StatusSending).Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("update outbox message %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update outbox message %d: not leased: %w", id, ErrNotFound)
	}
	return nil
}

// Requeue puts a failed or cancelled message back in line, due now, with its
// attempt count kept for the record.
func (s *Store) Requeue(ctx context.Context, id int64, now time.Time) error {
	res := s.w.WithContext(ctx).Model(&OutboxMessage{}).
		Where("id = ? AND status IN ?", id, []string{StatusFailed, StatusCancelled}).
		Updates(map[string]any{"status": StatusPending, "next_attempt_at": now, "queued_at": now})
	if res.Error != nil {
		return fmt.Errorf("requeue outbox message %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("requeue outbox message %d: no failed or cancelled message with that id: %w", id, ErrNotFound)
	}
	return nil
}

// OutboxByStatus lists messages in the given states, oldest first, with
// their leads.
func (s *Store) OutboxByStatus(ctx context.Context, statuses ...string) ([]OutboxMessage, error) {
	var msgs []OutboxMessage
	err := s.r.WithContext(ctx).Preload("Lead").Where("status IN ?", statuses).
		Order("created_at, id").Find(&msgs).Error
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return msgs, nil
}
