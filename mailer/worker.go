package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/internal/wakeloop"
	"github.com/leadbox/leadbox/models"
)

// Store is what the Worker needs from storage.
type Store interface {
	ClaimDue(ctx context.Context, due time.Time, limit int, leaseUntil time.Time) ([]models.OutboxMessage, error)
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	ExtendLease(ctx context.Context, ids []int64, until time.Time) error
	// FormBusy reports submissions queuing up: the worker then yields.
	FormBusy() bool
	Record(ctx context.Context, outcomes []models.Outcome) error
	// ConsentHistory lets the worker see, at send time, whether a
	// confirmation email still has anything to confirm.
	ConsentHistory(ctx context.Context, subject string) ([]models.ConsentEvent, error)
}

const (
	// batchSize is how many messages one claim leases, and how many
	// outcomes are written in one commit: with synchronous=FULL a commit
	// per email would cap the sender at a few hundred a second. A crash
	// between a send and the commit of its batch resends at most this
	// many messages, each recognisable by its stable Message-ID. One drain
	// claims batch after batch over the same connection. At 25 the two
	// commits of each batch (claim, outcomes) held a backlog's drain to
	// 860-1,130 emails/s on the shared 2-core machine; at 100 it was
	// 1,310-1,550 (bench/backlog, docs/performance.md), and a busy form
	// gets a batch of 100 a second instead of 25.
	batchSize = 100
	// recordTimeout bounds recording an outcome after shutdown began: the
	// message may already be with the SMTP server, so the result is written
	// even though ctx is cancelled, but not for ever.
	recordTimeout = 5 * time.Second
	// maxReasonLen keeps an SMTP server's chatter from filling the table.
	maxReasonLen = 500
)

// Worker sends the outbox. Run it in one goroutine; call Wake from anywhere.
// It sends a backlog over up to `connections` SMTP connections at once
// (see drain).
type Worker struct {
	store     Store
	composer  *Composer
	transport Transport
	log       *slog.Logger

	poll        time.Duration
	retryBase   time.Duration
	retryMax    time.Duration
	giveUpAfter time.Duration
	lease       time.Duration
	doubleOptIn bool
	connections int

	// now, randN and sleep are replaced by tests for a fake clock, a
	// seeded random source and counted pauses. now must return UTC: SQLite
	// compares the stored times as text.
	now   func() time.Time
	randN func(n int64) int64
	sleep func(ctx context.Context, d time.Duration)

	wake wakeloop.Signal

	metrics Metrics
}

// New builds the worker, its Composer and the Transport cfg asks for, and
// logs which transport that is. privacyKey signs the links of privacy-link
// emails (models.PrivacyLinkSecret).
func New(cfg config.Config, store Store, privacyKey []byte, log *slog.Logger) (*Worker, error) {
	composer, err := NewComposer(Options{
		BaseURL:     cfg.BaseURL,
		Company:     cfg.Company,
		From:        cfg.MailFrom,
		SalesTo:     cfg.SalesTo,
		Timezone:    cfg.Timezone,
		DoubleOptIn: cfg.DoubleOptIn,
		DKIM:        dkimFrom(cfg),
		PrivacyKey:  privacyKey,
	})
	if err != nil {
		return nil, fmt.Errorf("new mailer: %w", err)
	}
	transport, err := NewTransport(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("new mailer: %w", err)
	}
	if cfg.UsesSMTP() {
		log.Info(fmt.Sprintf("sending through SMTP %s:%d (%s)", cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS))
	} else {
		log.Info(fmt.Sprintf("writing emails as .eml files into %s, no SMTP host set", cfg.MailDir))
	}
	if cfg.SignsDKIM() {
		log.Info("signing emails with DKIM", "domain", cfg.DKIMDomain, "selector", cfg.DKIMSelector)
	}
	return newWorker(cfg, store, composer, transport, log), nil
}

func newWorker(cfg config.Config, store Store, c *Composer, t Transport, log *slog.Logger) *Worker {
	return &Worker{
		store:       store,
		composer:    c,
		transport:   t,
		log:         log,
		poll:        cfg.OutboxPoll,
		retryBase:   cfg.RetryBase,
		retryMax:    cfg.RetryMax,
		giveUpAfter: cfg.GiveUpAfter,
		lease:       leaseFor(cfg.SMTPTimeout),
		doubleOptIn: cfg.DoubleOptIn,
		connections: max(1, cfg.SMTPConnections),
		now:         func() time.Time { return time.Now().UTC() },
		randN:       rand.Int64N,
		sleep:       sleepCtx,
		wake:        wakeloop.NewSignal(),
		metrics:     noMetrics{},
	}
}

// leaseFor returns how long a claim holds its messages: short, so that the
// messages of a crashed process go out again within minutes. The worker
// extends the lease of what it still holds once a quarter of it has passed
// (see drain), so one message, however slow (a dial and a few commands,
// each bounded by the SMTP timeout), always finishes inside its lease.
func leaseFor(smtpTimeout time.Duration) time.Duration {
	return max(time.Minute, 4*smtpTimeout)
}

// Wake asks the worker to look for due messages now. It never blocks, and
// wake-ups that arrive while one is pending collapse into one, so HTTP
// handlers may call it after every commit.
func (w *Worker) Wake() { w.wake.Wake() }

// Run sends due messages until ctx is cancelled: at once when woken, every
// poll interval in any case, and at the next retry time when that comes
// sooner. It polls the database rather than relying on Wake alone so that
// messages written before a crash, or by another process, are found.
//
// When ctx is cancelled Run stops claiming, lets the message in flight
// finish and records its outcome, gives back what it claimed but did not
// try, and returns nil. Database errors are logged and retried, not
// returned: a busy or briefly unavailable database must not stop the mail.
func (w *Worker) Run(ctx context.Context) error {
	return wakeloop.Loop{
		Poll: w.poll, Wake: w.wake, Drain: w.drain, NextDue: w.untilNextDue,
		Failed: func(err error) { w.log.Error("outbox: cannot claim messages", "err", err) },
	}.Run(ctx)
}

func (w *Worker) untilNextDue(ctx context.Context) time.Duration {
	at, ok, err := w.store.NextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("outbox: cannot read next due time", "err", err)
		}
		return w.poll
	}
	if !ok {
		return w.poll
	}
	return max(0, min(w.poll, at.Sub(w.now())))
}

// drain sends every message due when it starts. Claims use the start
// time, so a message that fails and is rescheduled within this drain waits
// for its backoff instead of being tried again at once.
//
// The work is done by lanes, each claiming a batch, sending it over its own
// SMTP connection, recording the outcomes in one commit, and claiming the
// next. One lane starts; a lane that claims a full batch starts another
// (up to w.connections), since more is probably waiting, unless the form
// is busy (see yield). So a few messages use one connection, and a backlog
// is sent over several at once: one connection spends most of its time
// waiting for the server's replies.
func (w *Worker) drain(ctx context.Context) error {
	d := &drain{w: w, start: w.now()}
	d.spawn(ctx)
	d.wg.Wait()
	return errors.Join(d.errs...)
}

// drain is one run of Worker.drain: its lanes and their errors.
type drain struct {
	w     *Worker
	start time.Time
	wg    sync.WaitGroup

	mu    sync.Mutex
	lanes int
	errs  []error
}

// spawn starts another lane unless all w.connections are in use.
func (d *drain) spawn(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lanes == d.w.connections {
		return
	}
	l := &lane{Worker: d.w, first: d.lanes == 0}
	d.lanes++
	d.wg.Go(func() {
		if err := l.run(ctx, d); err != nil {
			d.mu.Lock()
			d.errs = append(d.errs, err)
			d.mu.Unlock()
		}
	})
}

// lane sends claimed batches over one connection.
type lane struct {
	*Worker
	first bool // the lane that keeps going while the form is busy
	conn  conn
	// outcomes of the current batch, written together by flush.
	outcomes []models.Outcome
	attempts []attempt // the batch's delivery attempts, for metrics
}

func (l *lane) run(ctx context.Context, d *drain) error {
	defer l.conn.close()
	for ctx.Err() == nil {
		msgs, err := l.store.ClaimDue(ctx, d.start, batchSize, l.now().Add(l.lease))
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		if len(msgs) == batchSize && !l.store.FormBusy() {
			d.spawn(ctx)
		}
		leased := l.now()
		for i := range msgs {
			if ctx.Err() != nil {
				l.release(msgs[i:])
				break
			}
			if l.now().Sub(leased) > l.lease/4 {
				leased = l.now()
				l.extend(ctx, msgs[i:], leased.Add(l.lease))
			}
			l.deliver(ctx, &msgs[i])
		}
		l.flush(ctx)
		if len(msgs) < batchSize {
			// Everything due at the start was claimed by then (retries
			// are due later): another claim would only find nothing, in
			// a write transaction the form's writer would wait for.
			return nil
		}
		if !l.yield(ctx) {
			return nil
		}
	}
	return nil
}

// yieldPause is how long the worker rests between batches while the form is
// busy: about batchSize emails a second go out then (70-86 a second under
// bench/backlog's 1,000 submissions/s). Under bench/run's load, with
// batches of 25, sending a batch every 100 ms took 9 % of the server's CPU
// (about 150 emails a second); a batch a second took about 1 %, so a batch
// of 100 a second costs a few per cent.
const yieldPause = time.Second

// yield rests while submissions are queuing up, and reports whether the
// lane should go on. Acknowledging a lead (and so keeping it) comes first
// on the day a campaign or a bot wave hits; the emails wait seconds, not
// longer, and are all in the outbox already. Only the first lane goes on
// then, a batch per pause, so mail keeps moving however long the wave
// lasts; the next drain after it opens the other lanes again.
func (l *lane) yield(ctx context.Context) bool {
	if !l.store.FormBusy() {
		return true
	}
	if !l.first {
		return false
	}
	l.sleep(ctx, yieldPause)
	return true
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// extend renews the lease of the messages the lane still holds.
func (w *Worker) extend(ctx context.Context, msgs []models.OutboxMessage, until time.Time) {
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	if err := w.store.ExtendLease(ctx, ids, until); err != nil {
		w.log.Error("outbox: cannot extend lease", "err", err)
	}
}

// note adds an outcome to the batch.
func (l *lane) note(o models.Outcome) { l.outcomes = append(l.outcomes, o) }

// flush writes the batch's outcomes in one commit. It runs even after
// shutdown began: some of these messages are already with the SMTP server.
func (l *lane) flush(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := l.store.Record(rctx, l.outcomes); err != nil {
		// The leases run out and the messages are tried again: at worst a
		// duplicate with the same Message-ID, never a lost email.
		l.log.Error("outbox: cannot record outcomes", "messages", len(l.outcomes), "err", err)
		l.attempts = l.attempts[:0]
	} else {
		l.count()
	}
	l.outcomes = l.outcomes[:0]
}

// conn is the transport session of one lane, opened on first use.
type conn struct {
	sess Session
	// openErr is why the session could not be opened. It stands for the
	// rest of the lane: with the server down, one failed dial is enough,
	// and dialling once per message would cost a timeout each.
	openErr error
}

// drop ends the session after an error: the connection's state is then
// unknown, and a fresh one for the next message costs little.
func (c *conn) drop() {
	c.close()
	c.sess = nil
}

func (c *conn) close() {
	if c.sess != nil {
		_ = c.sess.Close() // every outcome is recorded already; a failed QUIT changes nothing
	}
}

// release gives back claimed messages that were not tried, so that the next
// start sends them without waiting for the lease to run out.
func (l *lane) release(msgs []models.OutboxMessage) {
	for _, m := range msgs {
		l.note(models.Outcome{ID: m.ID, Status: models.StatusPending})
	}
}

// deliver sends one claimed message over the lane's connection and notes
// the outcome.
func (l *lane) deliver(ctx context.Context, m *models.OutboxMessage) {
	w, c := l.Worker, &l.conn
	log := w.log.With("outbox_id", m.ID, "kind", m.Kind, "attempt", m.Attempts+1)

	if l.unwanted(ctx, log, m) {
		return
	}

	// Connect first: with the server down, composing every waiting email
	// only to throw it away would burn the CPU the form needs.
	if c.sess == nil && c.openErr == nil {
		c.sess, c.openErr = w.transport.Open(ctx)
		if c.openErr != nil && ctx.Err() == nil {
			log.Warn("outbox: cannot connect", "err", c.openErr)
		}
		// Connecting may take up to the SMTP timeout for each of its steps;
		// an opt-out that came meanwhile must still stop the email.
		if c.openErr == nil && l.unwanted(ctx, log, m) {
			return
		}
	}
	if c.openErr != nil {
		if ctx.Err() != nil { // shutting down, not a failed attempt
			l.note(models.Outcome{ID: m.ID, Status: models.StatusPending})
			return
		}
		l.retryOrGiveUp(log, m, c.openErr)
		return
	}

	msg, err := w.composer.Compose(*m, w.now())
	if err != nil {
		log.Error("outbox: cannot compose message", "err", err)
		l.note(models.Outcome{ID: m.ID, Status: models.StatusFailed, Reason: err.Error(), Attempted: true})
		l.tally(m.Kind, ResultFailed)
		return
	}

	err = c.sess.Send(msg, Label{Kind: m.Kind, OutboxID: m.ID, Queued: m.QueuedAt})
	switch code := smtpCode(err); classify(msg, err) {
	case outcomeSent:
		if err != nil {
			log.Warn("outbox: message accepted, error after acceptance ignored", "smtp_code", code)
		} else {
			log.Debug("outbox: message sent")
		}
		l.note(models.Outcome{ID: m.ID, Status: models.StatusSent, At: w.now(), Attempted: true})
		l.tally(m.Kind, ResultSent)
	case outcomeFailed:
		log.Error("outbox: message rejected permanently", "smtp_code", code, "step", sendStep(err))
		l.note(models.Outcome{ID: m.ID, Status: models.StatusFailed, Reason: describe(err), Attempted: true})
		l.tally(m.Kind, ResultFailed)
	case outcomeRetry:
		var fe *fileWriteError
		if errors.As(err, &fe) {
			log.Warn("outbox: .eml file not written, will retry", "step", fe.step, "err", fe.Error())
		} else {
			log.Warn("outbox: message not sent, will retry", "smtp_code", code, "step", sendStep(err))
		}
		l.retryOrGiveUp(log, m, err)
	}
	if err != nil {
		c.drop()
	}
}

// unwanted reports whether m must not be sent now, having noted its
// outcome: cancelled (see cancelReason), or left pending when whether it
// is still wanted cannot be told.
func (l *lane) unwanted(ctx context.Context, log *slog.Logger, m *models.OutboxMessage) bool {
	reason, err := l.cancelReason(ctx, m)
	switch {
	case err != nil:
		log.Error("outbox: cannot check whether message is still wanted", "err", err)
		l.note(models.Outcome{ID: m.ID, Status: models.StatusPending})
	case reason != "":
		log.Info("outbox: message cancelled", "reason", reason)
		l.note(models.Outcome{ID: m.ID, Status: models.StatusCancelled, Reason: reason})
	}
	return err != nil || reason != ""
}

// cancelReason says why a message must no longer be sent, or "" to send
// it. A sales notification always goes out: sales must hear of every lead.
// A confirmation email goes only while the person's consent still awaits
// confirmation, so an opt-out that came first is honoured.
func (w *Worker) cancelReason(ctx context.Context, m *models.OutboxMessage) (string, error) {
	if m.Lead == nil {
		return "the lead no longer exists", nil
	}
	if m.Lead.ErasedAt != nil {
		return "the lead was erased", nil
	}
	if m.Kind == models.KindPrivacyLink {
		if !w.now().Before(m.CreatedAt.Add(models.PrivacyLinkTTL)) {
			return "the privacy link expired before it could be sent", nil
		}
		return "", nil
	}
	if m.Kind != models.KindConsentConfirmation {
		return "", nil
	}
	l := m.Lead
	if l.ConfirmToken == nil {
		return "the lead has no confirm token", nil
	}
	if l.ConfirmExpiresAt != nil && w.now().After(*l.ConfirmExpiresAt) {
		return "the confirm link expired before it could be sent", nil
	}
	subject := models.NormalizeEmail(l.Email)
	if l.Consent != nil && l.Consent.Subject != "" {
		subject = l.Consent.Subject
	}
	events, err := w.store.ConsentHistory(ctx, subject)
	if err != nil {
		return "", err
	}
	if state := models.ComputeMarketingState(events, w.doubleOptIn); state != models.StatePending {
		return fmt.Sprintf("marketing consent is %s, nothing to confirm", state), nil
	}
	return "", nil
}

// retryOrGiveUp schedules the next try with backoff, or gives up once the
// message has waited longer than giveUpAfter since it was queued.
func (l *lane) retryOrGiveUp(log *slog.Logger, m *models.OutboxMessage, err error) {
	w := l.Worker
	now := w.now()
	if now.Sub(m.QueuedAt) >= w.giveUpAfter {
		reason := fmt.Sprintf("gave up after %d attempts: %s", m.Attempts+1, describe(err))
		log.Error("outbox: gave up on message", "queued_for", now.Sub(m.QueuedAt).Round(time.Second))
		l.note(models.Outcome{ID: m.ID, Status: models.StatusFailed, Reason: truncate(reason), Attempted: true})
		l.tally(m.Kind, ResultFailed)
		return
	}
	delay := backoff(m.Attempts, w.retryBase, w.retryMax, w.randN)
	log.Debug("outbox: retry scheduled", "retry_in", delay)
	l.note(models.Outcome{ID: m.ID, Status: models.StatusPending, Next: now.Add(delay), Reason: describe(err), Attempted: true})
	l.tally(m.Kind, ResultRetry)
}

type outcome int

const (
	outcomeSent outcome = iota
	outcomeRetry
	outcomeFailed
)

// classify decides what a send error means (research §4.4). go-mail marks
// a message delivered as soon as the server accepts the DATA, and may still
// return an error from the RSET or QUIT that follow, so delivery is checked
// first: a retry there would send a duplicate. Only a 5xx reply is
// permanent. Everything else - 4xx, a refused connection, a timeout, a
// connection lost after the final "." (RFC 5321 §3.8: treat as 451) - is
// retried, accepting the rare duplicate RFC 1047 describes over a lost lead.
func classify(msg *gomail.Msg, err error) outcome {
	switch {
	case err == nil, msg.IsDelivered():
		return outcomeSent
	case smtpCode(err) >= 500:
		return outcomeFailed
	default:
		return outcomeRetry
	}
}

// smtpCode returns the SMTP reply code in err, or 0 when err holds none.
func smtpCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return 0
}

// sendStep names the SMTP step that failed, for logs; it carries no
// addresses, unlike the error text.
func sendStep(err error) string {
	var se *gomail.SendError
	if errors.As(err, &se) {
		return se.Reason.String()
	}
	return "connection"
}

// describe is the error as recorded on the outbox row, for the operator.
// go-mail appends the affected recipients and Message-ID to its errors; the
// recipient may be the lead's address, so that tail is cut.
func describe(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		for _, tail := range []string{", affected recipient(s): ", ", affected message ID: "} {
			if j := strings.Index(l, tail); j >= 0 {
				l = l[:j]
			}
		}
		lines[i] = l
	}
	return truncate(strings.Join(lines, "; "))
}

func truncate(s string) string {
	if len(s) <= maxReasonLen {
		return s
	}
	return strings.ToValidUTF8(s[:maxReasonLen], "") + "..."
}
