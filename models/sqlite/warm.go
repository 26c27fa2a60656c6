package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/leadbox/leadbox/models"
)

// Loading the in-memory indexes (the 50,000 latest submissions and a day
// of confirmation emails) reads and sorts a good part of the database: at
// a million leads it took 1.6 s, and the server answered nothing until it
// was done. So the writer starts cold and serves at once, answering its
// guards from the database, in the same write transaction as the inserts
// (the database is the truth; the indexes only keep the queries out of
// the writer's path): a duplicate through earlierSubmissionSQL, the
// confirmation limit through confirmationsSQL, as it already did for what
// the confirmation index forgot. Holding submissions until warm was the
// other choice; it would delay the first second of submissions by the
// whole load, where a query by the person's address costs tens of
// microseconds (see docs/performance.md, "Start-up").
//
// The load reads one snapshot through the read pool, on its own goroutine,
// and hands the indexes to the writer, which adds what it committed
// meanwhile and from then on uses them.

// queryer is what the loads read through: the read transaction of loadIndexes.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// warmth is the writer's state of its indexes' load. Every field but
// loaded, stopLoad and loading is the writer goroutine's own.
type warmth struct {
	// warm: the indexes hold everything committed, and answer the guards.
	warm bool
	// failed: the load failed; the guards ask the database for the life
	// of the process (correct, a little slower per submission).
	failed bool
	// pending is what the writer committed, or erased, while the load ran:
	// applied in order once the indexes arrive, each to what the load's
	// snapshot did not see (see takeWarm).
	pending []func(*warmIndexes)
	// warmed carries the loaded indexes to the writer.
	warmed chan *warmIndexes
	// loaded is closed when the writer has taken them, or the load failed
	// (loadErr says so; read it only after loaded is closed).
	loaded  chan struct{}
	loadErr error
	// stopLoad cancels a load still running at Close; loading is closed
	// when its goroutine has returned.
	stopLoad context.CancelFunc
	loadCtx  context.Context
	loading  chan struct{}
}

func newWarmth() warmth {
	ctx, cancel := context.WithCancel(context.Background())
	return warmth{
		warmed: make(chan *warmIndexes, 1), loaded: make(chan struct{}),
		loadCtx: ctx, stopLoad: cancel, loading: make(chan struct{}),
	}
}

// warmIndexes are the indexes as loaded from one snapshot, in which upTo
// was the newest lead.
type warmIndexes struct {
	recent   *recentLeads
	confirms *confirmIndex
	upTo     int64
	err      error
}

// loadIndexes loads the indexes from readers and hands them to the writer.
func (g *groupCommitter) loadIndexes(readers *sql.DB, noteDamage func(error), hold <-chan struct{}) {
	defer close(g.loading)
	if hold != nil {
		select {
		case <-hold:
		case <-g.loadCtx.Done():
			return
		}
	}
	now := time.Now()
	w := &warmIndexes{recent: newRecentLeads(), confirms: newConfirmIndex(g.seed)}
	w.err = w.load(g.loadCtx, readers, now)
	if w.err != nil && noteDamage != nil {
		noteDamage(w.err)
	}
	select {
	case g.warmed <- w:
	case <-g.loadCtx.Done():
	}
}

// load reads the newest lead's id and both indexes in one read
// transaction, so that they describe the same moment.
func (w *warmIndexes) load(ctx context.Context, readers *sql.DB, now time.Time) error {
	tx, err := readers.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("load the in-memory indexes: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // it only read
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM leads").Scan(&w.upTo); err != nil {
		return fmt.Errorf("load the in-memory indexes: %w", err)
	}
	if err := w.recent.load(ctx, tx); err != nil {
		return err
	}
	return w.confirms.load(ctx, tx, now)
}

// stopWarming cancels a load still running and waits for it, after the
// writer stopped taking it (Close).
func (g *groupCommitter) stopWarming() {
	g.stopLoad()
	<-g.loading
}

// takeWarm switches the writer to the loaded indexes, after adding to them
// what it did while they loaded. Runs in the writer goroutine.
func (g *groupCommitter) takeWarm(w *warmIndexes) {
	defer close(g.loaded)
	if w.err != nil {
		g.failed, g.pending, g.loadErr = true, nil, w.err
		return
	}
	for _, apply := range g.pending {
		apply(w)
	}
	g.recent, g.confirms, g.pending, g.warm = w.recent, w.confirms, nil, true
}

// rememberCold is remember while the indexes load: what the load's
// snapshot did not see (leads after its newest) is added once it arrives.
func (g *groupCommitter) rememberCold(reqs []*createReq) {
	if g.failed {
		return
	}
	for _, r := range reqs {
		if r.err != nil || r.earlier != 0 || r.consent.Method != models.MethodForm {
			continue
		}
		key, l, at, person, counts := r.key, recentOf(r.lead), r.lead.CreatedAt, r.person, r.countsConfirmation()
		g.pending = append(g.pending, func(w *warmIndexes) {
			if l.id <= w.upTo {
				return
			}
			w.recent.add(key, l)
			if counts {
				w.confirms.add(person, at)
			}
		})
	}
}

// forgetCold is runJob's forgetting while the indexes load: applied to
// them once they arrive, whether or not the snapshot saw the erasure.
func (g *groupCommitter) forgetCold(f forgetting) {
	if g.failed {
		return
	}
	g.pending = append(g.pending, func(w *warmIndexes) {
		for _, k := range f.keys {
			w.recent.forget(k)
		}
		for _, s := range f.subjects {
			w.confirms.forget(w.confirms.key(s))
		}
	})
}

// earlierInDB is the duplicate check while the index of recent
// submissions is not loaded: the same rule as a query, inside the
// writer's transaction, so it also sees the group's own rows.
func (g *groupCommitter) earlierInDB(st leadStmts, r *createReq) (int64, error) {
	var id int64
	err := st.earlier.QueryRow(r.consent.Subject, models.PurposeMarketingEmail, models.MethodForm, r.consent.Action,
		r.lead.Message, r.guards.DuplicateSince.UTC()).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("look for an earlier submission: %w", err)
	}
	return id, nil
}

// IndexesLoaded is closed once the in-memory indexes of the writer are
// loaded, or their load failed (then the store keeps answering its guards
// from the database; IndexLoadError says why). Nil for a store opened for
// commands, which has none. For the log and tests: nothing waits for it
// before serving.
func (s *Store) IndexesLoaded() <-chan struct{} {
	if s.commits == nil {
		return nil
	}
	return s.commits.loaded
}

// IndexLoadError is why the indexes could not be loaded, once
// IndexesLoaded is closed.
func (s *Store) IndexLoadError() error {
	if s.commits == nil {
		return nil
	}
	select {
	case <-s.commits.loaded:
		return s.commits.loadErr
	default:
		return nil
	}
}
