package handlers

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// Metrics counts what the handlers decide, for GET /metrics; the metrics
// package implements it. Every value it is given comes from a small fixed
// set (the constants below, models' spam reasons, route patterns, status
// codes): never anything a visitor typed or a link carried.
type Metrics interface {
	// Submission counts one post to form by what became of it: one of
	// the Outcome constants.
	Submission(form, outcome string)
	// Spam counts a submission answered without being kept, by its
	// models.Spam* reason, as the spam tallies (`leadbox spam`) count it.
	Spam(reason string)
	// Request observes one HTTP request: its route pattern (RouteUnmatched
	// when no route matched), its method (see methodLabel), the status
	// answered, and how long it took.
	Request(route, method string, status int, d time.Duration)
}

// What became of a submission, as Metrics.Submission counts it.
const (
	OutcomeAccepted    = "accepted"     // a new lead was committed
	OutcomeInvalid     = "invalid"      // refused with 4xx: fields to fix, or a body that is no submission
	OutcomeSpam        = "spam"         // caught by the honeypot, the time trap or the CAPTCHA
	OutcomeDuplicate   = "duplicate"    // a repeat within the duplicate window, answered with the first one's answer
	OutcomeRateLimited = "rate_limited" // over the client's budget: 429
)

// ContactForm is the key of the form at /contact, as Metrics name it.
const ContactForm = "contact"

// RouteUnmatched is the route Metrics.Request is given for a request no
// route matched: the raw path may hold a token, and any client can make
// up endless paths.
const RouteUnmatched = "unmatched"

type noMetrics struct{}

func (noMetrics) Submission(string, string)                  {}
func (noMetrics) Spam(string)                                {}
func (noMetrics) Request(string, string, int, time.Duration) {}

// counted is how a submission's outcome counts: one of the Outcome
// constants, or "" for one that was not taken for a fault of ours or of
// the CAPTCHA provider (5xx), which tells nothing about the submission.
// A rate-limited one never gets here: contactSubmit counts it before.
func (o outcome) counted() string {
	switch {
	case o.spam == models.SpamDuplicate:
		return OutcomeDuplicate
	case o.spam != "":
		return OutcomeSpam
	case o.fresh:
		return OutcomeAccepted
	case o.reply.kind == replyUnreadable,
		o.reply.kind == replyRefused && o.reply.status < http.StatusInternalServerError:
		return OutcomeInvalid
	}
	return ""
}

// requestMetrics observes every request by route pattern, never by path:
// paths carry opt-out and confirm tokens.
func requestMetrics(m Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = RouteUnmatched
		}
		m.Request(route, methodLabel(c.Request.Method), c.Writer.Status(), time.Since(start))
	}
}

// methodLabel is the method as a label: a client may send any word as a
// method, and each would be a series of its own.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// addMetricsRoute serves page at /metrics to clients in networks, decided
// by gin's ClientIP with the configured trusted proxies as everywhere
// else. Other clients get the 404 of an address that does not exist, for
// every method, so that nobody outside learns it does; with no networks
// (off) or no page the route does not exist at all.
func addMetricsRoute(r *gin.Engine, networks []netip.Prefix, page http.Handler, rend *renderer) {
	if len(networks) == 0 || page == nil {
		return
	}
	r.Any("/metrics", func(c *gin.Context) {
		if !inNetworks(c.ClientIP(), networks) {
			notFound(c, rend)
			return
		}
		if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
			c.Header("Allow", "GET, HEAD")
			rend.errorPage(c, http.StatusMethodNotAllowed, "Not allowed", "This address does not accept that kind of request.")
			return
		}
		page.ServeHTTP(c.Writer, c.Request)
	})
}

// inNetworks reports whether the address ip (as gin's ClientIP gives it)
// is in one of networks.
func inNetworks(ip string, networks []netip.Prefix) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, n := range networks {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// notFound answers with the page of an address that does not exist.
func notFound(c *gin.Context, rend *renderer) {
	rend.errorPage(c, http.StatusNotFound, "Page not found", "There is nothing at this address.")
}
