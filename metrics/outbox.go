package metrics

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbox/leadbox/models"
)

// OutboxCounter is what the outbox gauges read at each scrape: one cheap
// query (the (status, next_attempt_at) index answers the counts).
type OutboxCounter interface {
	OutboxCounts(ctx context.Context) (models.OutboxCounts, error)
}

// outboxTimeout bounds the scrape's query: a scrape that waits on a
// locked database must not pile up behind it.
const outboxTimeout = 5 * time.Second

// outboxStates are the states whose gauges are always there, at zero when
// no message is in them.
var outboxStates = []string{models.StatusPending, models.StatusSending, models.StatusSent,
	models.StatusFailed, models.StatusCancelled}

// outboxCollector reads the outbox's state from the database at every
// scrape rather than keeping it in memory: every process on the database
// then reports the same, and it cannot drift from what `leadbox outbox`
// shows.
type outboxCollector struct {
	store    OutboxCounter
	now      func() time.Time
	messages *prometheus.Desc
	oldest   *prometheus.Desc
}

func newOutboxCollector(store OutboxCounter, now func() time.Time) *outboxCollector {
	return &outboxCollector{
		store: store,
		now:   now,
		messages: prometheus.NewDesc("leadbox_outbox_messages",
			"Messages in the outbox, by state: pending, sending, sent, failed, cancelled.", []string{"state"}, nil),
		oldest: prometheus.NewDesc("leadbox_outbox_oldest_pending_seconds",
			"How long the oldest message still pending has waited since it was queued; 0 when none is.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.oldest
}

// Collect implements prometheus.Collector.
func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	counts, err := c.store.OutboxCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.messages, err)
		return
	}
	states := slices.Sorted(maps.Keys(counts.ByStatus))
	for _, s := range outboxStates {
		if _, ok := counts.ByStatus[s]; !ok {
			states = append(states, s)
		}
	}
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(counts.ByStatus[s]), s)
	}
	var age float64
	if !counts.OldestPending.IsZero() {
		age = max(0, c.now().Sub(counts.OldestPending).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
