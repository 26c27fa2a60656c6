package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/internal/scrapetest"
	"github.com/leadbox/leadbox/internal/smtptest"
)

// scrape reads /metrics as Prometheus on this machine would.
func (a *app) scrape(t *testing.T) (scrapetest.Scrape, string) {
	t.Helper()
	s, body := scrapetest.Get(t, a.client, a.base+"/metrics")
	return s, string(body)
}

// TestMetricsFollowWhatHappens is issue 19's "done when" for metrics: a
// Prometheus scrape shows the counters moving as submissions (each
// outcome), spam, sends and an opt-out happen, in agreement with the
// database; and nothing that identifies the visitor, nor any token,
// appears in it.
func TestMetricsFollowWhatHappens(t *testing.T) {
	const gone = "gone@example.com"
	mailServer := smtptest.NewServer(t)
	mailServer.Refuse(gone)
	a := startAppWith(t, mailServer, map[string]string{
		"LEADBOX_SALES_TO":   "Sales & Marketing <" + salesAddr + ">, Former Rep <" + gone + ">",
		"LEADBOX_RATE_LIMIT": "3",
		// The visitor comes through a proxy on this machine, so that the
		// address the server keeps is one of its own.
		"LEADBOX_TRUSTED_PROXIES": "127.0.0.1",
	})

	before, _ := a.scrape(t)
	for _, series := range [][]string{
		{"leadbox_submissions_total"}, {"leadbox_spam_total"}, {"leadbox_consent_events_total"},
		{"leadbox_email_sends_total"}, {"leadbox_outbox_messages"}, {"leadbox_outbox_oldest_pending_seconds"},
	} {
		if v, ok := before.Value(series[0]); !ok || v != 0 {
			t.Errorf("before anything happened: %s = %v (present %v), want 0", series[0], v, ok)
		}
	}

	// A visitor with values found nowhere else.
	const (
		visitorIP = "198.51.100.77"
		userAgent = "QuokkaBrowser/9.31 (distinctive-agent)"
		email     = "zebulon.quaxley-7731@example.org"
		name      = "Zebulon Quaxley"
		phone     = "+48 777 313 131"
		company   = "Quaxley Widgets Intl"
		message   = "Marmalade-flavoured sprockets, 4711 pieces please."
	)
	lead := map[string]any{
		"name": name, "email": email, "phone": phone, "company": company, "message": message,
		"marketing_consent": true, "utm_campaign": "quokka-spring-sale",
	}
	post := func(fields map[string]any) (*http.Response, string) {
		t.Helper()
		b, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		return a.do(t, http.MethodPost, a.base+"/contact", strings.NewReader(string(b)), http.Header{
			"Content-Type": {"application/json"}, "X-Forwarded-For": {visitorIP}, "User-Agent": {userAgent},
		})
	}
	without := func(key string) map[string]any {
		out := map[string]any{}
		for k, v := range lead {
			if k != key {
				out[k] = v
			}
		}
		return out
	}
	also := func(key string, value any) map[string]any {
		out := without(key)
		out[key] = value
		return out
	}
	var publicID string
	for _, step := range []struct {
		name   string
		fields map[string]any
		want   int
	}{
		{"invalid (no email; gives the token back)", without("email"), http.StatusUnprocessableEntity},
		{"accepted", lead, http.StatusCreated},
		{"duplicate (a double click)", lead, http.StatusCreated},
		{"spam (the honeypot)", also("_gotcha", "filled by a bot"), http.StatusCreated},
		{"rate-limited (a fourth within the minute)", also("message", "One more thing."), http.StatusTooManyRequests},
	} {
		resp, body := post(step.fields)
		if resp.StatusCode != step.want {
			t.Fatalf("%s: status %d, want %d\n%s", step.name, resp.StatusCode, step.want, body)
		}
		if step.name == "accepted" {
			var got struct{ ID string }
			if err := json.Unmarshal([]byte(body), &got); err != nil || got.ID == "" {
				t.Fatalf("accepted: body %q, want an id", body)
			}
			publicID = got.ID
		}
	}

	// The emails: the notification reaches sales and is refused for the
	// former rep; the confirmation reaches the lead, who confirms and
	// then opts out with the one-click button.
	a.waitForEmailsTo(t, salesAddr, 1)
	conf := a.waitForEmailsTo(t, email, 1)[0]
	confirmLink, optOutLink := conf.confirmLink(t), conf.unsubscribeLink(t)
	if resp, page := a.do(t, http.MethodPost, confirmLink, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST confirm link: status %d\n%s", resp.StatusCode, page)
	}
	a.oneClick(t, optOutLink, "urlencoded")

	var s scrapetest.Scrape
	var raw string
	waitUntil(t, "the scrape counts all three emails' outcomes", mailWait, func() bool {
		s, raw = a.scrape(t)
		n, _ := s.Value("leadbox_email_sends_total")
		return n >= 3
	})

	check := func(value float64, name string, labels ...string) {
		t.Helper()
		if got, ok := s.Value(name, labels...); !ok || got != value {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, value)
		}
	}
	for outcome, n := range map[string]float64{"accepted": 1, "invalid": 1, "duplicate": 1, "spam": 1, "rate_limited": 1} {
		check(n, "leadbox_submissions_total", "form", "contact", "outcome", outcome)
	}
	for reason, n := range map[string]float64{"honeypot": 1, "duplicate": 1, "rate_limit": 1, "time_trap": 0, "captcha": 0} {
		check(n, "leadbox_spam_total", "reason", reason)
	}
	check(1, "leadbox_email_sends_total", "kind", "sales_notification", "result", "sent")
	check(1, "leadbox_email_sends_total", "kind", "sales_notification", "result", "failed")
	check(1, "leadbox_email_sends_total", "kind", "consent_confirmation", "result", "sent")
	check(0, "leadbox_email_sends_total", "result", "retry")
	check(2, "leadbox_outbox_messages", "state", "sent")
	check(1, "leadbox_outbox_messages", "state", "failed")
	check(0, "leadbox_outbox_messages", "state", "pending")
	check(0, "leadbox_outbox_oldest_pending_seconds")
	for event, n := range map[string]float64{"given": 1, "not_given": 0, "confirmed": 1, "withdrawn": 1} {
		check(n, "leadbox_consent_events_total", "event", event)
	}
	// The ledger holds exactly the events counted.
	a.wantConsentFrom(t, email, visitorIP, "given", "confirmed", "withdrawn")

	const hist = "leadbox_http_request_duration_seconds"
	for _, r := range []struct {
		route, method, code string
		n                   uint64
	}{
		{"/contact", "POST", "201", 3},
		{"/contact", "POST", "422", 1},
		{"/contact", "POST", "429", 1},
		{"/confirm/:token", "POST", "200", 1},
		{"/optout/:token", "POST", "200", 1},
	} {
		if got := s.Count(hist, "route", r.route, "method", r.method, "code", r.code); got != r.n {
			t.Errorf("%s{route=%q,method=%q,code=%q}: %d observations, want %d", hist, r.route, r.method, r.code, got, r.n)
		}
	}
	for _, route := range s.LabelValues(hist, "route") {
		if route != "unmatched" && !strings.HasPrefix(route, "/") {
			t.Errorf("route label %q is neither a route pattern nor unmatched", route)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := s[name]; !ok {
			t.Errorf("the scrape has no %s (Go and process collectors)", name)
		}
	}

	// Nothing about the person, and no token, anywhere in the scrape.
	l, err := a.db(t).LeadByPublicID(t.Context(), publicID)
	if err != nil {
		t.Fatal(err)
	}
	personal := []string{visitorIP, userAgent, "QuokkaBrowser", email, "zebulon", "Quaxley", phone, company,
		"Marmalade", "quokka-spring-sale", publicID, l.OptOutToken, confirmLink[strings.LastIndex(confirmLink, "/")+1:]}
	for _, p := range personal {
		if strings.Contains(strings.ToLower(raw), strings.ToLower(p)) {
			t.Errorf("the scrape contains %q", p)
		}
	}
}

// wantConsentFrom checks the actions of addr's consent history, and that
// the form's event kept the visitor's address ip.
func (a *app) wantConsentFrom(t *testing.T, addr, ip string, actions ...string) {
	t.Helper()
	_, events := a.consent(t, addr)
	var got []string
	for _, e := range events {
		got = append(got, e.Action)
	}
	if strings.Join(got, ",") != strings.Join(actions, ",") {
		t.Errorf("leadbox consent %s: events %v, want %v", addr, got, actions)
	}
	if len(events) > 0 && events[0].IP != ip {
		t.Errorf("leadbox consent %s: the form's event has IP %q, want %q (the proxy's client)", addr, events[0].IP, ip)
	}
}

// TestMetricsNotServedOutsideItsNetworks: a client outside
// LEADBOX_METRICS_NETWORKS, or anyone when it is off, gets the 404 of an
// address that does not exist.
func TestMetricsNotServedOutsideItsNetworks(t *testing.T) {
	for _, networks := range []string{"10.0.0.0/8, 192.168.0.0/16", "off"} {
		t.Run(networks, func(t *testing.T) {
			a := startAppWith(t, smtptest.NewServer(t), map[string]string{"LEADBOX_METRICS_NETWORKS": networks})
			for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
				resp, body := a.do(t, method, a.base+"/metrics", nil, nil)
				other, nowhere := a.do(t, method, a.base+"/no-such-page", nil, nil)
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s /metrics from 127.0.0.1: status %d, want 404", method, resp.StatusCode)
				}
				// The same page but for the request id.
				got := strings.ReplaceAll(body, resp.Header.Get("X-Request-Id"), "ID")
				want := strings.ReplaceAll(nowhere, other.Header.Get("X-Request-Id"), "ID")
				if got != want || resp.Header.Get("Content-Type") != other.Header.Get("Content-Type") {
					t.Errorf("%s /metrics from 127.0.0.1 answers\n%s\nwant the page of an address that does not exist:\n%s", method, got, want)
				}
			}
		})
	}
}
