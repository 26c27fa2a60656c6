package handlers

import (
	"fmt"
	"testing"
	"time"
)

// allow takes one token for key at now, or says how long until one is free.
func (l *clientLimiter) allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	r, wait := l.reserve(key, now)
	return r != nil, wait
}

func TestClientLimiterBudgetAndRefill(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := newClientLimiter(10, t0)
	for i := range 10 {
		if ok, _ := l.allow("198.51.100.7", t0); !ok {
			t.Fatalf("request %d of the burst refused, want allowed", i+1)
		}
	}
	ok, wait := l.allow("198.51.100.7", t0)
	if ok {
		t.Fatal("11th request within the minute allowed, want refused")
	}
	if wait <= 0 || wait > 6*time.Second {
		t.Errorf("retry after %v, want about 6s (one token per 6s at 10/min)", wait)
	}
	if ok, _ := l.allow("203.0.113.9", t0); !ok {
		t.Error("another client was refused: budgets must be per client")
	}
	if ok, _ := l.allow("198.51.100.7", t0.Add(wait)); !ok {
		t.Errorf("request after the announced Retry-After (%v) refused", wait)
	}
	// A refused request must not eat budget: right after the retry, the
	// next token is again about 6 s away, not more.
	if _, wait2 := l.allow("198.51.100.7", t0.Add(wait)); wait2 > 6*time.Second {
		t.Errorf("second wait %v: refused requests consumed tokens", wait2)
	}
}

func TestClientLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := newClientLimiter(10, t0)
	l.max = 1000
	for i := range 50_000 {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0)
		if n := len(l.cur) + len(l.prev); n > 2*l.max {
			t.Fatalf("after %d clients the limiter tracks %d, want at most %d", i+1, n, 2*l.max)
		}
	}
}

func TestClientLimiterKeepsStateAcrossRotation(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := newClientLimiter(2, t0)
	l.max = 2
	l.allow("a", t0)
	l.allow("a", t0)
	l.allow("b", t0)
	l.allow("c", t0) // the generation is full: "a" and "b" move to the previous one
	if ok, _ := l.allow("a", t0); ok {
		t.Error("exhausted client allowed after a rotation: its bucket was lost")
	}
}
