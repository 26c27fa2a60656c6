package handlers

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/leadbox/leadbox/models"
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

// keepRateToken, set on a request's context, keeps the token of a refused
// submission: one that failed the CAPTCHA is a bot's more likely than a
// typo, and each costs a call to the provider.
const keepRateToken = "leadbox.ratelimit.keep"

// clientKey is whom the limit counts: an IPv4 address, or the /64 of an
// IPv6 one, the block a single host is given and may pick any address
// from (RFC 7934 §6); counted per address, one host would have 2^64
// budgets.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	// Behind a NAT64 gateway (RFC 6052's well-known prefix) each IPv4
	// client is its own address in the last 32 bits, all in one /64.
	if nat64.Contains(a) {
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:])).String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// rateLimit answers 429 with Retry-After to a client over its budget of
// accepted submissions. A submission that is refused (a typo in the email,
// a body too large) gives its token back: someone fixing a form must not be
// locked out. perMinute 0 turns the limit off.
func rateLimit(perMinute int, now func() time.Time, rend *renderer, spam SpamNoter) gin.HandlerFunc {
	if perMinute <= 0 {
		return func(c *gin.Context) { c.Next() }
	}
	l := newClientLimiter(perMinute, now())
	return func(c *gin.Context) {
		t := now()
		r, wait := l.reserve(clientKey(c.ClientIP()), t)
		if r != nil {
			c.Next()
			if c.Writer.Status() >= http.StatusBadRequest && !c.GetBool(keepRateToken) {
				// Cancel as of the reservation's own time: x/time/rate only
				// gives back tokens of reservations not yet "acted on".
				r.CancelAt(t)
			}
			return
		}
		spam.Note(models.SpamRateLimit)
		secs := int(math.Ceil(wait.Seconds()))
		c.Header("Retry-After", strconv.Itoa(secs))
		c.Abort()
		rend.errorPage(c, http.StatusTooManyRequests, "Too many messages",
			"You have sent several messages in a short time. Please wait "+strconv.Itoa(secs)+
				" seconds, then send yours again.")
	}
}
