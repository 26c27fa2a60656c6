package main

import (
	"context"
	"log/slog"
	"time"
)

// sessionPurger is what housekeeping needs of storage.
type sessionPurger interface {
	PurgeSessions(ctx context.Context, now time.Time) (int64, error)
}

// housekeeping deletes what has expired (inbox sessions past their idle or
// absolute limit) every interval until ctx ends. An expired session is
// already refused when it is used; this only keeps the table from growing
// with every sign-in that was never ended.
func housekeeping(store sessionPurger, every time.Duration, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				n, err := store.PurgeSessions(ctx, now)
				if err != nil {
					log.Error("housekeeping: purge expired sessions", "err", err)
					continue
				}
				if n > 0 {
					log.Info("housekeeping: expired sessions deleted", "sessions", n)
				}
			}
		}
	}
}
