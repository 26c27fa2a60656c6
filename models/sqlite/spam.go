package sqlite

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/leadbox/leadbox/models"
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

// SpamCounts sums the tallies of the hours at or after since, by reason,
// most frequent first.
func (s *Store) SpamCounts(ctx context.Context, since time.Time) ([]models.SpamCount, error) {
	var out []models.SpamCount
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
