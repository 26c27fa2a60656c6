package main

import (
	"context"

	"github.com/leadbox/leadbox/models"
)

// wakeOnEvents is a models.Store that wakes the webhook sender after each
// change that queues an event besides a submission (which wakes it
// through Notify): a confirmation, an opt-out, a suppression, an
// erasure. Without it they would wait for the next poll.
type wakeOnEvents struct {
	models.Store
	wake func()
}

func (s wakeOnEvents) Withdraw(ctx context.Context, ev models.ConsentEvent) (bool, error) {
	done, err := s.Store.Withdraw(ctx, ev)
	if done {
		s.wake()
	}
	return done, err
}

func (s wakeOnEvents) Confirm(ctx context.Context, lead models.Lead, ev models.ConsentEvent) (bool, error) {
	done, err := s.Store.Confirm(ctx, lead, ev)
	if done {
		s.wake()
	}
	return done, err
}

func (s wakeOnEvents) Suppress(ctx context.Context, subject, method string, o models.Origin) (models.Suppression, error) {
	res, err := s.Store.Suppress(ctx, subject, method, o)
	if res.Withdrawn {
		s.wake()
	}
	return res, err
}

func (s wakeOnEvents) EraseSubject(ctx context.Context, subject string, o models.Origin) (models.Erasure, error) {
	res, err := s.Store.EraseSubject(ctx, subject, o)
	if res.Leads > 0 {
		s.wake()
	}
	return res, err
}
