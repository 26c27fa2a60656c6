package models

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Spam reasons: why a submission was answered like a success but not kept.
const (
	SpamHoneypot  = "honeypot"   // the hidden field was filled in
	SpamTimeTrap  = "time_trap"  // posted faster than a person types, or with a forged stamp
	SpamDuplicate = "duplicate"  // the same person sent the same message again
	SpamRateLimit = "rate_limit" // over the per-client budget
	SpamCaptcha   = "captcha"    // the CAPTCHA provider said no
)

// SpamTally counts the submissions dropped for one reason in one hour. It
// holds no content and no address: enough to see a false-positive pattern
// ("the time trap fires for everyone since Tuesday"), nothing that
// identifies anyone, and one row per hour and reason however hard a bot
// wave hits.
type SpamTally struct {
	Hour   time.Time `gorm:"primaryKey"`
	Reason string    `gorm:"primaryKey"`
	Count  int64     `gorm:"not null"`
}

// AddSpam adds counts (by reason) to the tallies of the hour containing at.
func (s *Store) AddSpam(ctx context.Context, at time.Time, counts map[string]int64) error {
	if len(counts) == 0 {
		return nil
	}
	hour := at.UTC().Truncate(time.Hour)
	rows := make([]SpamTally, 0, len(counts))
	for reason, n := range counts {
		rows = append(rows, SpamTally{Hour: hour, Reason: reason, Count: n})
	}
	err := s.w.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "hour"}, {Name: "reason"}},
		DoUpdates: clause.Assignments(map[string]any{"count": gorm.Expr("spam_tallies.count + excluded.count")}),
	}).Create(&rows).Error
	if err != nil {
		return fmt.Errorf("add spam tallies: %w", err)
	}
	return nil
}

// SpamCount is how many submissions were dropped for one reason.
type SpamCount struct {
	Reason string
	Count  int64
}

// SpamCounts sums the tallies of the hours at or after since, by reason,
// most frequent first.
func (s *Store) SpamCounts(ctx context.Context, since time.Time) ([]SpamCount, error) {
	var out []SpamCount
	err := s.r.WithContext(ctx).Model(&SpamTally{}).
		Select("reason, sum(count) AS count").
		Where("hour >= ?", since.UTC().Truncate(time.Hour)).
		Group("reason").Order("count DESC, reason").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("count spam: %w", err)
	}
	return out, nil
}

// PurgeSpam deletes the tallies of hours before before.
func (s *Store) PurgeSpam(ctx context.Context, before time.Time) (int64, error) {
	res := s.w.WithContext(ctx).Where("hour < ?", before.UTC()).Delete(&SpamTally{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge spam: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// SpamLog counts spam in memory and writes the counts in the background, so
// that a flood of bot posts costs one small write every few seconds rather
// than one per post. Counts of the last few seconds before a crash are
// lost; they are statistics, not records.
type SpamLog struct {
	store     *Store
	retention time.Duration
	now       func() time.Time

	mu     sync.Mutex
	counts map[string]int64
}

// NewSpamLog keeps tallies for retention, then purges them.
func NewSpamLog(store *Store, retention time.Duration) *SpamLog {
	return &SpamLog{store: store, retention: retention, now: time.Now, counts: make(map[string]int64)}
}

// Note counts one dropped submission. It never blocks on the database.
func (l *SpamLog) Note(reason string) {
	l.mu.Lock()
	l.counts[reason]++
	l.mu.Unlock()
}

// Flush writes the counts noted so far.
func (l *SpamLog) Flush(ctx context.Context) error {
	l.mu.Lock()
	counts := l.counts
	l.counts = make(map[string]int64)
	l.mu.Unlock()
	if err := l.store.AddSpam(ctx, l.now(), counts); err != nil {
		// Put them back for the next flush rather than drop them.
		l.mu.Lock()
		for r, n := range counts {
			l.counts[r] += n
		}
		l.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval and purges old tallies, until ctx is done;
// then it flushes once more and returns. Errors go to report.
func (l *SpamLog) Run(ctx context.Context, interval time.Duration, report func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastPurge := time.Time{}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := l.Flush(fctx); err != nil {
				report(err)
			}
			return
		case <-t.C:
		}
		if err := l.Flush(ctx); err != nil {
			report(err)
		}
		if now := l.now(); now.Sub(lastPurge) >= time.Hour {
			lastPurge = now
			if _, err := l.store.PurgeSpam(ctx, now.Add(-l.retention)); err != nil {
				report(err)
			}
		}
	}
}

// Setting is a server-side value Leadbox makes for itself, such as the key
// that signs form stamps, so the operator has no secret to manage.
type Setting struct {
	Name  string `gorm:"primaryKey"`
	Value []byte `gorm:"not null"`
}

// Secret returns the random 32-byte secret called name, creating it on first
// use. Every instance on the same database shares it.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	var got Setting
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&Setting{Name: name, Value: fresh}).Error; err != nil {
			return err
		}
		return tx.Where("name = ?", name).Take(&got).Error
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if len(got.Value) < 16 {
		return nil, fmt.Errorf("secret %s: %w", name, errors.New("stored value too short"))
	}
	return got.Value, nil
}
