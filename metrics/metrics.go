// Package metrics counts what Leadbox does, for Prometheus: it implements
// the Metrics interfaces that handlers and mailer declare, counts the
// consent ledger's writes, reads the outbox's gauges from the database at
// scrape time, and serves it all at GET /metrics in the Prometheus text
// format (see docs/metrics.md).
//
// Every label value comes from a small fixed set (outcomes, reasons,
// kinds, route patterns, status codes); nothing a visitor typed, no
// address and no token ever becomes one.
package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/mailer"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/webhook"
)

// Options are what New needs besides the registry.
type Options struct {
	// Forms are the keys of the forms, whose submission series exist,
	// at zero, from the first scrape.
	Forms []string
	// Outbox is read at every scrape for the outbox's gauges; nil
	// leaves them out.
	Outbox OutboxCounter
	// Now is the clock the age of the oldest pending email is measured
	// by; nil means time.Now.
	Now func() time.Time
	// Log receives what goes wrong during a scrape; nil discards it.
	Log *slog.Logger
}

// Metrics is Leadbox's metrics on one registry. Its methods are safe for
// concurrent use.
type Metrics struct {
	gatherer prometheus.Gatherer
	log      *slog.Logger

	submissions *children[[2]string, prometheus.Counter] // form, outcome
	spam        *children[string, prometheus.Counter]
	emailSends  *children[[2]string, prometheus.Counter] // kind, result
	consent     *children[string, prometheus.Counter]
	webhooks    *children[string, prometheus.Counter] // result
	requests    *children[request, prometheus.Observer]
}

// request is the label set of one series of the request histogram.
type request struct {
	route, method string
	status        int
}

// requestBuckets are the request histogram's buckets, in seconds. A
// submission is answered in a few milliseconds (the commit's fsync sets
// the pace), so the defaults, which start at 5 ms, would put nearly all
// of them in their first bucket.
var requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New registers Leadbox's metrics, and the Go and process collectors, on
// reg, which is also what Handler serves.
func New(reg *prometheus.Registry, o Options) (*Metrics, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	submissions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadbox_submissions_total",
		Help: "Posts to a form, by what became of them: accepted, invalid, spam, duplicate or rate_limited.",
	}, []string{"form", "outcome"})
	spam := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadbox_spam_total",
		Help: "Submissions answered without being kept, by reason (as `leadbox spam` counts them).",
	}, []string{"reason"})
	emailSends := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadbox_email_sends_total",
		Help: "Delivery attempts of emails, by kind and result: sent, retry (a temporary failure) or failed (for good).",
	}, []string{"kind", "result"})
	consent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadbox_consent_events_total",
		Help: "Marketing-consent events committed to the ledger, by event: given, not_given, confirmed, withdrawn.",
	}, []string{"event"})
	webhooks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leadbox_webhook_deliveries_total",
		Help: "Delivery attempts of webhooks, by result: sent (2xx), retry (network error, 408, 429, 5xx) or failed (for good).",
	}, []string{"result"})
	requests := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "leadbox_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route pattern (never the path), method and status code.",
		Buckets: requestBuckets,
	}, []string{"route", "method", "code"})

	cs := []prometheus.Collector{
		submissions, spam, emailSends, consent, webhooks, requests,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if o.Outbox != nil {
		cs = append(cs, newOutboxCollector(o.Outbox, o.Now))
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}

	m := &Metrics{gatherer: reg, log: o.Log}
	m.submissions = newChildren(func(k [2]string) prometheus.Counter {
		return submissions.WithLabelValues(k[0], k[1])
	}, cross(o.Forms, outcomes)...)
	m.spam = newChildren(func(reason string) prometheus.Counter {
		return spam.WithLabelValues(reason)
	}, spamReasons...)
	m.emailSends = newChildren(func(k [2]string) prometheus.Counter {
		return emailSends.WithLabelValues(k[0], k[1])
	}, cross(emailKinds, sendResults)...)
	m.consent = newChildren(func(event string) prometheus.Counter {
		return consent.WithLabelValues(event)
	}, consentEvents...)
	m.webhooks = newChildren(func(result string) prometheus.Counter {
		return webhooks.WithLabelValues(result)
	}, webhookResults...)
	m.requests = newChildren(func(k request) prometheus.Observer {
		return requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status))
	})
	return m, nil
}

// The label values known at start-up, whose series exist from the first
// scrape: a rate() over a series that appears only with its first event
// misses that event, and an alert on it has nothing to compare.
var (
	outcomes = []string{handlers.OutcomeAccepted, handlers.OutcomeInvalid, handlers.OutcomeSpam,
		handlers.OutcomeDuplicate, handlers.OutcomeRateLimited}
	spamReasons = []string{models.SpamHoneypot, models.SpamTimeTrap, models.SpamDuplicate,
		models.SpamRateLimit, models.SpamCaptcha}
	emailKinds     = []string{models.KindSalesNotification, models.KindConsentConfirmation, models.KindPrivacyLink}
	sendResults    = []string{mailer.ResultSent, mailer.ResultRetry, mailer.ResultFailed}
	webhookResults = []string{webhook.ResultSent, webhook.ResultRetry, webhook.ResultFailed}
	consentEvents  = []string{models.ActionGiven, models.ActionNotGiven, models.ActionConfirmed, models.ActionWithdrawn}
)

// cross is every pair of a value of as and one of bs.
func cross(as, bs []string) [][2]string {
	out := make([][2]string, 0, len(as)*len(bs))
	for _, a := range as {
		for _, b := range bs {
			out = append(out, [2]string{a, b})
		}
	}
	return out
}

// Submission counts one post to form by its outcome (handlers.Metrics).
func (m *Metrics) Submission(form, outcome string) { m.submissions.get([2]string{form, outcome}).Inc() }

// Spam counts one submission dropped for reason (handlers.Metrics).
func (m *Metrics) Spam(reason string) { m.spam.get(reason).Inc() }

// Request observes one HTTP request (handlers.Metrics).
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	m.requests.get(request{route, method, status}).Observe(d.Seconds())
}

// EmailSend counts one delivery attempt (mailer.Metrics).
func (m *Metrics) EmailSend(kind, result string) { m.emailSends.get([2]string{kind, result}).Inc() }

// WebhookDelivery counts one delivery attempt of a webhook (webhook.Metrics).
func (m *Metrics) WebhookDelivery(result string) { m.webhooks.get(result).Inc() }

// consentEvent counts one event committed to the consent ledger.
func (m *Metrics) consentEvent(action string) { m.consent.get(action).Inc() }

// Handler serves the registry in the Prometheus text format. A collector
// that fails (the database does not answer) leaves its metrics out of
// that scrape and is logged; the rest are served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{
		ErrorLog:      scrapeLog{m.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// scrapeLog is promhttp's error log on slog.
type scrapeLog struct{ log *slog.Logger }

func (l scrapeLog) Println(v ...any) { l.log.Error("metrics: " + fmt.Sprint(v...)) }
