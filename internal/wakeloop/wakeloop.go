// Package wakeloop is the loop of Leadbox's senders (the mail worker and
// the webhook worker): work off what is due, then wait until woken, until
// the next due time, or at most a poll interval, and again, until the
// context ends.
package wakeloop

import (
	"context"
	"time"
)

// Signal is a Loop's wake-up: Wake never blocks, and wake-ups that arrive
// while one is pending collapse into one, so it may be called after every
// commit.
type Signal chan struct{}

// NewSignal returns a Signal for Loop.Wake.
func NewSignal() Signal { return make(Signal, 1) }

// Wake asks the loop to drain now.
func (s Signal) Wake() {
	select {
	case s <- struct{}{}:
	default:
	}
}

// Loop is one sender's loop.
type Loop struct {
	// Poll is the longest wait between two drains: what another process
	// queued, or a crash left, is found within it.
	Poll time.Duration
	// Wake makes the loop drain at once (see Signal).
	Wake Signal
	// Drain works off everything due.
	Drain func(ctx context.Context) error
	// NextDue is how long until the next item is due, at most Poll.
	NextDue func(ctx context.Context) time.Duration
	// Failed is told of a drain that failed (not one cut short by ctx);
	// the loop waits a poll interval and tries again.
	Failed func(err error)
}

// Run runs the loop until ctx ends, and returns nil then.
func (l Loop) Run(ctx context.Context) error {
	for {
		wait := l.Poll
		if err := l.Drain(ctx); err != nil && ctx.Err() == nil {
			l.Failed(err)
		} else if ctx.Err() == nil {
			wait = l.NextDue(ctx)
		}
		if ctx.Err() != nil {
			return nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-l.Wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}
