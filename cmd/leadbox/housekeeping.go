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

// integrityAtStart checks the database for damage once, just after start,
// beside serving (a quick check took 1.4 s on a million leads, too long to
// hold readiness back for), and says in the log what it found: damage that
// no request has touched yet is otherwise found only when a request reads
// the bad page, perhaps an opt-out that then fails.
func integrityAtStart(database string, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		start := time.Now()
		problems, err := checkDatabase(ctx, database, false)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			log.Warn("integrity check at start did not run", "err", err)
		case len(problems) > 0:
			log.Error("the database is damaged: stop the server and follow docs/operations.md, \"A damaged database\" (leadbox check-db --full lists the damage)",
				"problems", len(problems), "first", problems[0])
		default:
			log.Info("integrity check at start: ok", "check", "quick_check", "took", time.Since(start).Round(time.Millisecond).String())
		}
		<-ctx.Done()
		return nil
	}
}

// indexLoader is a store that loads in-memory indexes after it opened
// (the SQLite engine's writer), serving from the database meanwhile.
type indexLoader interface {
	IndexesLoaded() <-chan struct{}
	IndexLoadError() error
}

// indexesLoaded logs when store's in-memory indexes are loaded, and how
// long it took since start, or why they could not be (the guards then keep
// asking the database, which is correct but slower per submission).
func indexesLoaded(store any, start time.Time, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		l, ok := store.(indexLoader)
		if !ok {
			return nil
		}
		select {
		case <-l.IndexesLoaded():
		case <-ctx.Done():
			return nil
		}
		if err := l.IndexLoadError(); err != nil {
			log.Warn("in-memory indexes not loaded: duplicates and the confirmation limit are checked in the database", "err", err)
		} else {
			log.Info("in-memory indexes loaded", "took", time.Since(start).Round(time.Millisecond).String())
		}
		<-ctx.Done()
		return nil
	}
}
