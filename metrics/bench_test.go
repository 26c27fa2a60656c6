package metrics_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/metrics"
	"github.com/leadbox/leadbox/models"
)

// BenchmarkCountSubmission is about what metrics add to one accepted
// submission: its outcome counted, its request observed in the histogram,
// and one counter more (its consent event, or later its email's
// attempt), from 32 goroutines as under bench/run's load. Compare with
// the tens of microseconds a submission costs (BenchmarkSubmitJSONParallel
// in handlers).
func BenchmarkCountSubmission(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{Forms: []string{handlers.ContactForm}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Submission(handlers.ContactForm, handlers.OutcomeAccepted)
			m.Request("/contact", http.MethodPost, http.StatusCreated, 3*time.Millisecond)
			m.EmailSend(models.KindSalesNotification, "sent")
		}
	})
}
