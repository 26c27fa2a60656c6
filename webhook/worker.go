package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leadbox/leadbox/internal/wakeloop"
	"github.com/leadbox/leadbox/models"
)

// Store is what the Worker needs from storage: the webhook lane of the
// outbox (never an email), and the consent ledger for a lead's state.
type Store interface {
	ClaimDueWebhooks(ctx context.Context, due time.Time, limit int, leaseUntil time.Time) ([]models.OutboxMessage, error)
	NextDueWebhook(ctx context.Context) (at time.Time, ok bool, err error)
	Record(ctx context.Context, outcomes []models.Outcome) error
	ConsentHistory(ctx context.Context, subject string) ([]models.ConsentEvent, error)
	// FormBusy reports submissions queuing up: the worker then yields.
	FormBusy() bool
}

// Metrics counts delivery attempts by result, once their outcome is
// committed; the metrics package implements it.
type Metrics interface {
	WebhookDelivery(result string)
}

// The results of a delivery attempt, as Metrics.WebhookDelivery counts them.
const (
	ResultSent   = "sent"   // the receiver answered 2xx
	ResultRetry  = "retry"  // a network error, 408, 429 or 5xx: tried again later
	ResultFailed = "failed" // any other answer, or three days of retries
)

type noMetrics struct{}

func (noMetrics) WebhookDelivery(string) {}

const (
	// DefaultTimeout bounds one delivery, connection to last byte read: a
	// receiver that takes longer is retried later, and holds up no other
	// webhook meanwhile (a batch is sent in parallel).
	DefaultTimeout = 10 * time.Second
	// GiveUpAfter is how long a webhook is retried from when it was
	// queued (Standard Webhooks' usual schedule spans about three days).
	GiveUpAfter = 72 * time.Hour
	// retryBase and retryMax shape the backoff: the first retry comes
	// within 30 seconds, then twice as long each time, up to two hours.
	retryBase = 30 * time.Second
	retryMax  = 2 * time.Hour
	// batchSize is how many webhooks one claim leases and sends at once,
	// each on its own goroutine, so that one slow receiver delays one of
	// them by at most the timeout.
	batchSize = 8
	// maxBody is how much of a receiver's answer is read (and thrown
	// away, so the connection can be reused); the rest is not waited for.
	maxBody = 64 << 10
	// maxReason keeps an error's text on the outbox row short.
	maxReason = 300
	// recordTimeout bounds recording outcomes after shutdown began: the
	// receivers have the events already.
	recordTimeout = 5 * time.Second
	// yieldPause is the rest between batches while the form is busy.
	yieldPause = time.Second
)

// Options configure a Worker.
type Options struct {
	// Key is the decoded signing secret (config.Config.WebhookKey).
	Key []byte
	// DoubleOptIn decides the marketing state shown, as everywhere.
	DoubleOptIn bool
	// Poll is how often the outbox is looked at without a wake-up.
	Poll time.Duration
	// Timeout bounds one delivery; zero is DefaultTimeout.
	Timeout time.Duration
	Log     *slog.Logger
	Metrics Metrics
}

// Worker delivers the outbox's webhooks. Run it in one goroutine; call
// Wake from anywhere.
type Worker struct {
	store   Store
	key     []byte
	dbl     bool
	poll    time.Duration
	lease   time.Duration
	client  *http.Client
	log     *slog.Logger
	metrics Metrics
	wake    wakeloop.Signal

	// now and randN are replaced by tests; now must return UTC (SQLite
	// compares the stored times as text).
	now   func() time.Time
	randN func(n int64) int64
}

// New returns a worker for store.
func New(store Store, o Options) *Worker {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Poll <= 0 {
		o.Poll = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	return &Worker{
		store: store, key: o.Key, dbl: o.DoubleOptIn, poll: o.Poll,
		// The lease outlasts a batch (sent in parallel, each attempt
		// bounded by the timeout) several times over; a crashed
		// process's webhooks go out again once it runs out.
		lease: max(time.Minute, 4*o.Timeout),
		client: &http.Client{
			Timeout: o.Timeout,
			// A redirect is not followed: the signed event would go to
			// wherever a receiver (or whoever took its domain) points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log: o.Log, metrics: o.Metrics, wake: wakeloop.NewSignal(),
		now:   func() time.Time { return time.Now().UTC() },
		randN: rand.Int64N,
	}
}

// Wake asks the worker to look for due webhooks now; it never blocks.
func (w *Worker) Wake() { w.wake.Wake() }

// Run delivers due webhooks until ctx is cancelled: when woken, every poll
// interval, and at the next retry time when that comes sooner. Database
// errors are logged and retried. When ctx ends, the attempts in flight are
// abandoned and given back untried, to be sent again, with the same
// webhook-id, after a restart.
func (w *Worker) Run(ctx context.Context) error {
	return wakeloop.Loop{
		Poll: w.poll, Wake: w.wake, Drain: w.drain, NextDue: w.untilNextDue,
		Failed: func(err error) { w.log.Error("webhooks: cannot claim webhooks", "err", err) },
	}.Run(ctx)
}

func (w *Worker) untilNextDue(ctx context.Context) time.Duration {
	at, ok, err := w.store.NextDueWebhook(ctx)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			w.log.Error("webhooks: cannot read next due time", "err", err)
		}
		return w.poll
	}
	return max(0, min(w.poll, at.Sub(w.now())))
}

// drain delivers every webhook due when it starts, a batch at a time:
// claimed, sent in parallel, recorded in one commit, counted.
func (w *Worker) drain(ctx context.Context) error {
	start := w.now()
	for ctx.Err() == nil {
		msgs, err := w.store.ClaimDueWebhooks(ctx, start, batchSize, w.now().Add(w.lease))
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		outcomes := make([]models.Outcome, len(msgs))
		results := make([]string, len(msgs))
		var wg sync.WaitGroup
		for i := range msgs {
			wg.Go(func() { outcomes[i], results[i] = w.deliver(ctx, &msgs[i]) })
		}
		wg.Wait()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		err = w.store.Record(rctx, outcomes)
		cancel()
		if err != nil {
			// The leases run out and the webhooks are sent again, with
			// the same webhook-id: receivers drop the duplicate.
			w.log.Error("webhooks: cannot record outcomes", "webhooks", len(outcomes), "err", err)
			return nil
		}
		for _, r := range results {
			if r != "" {
				w.metrics.WebhookDelivery(r)
			}
		}
		if len(msgs) < batchSize {
			return nil
		}
		if w.store.FormBusy() {
			sleepCtx(ctx, yieldPause)
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// deliver makes one attempt at m and returns its outcome, and the result
// to count ("" for none: cancelled, or given back untried).
func (w *Worker) deliver(ctx context.Context, m *models.OutboxMessage) (models.Outcome, string) {
	log := w.log.With("outbox_id", m.ID, "event", m.Event, "receiver", host(m.Target), "attempt", m.Attempts+1)
	if ctx.Err() != nil {
		return models.Outcome{ID: m.ID, Status: models.StatusPending}, ""
	}
	data, cancel, err := w.compose(ctx, m)
	switch {
	case err != nil:
		log.Error("webhooks: cannot compose webhook", "err", err)
		return models.Outcome{ID: m.ID, Status: models.StatusPending}, "" // the database will answer again
	case cancel != "":
		log.Info("webhooks: webhook cancelled", "reason", cancel)
		return models.Outcome{ID: m.ID, Status: models.StatusCancelled, Reason: cancel}, ""
	}
	payload, err := body(m.Event, m.CreatedAt, data)
	if err != nil {
		return w.failed(log, m, fmt.Sprintf("cannot encode the event: %v", err))
	}
	status, err := w.post(ctx, m, payload)
	switch {
	case err != nil && ctx.Err() != nil: // shutting down: not the receiver's fault
		return models.Outcome{ID: m.ID, Status: models.StatusPending}, ""
	case err != nil:
		return w.retry(log, m, describe(err))
	case status >= 200 && status < 300:
		log.Debug("webhooks: webhook delivered", "status", status)
		return models.Outcome{ID: m.ID, Status: models.StatusSent, At: w.now(), Attempted: true}, ResultSent
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return w.retry(log, m, "HTTP "+strconv.Itoa(status))
	case status >= 300 && status < 400:
		return w.failed(log, m, "HTTP "+strconv.Itoa(status)+": redirects are not followed; set the URL it points to")
	default:
		return w.failed(log, m, "HTTP "+strconv.Itoa(status))
	}
}

// compose returns the event's data, or why the webhook must not be sent.
// A lead's events are composed from the lead now, like emails: an erased
// lead has nothing left to send (its waiting webhooks were cancelled by
// the erasure; this catches one claimed just before). subject.erased
// carries its stored lead ids.
func (w *Worker) compose(ctx context.Context, m *models.OutboxMessage) (data any, cancel string, err error) {
	if m.Event == models.EventSubjectErased {
		if !json.Valid([]byte(m.Data)) {
			return nil, "the event's data is not JSON", nil
		}
		return json.RawMessage(m.Data), "", nil
	}
	l := m.Lead
	switch {
	case l == nil:
		return nil, "the lead no longer exists", nil
	case l.ErasedAt != nil:
		return nil, "the lead was erased", nil
	}
	subject := models.NormalizeEmail(l.Email)
	if l.Consent != nil && l.Consent.Subject != "" {
		subject = l.Consent.Subject
	}
	events, err := w.store.ConsentHistory(ctx, subject)
	if err != nil {
		return nil, "", err
	}
	return newLead(l, models.MarketingOf(events, w.dbl)), "", nil
}

// post sends the signed event and returns the receiver's status code.
// The timestamp is this attempt's, the id the event's (the same on every
// attempt, so a receiver can drop a duplicate).
func (w *Worker) post(ctx context.Context, m *models.OutboxMessage, payload []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Target, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	id, ts := MessageID(*m), w.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Leadbox-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(w.key, id, ts, payload))
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // the answer's content means nothing
	return resp.StatusCode, nil
}

// MessageID is the webhook-id of an outbox row: the same for every URL
// and every attempt of one event.
func MessageID(m models.OutboxMessage) string { return "msg_" + m.MessageID }

// retry schedules the next attempt, or gives up once the webhook has
// waited GiveUpAfter since it was queued.
func (w *Worker) retry(log *slog.Logger, m *models.OutboxMessage, reason string) (models.Outcome, string) {
	now := w.now()
	if now.Sub(m.QueuedAt) >= GiveUpAfter {
		return w.failed(log, m, fmt.Sprintf("gave up after %d attempts: %s", m.Attempts+1, reason))
	}
	delay := backoff(m.Attempts, w.randN)
	log.Warn("webhooks: webhook not delivered, will retry", "reason", reason, "retry_in", delay.Round(time.Second))
	return models.Outcome{ID: m.ID, Status: models.StatusPending, Next: now.Add(delay), Reason: truncate(reason), Attempted: true}, ResultRetry
}

func (w *Worker) failed(log *slog.Logger, m *models.OutboxMessage, reason string) (models.Outcome, string) {
	log.Error("webhooks: webhook failed for good", "reason", reason)
	return models.Outcome{ID: m.ID, Status: models.StatusFailed, Reason: truncate(reason), Attempted: true}, ResultFailed
}

// backoff is the wait after attempts failed tries (0 for the first):
// between half and all of min(retryMax, retryBase·2^attempts), so the
// first retry comes within 30 seconds, and the retries of many webhooks
// to a receiver that comes back do not all arrive at once.
func backoff(attempts int, randN func(int64) int64) time.Duration {
	ceiling := retryMax
	if attempts >= 0 && attempts < 20 && retryBase<<attempts < retryMax {
		ceiling = retryBase << attempts
	}
	half := ceiling / 2
	return half + time.Duration(randN(int64(ceiling-half)))
}

// describe is a delivery error for the outbox row and the log, without
// the URL, which some receivers (Slack's, for one) make a secret of.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// host is the receiver's host, for logs (see describe).
func host(target string) string {
	if u, err := url.Parse(target); err == nil {
		return u.Host
	}
	return "?"
}

func truncate(s string) string {
	if len(s) <= maxReason {
		return s
	}
	return strings.ToValidUTF8(s[:maxReason], "") + "..."
}
