package handlers

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/leadbox/leadbox/access"
)

// maxTrackedClients bounds the limiter's memory whatever the number of
// clients: about 200 bytes each, so 2 × 100,000 entries stay near 40 MB at
// the very worst and far less in practice.
const maxTrackedClients = 100_000

// clientLimiter is a token bucket per client key (the client IP as the
// trusted-proxy rules define it). Buckets live in two generations: a bucket
// untouched for a whole refill window is full again, so it can be dropped
// without changing any answer; when the current generation reaches
// maxTrackedClients, it is rotated early, which at worst gives a client that
// shares the flood a fresh bucket.
type clientLimiter struct {
	mu        sync.Mutex
	limit     rate.Limit
	burst     int
	window    time.Duration
	cur, prev map[string]*rate.Limiter
	rotated   time.Time
	max       int
}

// newClientLimiter allows perMinute requests per client per minute, in a
// burst of up to perMinute.
func newClientLimiter(perMinute int, now time.Time) *clientLimiter {
	return &clientLimiter{
		limit:   rate.Limit(float64(perMinute) / 60),
		burst:   perMinute,
		window:  time.Minute,
		cur:     make(map[string]*rate.Limiter),
		prev:    make(map[string]*rate.Limiter),
		rotated: now,
		max:     maxTrackedClients,
	}
}

// reserve takes one token for key at now and returns the reservation, which
// can be given back; or nil and how long until a token is free.
func (l *clientLimiter) reserve(key string, now time.Time) (*rate.Reservation, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.rotated) >= l.window || len(l.cur) >= l.max {
		l.prev, l.cur, l.rotated = l.cur, make(map[string]*rate.Limiter), now
	}
	lim, found := l.cur[key]
	if !found {
		if lim, found = l.prev[key]; found {
			delete(l.prev, key)
		} else {
			lim = rate.NewLimiter(l.limit, l.burst)
		}
		l.cur[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d
	}
	return r, 0
}

// rateLimit is one form's budget of accepted submissions per client. A
// submission takes a token before its body is even read, and gives it back
// when its outcome says so (see tokenUse).
type rateLimit struct {
	clients *clientLimiter // nil: no limit
	now     func() time.Time
}

// newRateLimit allows perMinute accepted submissions per client per
// minute; perMinute 0 turns the limit off.
func newRateLimit(perMinute int, now func() time.Time) rateLimit {
	if perMinute <= 0 {
		return rateLimit{now: now}
	}
	return rateLimit{clients: newClientLimiter(perMinute, now()), now: now}
}

// rateTicket is the token one submission took.
type rateTicket struct {
	r  *rate.Reservation // nil: no limit
	at time.Time
}

// take takes a token for a submission from the client at ip. ok is false
// when the client is over its budget, and wait is then how long until a
// token is free.
func (l rateLimit) take(ip string) (t rateTicket, wait time.Duration, ok bool) {
	if l.clients == nil {
		return rateTicket{}, 0, true
	}
	t.at = l.now()
	t.r, wait = l.clients.reserve(access.ClientKey(ip), t.at) // one client as sign-in throttling counts it
	return t, wait, t.r != nil
}

// settle applies a submission's outcome to its token: it stays spent, or
// goes back to the client.
func (t rateTicket) settle(use tokenUse) {
	if use == tokenReturned && t.r != nil {
		// Cancel as of the reservation's own time: x/time/rate only gives
		// back tokens of reservations not yet "acted on".
		t.r.CancelAt(t.at)
	}
}

// tooMany answers 429 with Retry-After to a client over its budget.
func tooMany(c *gin.Context, rend *renderer, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	c.Header("Retry-After", strconv.Itoa(secs))
	rend.errorPage(c, http.StatusTooManyRequests, "Too many messages",
		"You have sent several messages in a short time. Please wait "+strconv.Itoa(secs)+
			" seconds, then send yours again.")
}
