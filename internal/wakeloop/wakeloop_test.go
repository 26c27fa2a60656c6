package wakeloop

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoop: it drains at once, again when woken (long before its poll),
// reports a failed drain, and returns nil when its context ends.
func TestLoop(t *testing.T) {
	wake := NewSignal()
	var drains, failures atomic.Int32
	drained := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	l := Loop{
		Poll: time.Hour,
		Wake: wake,
		Drain: func(context.Context) error {
			n := drains.Add(1)
			drained <- struct{}{}
			if n == 2 {
				return errors.New("database busy")
			}
			return nil
		},
		NextDue: func(context.Context) time.Duration { return time.Hour },
		Failed:  func(error) { failures.Add(1) },
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-drained:
		case <-time.After(10 * time.Second):
			t.Fatalf("no drain %s", what)
		}
	}
	wait("at start")
	wake.Wake()
	wake.Wake()        // collapses into the pending one; never blocks
	wait("when woken") // this one fails
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	if failures.Load() != 1 {
		t.Errorf("%d failures reported, want 1", failures.Load())
	}
}
