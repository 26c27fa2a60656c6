package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/models"
)

// testWebhookSecret is the Standard Webhooks spec's example secret.
const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hookReceiver is a real receiver on loopback that holds every request
// until released: the slowest receiver there is.
type hookReceiver struct {
	*httptest.Server
	release chan struct{}
	mu      sync.Mutex
	types   []string
	bodies  []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct{ Type string }
		_ = json.Unmarshal(body, &ev)
		h.mu.Lock()
		h.types, h.bodies = append(h.types, ev.Type), append(h.bodies, string(body))
		h.mu.Unlock()
		select {
		case <-h.release:
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.types...)
}

// TestSlowWebhookReceiverDelaysNothingElse: while the webhook receiver
// holds its requests, submissions are answered and the sales email goes
// out through SMTP as ever; once it answers, the webhooks are delivered,
// and an opt-out is reported too.
func TestSlowWebhookReceiverDelaysNothingElse(t *testing.T) {
	hooks := newHookReceiver(t)
	a := startAppWith(t, smtptest.NewServer(t), map[string]string{
		"LEADBOX_WEBHOOK_URLS":   hooks.URL + "/leadbox",
		"LEADBOX_WEBHOOK_SECRET": testWebhookSecret,
		// Nothing waits for a poll: a submission and an opt-out wake the
		// senders themselves.
		"LEADBOX_OUTBOX_POLL": "1m",
	})
	start := time.Now()
	id := a.submit(t, leadForm("Sam Slow", "sam@example.com", true))
	waitUntil(t, "the receiver gets lead.created", mailWait, func() bool { return len(hooks.got()) >= 1 })
	a.waitForEmailsTo(t, salesAddr, 1)
	a.submit(t, leadForm("Tia Second", "tia@example.com", false))
	a.waitForEmailsTo(t, salesAddr, 2)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("two submissions and their emails took %s behind a hanging webhook receiver", d)
	}
	if st := a.outboxStatuses(t, id); st[models.KindSalesNotification].Status != models.StatusSent ||
		st[models.KindWebhook].Status == models.StatusSent {
		t.Errorf("with the receiver hanging: sales email %s, webhook %s; want sent and not yet",
			st[models.KindSalesNotification].Status, st[models.KindWebhook].Status)
	}

	close(hooks.release)
	waitUntil(t, "both lead.created webhooks are delivered", mailWait, func() bool {
		var n int64
		a.db(t).DB().Model(&models.OutboxMessage{}).Where("kind = ? AND event = ? AND status = ?",
			models.KindWebhook, models.EventLeadCreated, models.StatusSent).Count(&n)
		return n == 2
	})

	waitUntil(t, "the deliveries are counted", mailWait, func() bool {
		s, _ := a.scrape(t)
		n, _ := s.Value("leadbox_webhook_deliveries_total", "result", "sent")
		return n == 2
	})

	// An opt-out through the confirmation email's one-click link.
	confirmation := a.waitForEmailsTo(t, "sam@example.com", 1)[0]
	resp, _ := a.do(t, http.MethodPost, confirmation.unsubscribeLink(t),
		strings.NewReader("List-Unsubscribe=One-Click"), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click opt-out: %d", resp.StatusCode)
	}
	waitUntil(t, "the receiver gets consent.withdrawn", mailWait, func() bool {
		return strings.Contains(strings.Join(hooks.got(), " "), models.EventConsentWithdrawn)
	})
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	for _, b := range hooks.bodies {
		if strings.Contains(b, "/optout/") || strings.Contains(b, "/confirm/") || strings.Contains(b, "token") {
			t.Errorf("a webhook carries a link token: %s", b)
		}
	}
}

// TestWebhookURLRefusedAtStartUp: a URL that is not https (nor http to
// this machine) stops start-up with an error naming the variable.
func TestWebhookURLRefusedAtStartUp(t *testing.T) {
	env := map[string]string{
		"LEADBOX_DATABASE":       t.TempDir() + "/leadbox.db",
		"LEADBOX_WEBHOOK_URLS":   "http://crm.example.com/hook",
		"LEADBOX_WEBHOOK_SECRET": testWebhookSecret,
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"serve"}, func(k string) string { return env[k] }, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "LEADBOX_WEBHOOK_URLS") {
		t.Errorf("serve with an http webhook URL: %v, want an error naming LEADBOX_WEBHOOK_URLS", err)
	}
}

// TestOutboxShowsWebhooks: `leadbox outbox` lists webhooks beside the
// emails, and cancel and retry work on them.
func TestOutboxShowsWebhooks(t *testing.T) {
	down := smtptest.NewUnstartedServer(t) // nothing is sent: everything stays listed
	hooks := newHookReceiver(t)
	hooks.Close() // refused: webhooks stay pending
	a := startAppWith(t, down, map[string]string{
		"LEADBOX_WEBHOOK_URLS":   hooks.URL + "/leadbox",
		"LEADBOX_WEBHOOK_SECRET": testWebhookSecret,
	})
	a.submit(t, leadForm("Ola Listed", "ola@example.com", false))
	var hook models.OutboxMessage
	waitUntil(t, "the webhook was tried", mailWait, func() bool {
		err := a.db(t).DB().Where("kind = ? AND attempts > 0", models.KindWebhook).Take(&hook).Error
		return err == nil
	})
	out := a.cli(t, "outbox")
	if !strings.Contains(out, "webhook lead.created") || !strings.Contains(out, hooks.URL+"/leadbox") ||
		!strings.Contains(out, models.KindSalesNotification) {
		t.Errorf("leadbox outbox does not show the webhook beside the email:\n%s", out)
	}
	id := itoa(hook.ID)
	waitUntil(t, "the webhook is pending between attempts", mailWait, func() bool {
		var m models.OutboxMessage
		return a.db(t).DB().Take(&m, hook.ID).Error == nil && m.Status == models.StatusPending
	})
	if out := a.cli(t, "outbox", "cancel", id); !strings.Contains(out, "cancelled") {
		t.Errorf("outbox cancel: %q", out)
	}
	if out := a.cli(t, "outbox", "cancelled"); !strings.Contains(out, "webhook lead.created") {
		t.Errorf("outbox cancelled does not list the webhook:\n%s", out)
	}
	if out := a.cli(t, "outbox", "retry", id); !strings.Contains(out, "queued again") {
		t.Errorf("outbox retry: %q", out)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestWebhookLeadIsTheAPILead: a lead.created webhook's data is the lead
// as the API shows it, field for field (the webhook package keeps its own
// copy of the shape; this keeps the two from drifting apart).
func TestWebhookLeadIsTheAPILead(t *testing.T) {
	hooks := newHookReceiver(t)
	close(hooks.release) // answer at once
	token := strings.Repeat("t", 40)
	a := startAppWith(t, smtptest.NewServer(t), map[string]string{
		"LEADBOX_WEBHOOK_URLS":   hooks.URL + "/leadbox",
		"LEADBOX_WEBHOOK_SECRET": testWebhookSecret,
		"LEADBOX_ADMIN_TOKEN":    token,
	})
	form := leadForm("Ola Shape", "ola@example.com", true)
	form.Set("phone", "+48 600 100 200")
	form.Set("utm_source", "newsletter")
	id := a.submit(t, form)
	waitUntil(t, "the receiver gets lead.created", mailWait, func() bool { return len(hooks.got()) >= 1 })

	hooks.mu.Lock()
	var ev struct {
		Data map[string]any `json:"data"`
	}
	err := json.Unmarshal([]byte(hooks.bodies[0]), &ev)
	hooks.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	resp, body := a.do(t, http.MethodGet, a.base+"/api/v1/leads/"+id, nil, http.Header{"Authorization": {"Bearer " + token}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the lead: %d %s", resp.StatusCode, body)
	}
	var api map[string]any
	if err := json.Unmarshal([]byte(body), &api); err != nil {
		t.Fatal(err)
	}
	// The detail's parts about other records, and what the API adds for
	// erasure, are not the lead's own fields.
	for _, k := range []string{"consent", "emails", "history", "erased_at", "spam"} {
		delete(api, k)
	}
	for k, want := range api {
		got, ok := ev.Data[k]
		if !ok {
			t.Errorf("the webhook's lead has no %q (the API's is %v)", k, want)
			continue
		}
		if g, w := fmtJSON(t, got), fmtJSON(t, want); g != w {
			t.Errorf("%s: webhook %s, API %s", k, g, w)
		}
	}
}

func fmtJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
