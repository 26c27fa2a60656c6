package models

import (
	"context"
	"sync"
	"time"
)

// Spam reasons: why a submission was answered like a success but not kept.
const (
	SpamHoneypot  = "honeypot"   // the hidden field was filled in
	SpamTimeTrap  = "time_trap"  // posted faster than a person types, or with a forged stamp
	SpamDuplicate = "duplicate"  // the same person sent the same message again
	SpamRateLimit = "rate_limit" // over the per-client budget
	SpamCaptcha   = "captcha"    // the CAPTCHA provider said no
)

// SpamCount is how many submissions were dropped for one reason.
type SpamCount struct {
	Reason string
	Count  int64
}

// SpamTallies is where a SpamLog keeps its counts: per hour and reason,
// with no content and no address.
type SpamTallies interface {
	// AddSpam adds counts (by reason) to the tallies of the hour
	// containing at.
	AddSpam(ctx context.Context, at time.Time, counts map[string]int64) error
	// PurgeSpam deletes the tallies of hours before before.
	PurgeSpam(ctx context.Context, before time.Time) (int64, error)
}

// SpamLog counts spam in memory and writes the counts in the background, so
// that a flood of bot posts costs one small write every few seconds rather
// than one per post. Counts of the last few seconds before a crash are
// lost; they are statistics, not records.
type SpamLog struct {
	store     SpamTallies
	retention time.Duration
	// Now is the clock the tallies are kept by.
	Now func() time.Time

	mu     sync.Mutex
	counts map[string]int64
}

// NewSpamLog keeps tallies for retention, then purges them.
func NewSpamLog(store SpamTallies, retention time.Duration) *SpamLog {
	return &SpamLog{store: store, retention: retention, Now: time.Now, counts: make(map[string]int64)}
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
	if err := l.store.AddSpam(ctx, l.Now(), counts); err != nil {
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
		if now := l.Now(); now.Sub(lastPurge) >= time.Hour {
			lastPurge = now
			if _, err := l.store.PurgeSpam(ctx, now.Add(-l.retention)); err != nil {
				report(err)
			}
		}
	}
}
