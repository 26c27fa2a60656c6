package mailer

// Metrics counts what the worker decides about each email, for GET
// /metrics; the metrics package implements it.
type Metrics interface {
	// EmailSend counts one delivery attempt of an email of kind (a
	// models.Kind* value) by its result, ResultSent, ResultRetry or
	// ResultFailed, once that outcome is committed to the outbox.
	EmailSend(kind, result string)
}

// The results of a delivery attempt, as Metrics.EmailSend counts them.
const (
	ResultSent   = "sent"   // the server accepted it
	ResultRetry  = "retry"  // a temporary failure: tried again later
	ResultFailed = "failed" // refused for good (5xx), given up on, or not composable
)

type noMetrics struct{}

func (noMetrics) EmailSend(string, string) {}

// SetMetrics makes the worker count its sends with m. Call it before Run.
func (w *Worker) SetMetrics(m Metrics) { w.metrics = m }

// attempt is one delivery attempt of a batch, counted once the batch's
// outcomes are committed: a metric must not count what the outbox does
// not show (when the commit fails, the message is tried again).
type attempt struct{ kind, result string }

// tally notes an attempt of the current batch.
func (l *lane) tally(kind, result string) { l.attempts = append(l.attempts, attempt{kind, result}) }

// count reports the batch's attempts, after its outcomes were committed.
func (l *lane) count() {
	for _, a := range l.attempts {
		l.metrics.EmailSend(a.kind, a.result)
	}
	l.attempts = l.attempts[:0]
}
