package models

import (
	"context"
	"errors"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// maxGroup bounds one group commit, so one transaction never grows
// without limit under a flood.
const maxGroup = 256

// errStoreClosed is returned for leads created after Close.
var errStoreClosed = errors.New("store closed")

// groupCommitter is the single writer of new leads. With synchronous=FULL
// every commit waits for an fsync (a few milliseconds on real disks), and
// SQLite has one writer at a time, so committing each submission on its own
// caps throughput at one fsync per lead. Instead every request hands its
// lead to this goroutine, which takes all the requests waiting at that
// moment and commits them in one transaction: one fsync for the group. No
// request is held back to wait for others (the group is whatever queued up
// during the previous commit), so at low load it is a plain commit, and
// under load the groups grow by themselves.
//
// Each submission runs inside a savepoint, so one that fails (a constraint,
// a bad value) is rolled back alone and the others still commit. A request
// is answered only after the COMMIT returned: the guarantee "201 means on
// disk" is unchanged.
type groupCommitter struct {
	db      *gorm.DB
	reqs    chan *createReq // unbuffered: a request is either taken or not
	closing chan struct{}
	done    chan struct{}
}

type createReq struct {
	ctx     context.Context
	lead    *Lead
	consent *ConsentEvent
	outbox  []OutboxMessage
	since   time.Time
	// result gets exactly one answer once the group's COMMIT returned.
	dup    bool
	err    error
	result chan struct{}
}

func startGroupCommitter(db *gorm.DB) *groupCommitter {
	g := &groupCommitter{
		db:      db,
		reqs:    make(chan *createReq),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go g.run()
	return g
}

// do hands one submission to the writer and waits for its group's commit.
// Once taken, the request is waited for even if ctx ends meanwhile: the
// writer is using the caller's records, and the commit is seconds away at
// worst (busy_timeout).
func (g *groupCommitter) do(ctx context.Context, lead *Lead, consent *ConsentEvent, outbox []OutboxMessage, since time.Time) (bool, error) {
	r := &createReq{ctx: ctx, lead: lead, consent: consent, outbox: outbox, since: since, result: make(chan struct{})}
	select {
	case g.reqs <- r:
	case <-g.closing:
		return false, errStoreClosed
	case <-ctx.Done():
		return false, ctx.Err()
	}
	<-r.result
	return r.dup, r.err
}

func (g *groupCommitter) stop() {
	close(g.closing)
	<-g.done
}

func (g *groupCommitter) run() {
	defer close(g.done)
	group := make([]*createReq, 0, maxGroup)
	for {
		select {
		case r := <-g.reqs:
			group = append(group[:0], r)
		case <-g.closing:
			return
		}
	collect:
		for len(group) < maxGroup {
			select {
			case r := <-g.reqs:
				group = append(group, r)
			default:
				break collect
			}
		}
		g.commit(group)
		for _, r := range group {
			close(r.result)
		}
	}
}

// commit writes a group in one transaction, each request in its own
// savepoint, and records each request's outcome.
func (g *groupCommitter) commit(group []*createReq) {
	// The transaction serves many requests, so no single request's
	// context may cancel it; a request cancelled before its turn is
	// skipped instead.
	err := g.db.WithContext(context.Background()).Transaction(func(tx *gorm.DB) error {
		for i, r := range group {
			if r.err = r.ctx.Err(); r.err != nil {
				continue
			}
			sp := "lead" + strconv.Itoa(i)
			if err := tx.SavePoint(sp).Error; err != nil {
				return err
			}
			r.dup, r.err = createLeadOnce(tx, r.lead, r.consent, r.outbox, r.since)
			if r.err != nil {
				if err := tx.RollbackTo(sp).Error; err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		// Nothing of the group was committed.
		for _, r := range group {
			if r.err == nil {
				r.err, r.dup = err, false
			}
		}
	}
}
