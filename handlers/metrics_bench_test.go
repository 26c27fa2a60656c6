package handlers_test

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/metrics"
)

// BenchmarkSubmitJSONParallelMetrics is BenchmarkSubmitJSONParallel with
// metrics on, as `leadbox serve` wires them (the consent ledger counted
// through the store): run the two in turn to see what metrics cost the
// submission path.
func BenchmarkSubmitJSONParallelMetrics(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{Forms: []string{handlers.ContactForm}})
	if err != nil {
		b.Fatal(err)
	}
	h := newTestServer(b, withRateLimit(0), withLog(slog.New(slog.NewJSONHandler(io.Discard, nil))),
		withStore(func(s *testStore) handlers.Store { return m.CountConsent(s) }),
		withMetrics(m, m.Handler())).handler
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			buf = leadBody(buf, seq.Add(1))
			if !postLead(b, h, buf) {
				return
			}
		}
	})
}
