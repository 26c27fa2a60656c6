package mailer

import (
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/models"
)

// sendCounts records Metrics.EmailSend calls by kind and result.
type sendCounts struct {
	mu sync.Mutex
	n  map[attempt]int
}

func (c *sendCounts) EmailSend(kind, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[attempt]int{}
	}
	c.n[attempt{kind, result}]++
}

func (c *sendCounts) get() map[attempt]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// TestWorkerCountsSends: each delivery attempt is counted once, by the
// email's kind and what the SMTP server's answer made of it, as the
// outbox row records it.
func TestWorkerCountsSends(t *testing.T) {
	tests := []struct {
		name   string
		script []smtptest.Fate
		want   map[attempt]int
	}{
		{"accepted", nil, map[attempt]int{{models.KindSalesNotification, ResultSent}: 1}},
		{"451 then accepted", []smtptest.Fate{smtptest.TempFailRcpt},
			map[attempt]int{{models.KindSalesNotification, ResultRetry}: 1, {models.KindSalesNotification, ResultSent}: 1}},
		{"550", []smtptest.Fate{smtptest.PermFailRcpt}, map[attempt]int{{models.KindSalesNotification, ResultFailed}: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := smtptest.NewServer(t, tt.script...)
			s, _ := openStore(t)
			rows := addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
			w, _ := newTestWorker(t, testConfig(t, d), s)
			var counts sendCounts
			w.SetMetrics(&counts)
			stop := runWorker(t, w)
			waitFor(t, "the message is sent or failed", statusOf(t, s, rows[0].ID))
			stop()

			got := counts.get()
			if !maps.Equal(got, tt.want) {
				t.Errorf("counted %v, want %v", got, tt.want)
			}
			row := outboxRow(t, s, rows[0].ID)
			total := 0
			for _, n := range got {
				total += n
			}
			if total != row.Attempts {
				t.Errorf("counted %d attempts, the outbox row records %d", total, row.Attempts)
			}
		})
	}
}

// TestWorkerCountsByKind: a confirmation email is counted as one, and a
// cancelled one (the person opted out first) is no attempt at all.
func TestWorkerCountsByKind(t *testing.T) {
	d := smtptest.NewServer(t)
	s, _ := openStore(t)
	lead := testLead("Jane Doe")
	rows := addLead(t, s, lead, true, models.KindSalesNotification, models.KindConsentConfirmation)
	other := testLead("Joe Doe")
	other.Email = "joe@example.org"
	cancelled := addLead(t, s, other, true, models.KindConsentConfirmation)
	if _, err := s.Withdraw(t.Context(), models.ConsentEvent{Subject: models.NormalizeEmail(other.Email), At: time.Now().UTC(), Method: models.MethodOneClick}); err != nil {
		t.Fatal(err)
	}
	w, _ := newTestWorker(t, testConfig(t, d), s)
	var counts sendCounts
	w.SetMetrics(&counts)
	stop := runWorker(t, w)
	for _, id := range []int64{rows[0].ID, rows[1].ID, cancelled[0].ID} {
		waitFor(t, "every message is settled", statusOf(t, s, id))
	}
	stop()
	want := map[attempt]int{
		{models.KindSalesNotification, ResultSent}:   1,
		{models.KindConsentConfirmation, ResultSent}: 1,
	}
	if got := counts.get(); !maps.Equal(got, want) {
		t.Errorf("counted %v, want %v", got, want)
	}
}
