package handlers_test

import (
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/models"
)

// metricsRecorder records what the handlers count.
type metricsRecorder struct {
	mu          sync.Mutex
	submissions map[[2]string]int // form, outcome
	spam        map[string]int
	requests    []observed
}

type observed struct {
	route, method string
	status        int
}

func (m *metricsRecorder) Submission(form, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.submissions == nil {
		m.submissions = map[[2]string]int{}
	}
	m.submissions[[2]string{form, outcome}]++
}

func (m *metricsRecorder) Spam(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spam == nil {
		m.spam = map[string]int{}
	}
	m.spam[reason]++
}

func (m *metricsRecorder) Request(route, method string, status int, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, observed{route, method, status})
}

func (m *metricsRecorder) lastRequest() observed {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.requests) == 0 {
		return observed{}
	}
	return m.requests[len(m.requests)-1]
}

// TestSubmissionsCounted: each post to /contact is counted once, by the
// outcome the visitor saw, and spam by the same reasons the spam tallies
// count.
func TestSubmissionsCounted(t *testing.T) {
	var m metricsRecorder
	app := newTestServer(t, withRateLimit(3), withMetrics(&m, nil))
	json := http.Header{"Accept": {"application/json"}}
	steps := []struct {
		name   string
		fields map[string]any
		want   int
	}{
		// Fields to fix give the client its token back.
		{"invalid", with(validFields(), map[string]any{"email": nil}), http.StatusUnprocessableEntity},
		{"accepted", validFields(), http.StatusCreated},
		{"duplicate", validFields(), http.StatusCreated},
		{"honeypot", with(validFields(), map[string]any{"_gotcha": "x"}), http.StatusCreated},
		{"rate-limited", with(validFields(), map[string]any{"message": "Another question."}), http.StatusTooManyRequests},
	}
	for _, s := range steps {
		if got := app.post(t, jsonBody, s.fields, json); got.status != s.want {
			t.Fatalf("%s: got %s, want status %d", s.name, got, s.want)
		}
	}
	form := handlers.ContactForm
	wantSubmissions := map[[2]string]int{
		{form, handlers.OutcomeInvalid}: 1, {form, handlers.OutcomeAccepted}: 1, {form, handlers.OutcomeDuplicate}: 1,
		{form, handlers.OutcomeSpam}: 1, {form, handlers.OutcomeRateLimited}: 1,
	}
	if !maps.Equal(m.submissions, wantSubmissions) {
		t.Errorf("submissions counted %v, want %v", m.submissions, wantSubmissions)
	}
	wantSpam := map[string]int{models.SpamDuplicate: 1, models.SpamHoneypot: 1, models.SpamRateLimit: 1}
	if !maps.Equal(m.spam, wantSpam) {
		t.Errorf("spam counted %v, want %v", m.spam, wantSpam)
	}
	for reason, n := range wantSpam {
		if got := app.spam.count(reason); got != n {
			t.Errorf("spam tallies count %d %s, metrics %d: they must agree", got, reason, n)
		}
	}
}

// TestRequestsObservedByRoute: requests are observed by route pattern,
// never by the path, which may carry a token; a path no route matches,
// and a method nobody uses, are one label each.
func TestRequestsObservedByRoute(t *testing.T) {
	var m metricsRecorder
	app := newTestServer(t, withMetrics(&m, nil))
	const token = "tokensecretabcdefghij"
	tests := []struct {
		method, path string
		want         observed
	}{
		{http.MethodGet, "/contact", observed{"/contact", "GET", http.StatusOK}},
		{http.MethodHead, "/contact", observed{"/contact", "HEAD", http.StatusOK}},
		{http.MethodGet, "/optout/" + token, observed{"/optout/:token", "GET", http.StatusNotFound}},
		{http.MethodPost, "/confirm/" + token, observed{"/confirm/:token", "POST", http.StatusNotFound}},
		{http.MethodGet, "/no/such/" + token, observed{handlers.RouteUnmatched, "GET", http.StatusNotFound}},
		{"BREW", "/contact", observed{handlers.RouteUnmatched, "other", http.StatusMethodNotAllowed}},
		{http.MethodDelete, "/contact", observed{handlers.RouteUnmatched, "DELETE", http.StatusMethodNotAllowed}},
	}
	for _, tt := range tests {
		res := app.do(t, tt.method, tt.path, "", nil, nil)
		if res.status != tt.want.status {
			t.Errorf("%s %s: got status %d, want %d", tt.method, tt.path, res.status, tt.want.status)
		}
		if got := m.lastRequest(); got != tt.want {
			t.Errorf("%s %s: observed %+v, want %+v", tt.method, tt.path, got, tt.want)
		}
	}
	for _, r := range m.requests {
		if strings.Contains(r.route, token) {
			t.Errorf("observed route %q carries the token", r.route)
		}
	}
}

// TestMetricsPageNetworks: /metrics answers only clients in
// LEADBOX_METRICS_NETWORKS, judged by the address the rest of the server
// believes (X-Forwarded-For only from a trusted proxy); everyone else gets
// the 404 of an address that does not exist, whatever the method.
func TestMetricsPageNetworks(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("the metrics")) })
	tests := []struct {
		name      string
		settings  map[string]string
		method    string
		forwarded string // X-Forwarded-For; the test client itself is 127.0.0.1
		want      int
	}{
		{"loopback by default", nil, http.MethodGet, "", http.StatusOK},
		{"HEAD too", nil, http.MethodHead, "", http.StatusOK},
		{"other methods are refused", nil, http.MethodPost, "", http.StatusMethodNotAllowed},
		{"outside the networks", map[string]string{"LEADBOX_METRICS_NETWORKS": "10.0.0.0/8"}, http.MethodGet, "", http.StatusNotFound},
		{"outside, any method", map[string]string{"LEADBOX_METRICS_NETWORKS": "10.0.0.0/8"}, http.MethodPost, "", http.StatusNotFound},
		{"off", map[string]string{"LEADBOX_METRICS_NETWORKS": "off"}, http.MethodGet, "", http.StatusNotFound},
		{"off, any method", map[string]string{"LEADBOX_METRICS_NETWORKS": "off"}, http.MethodPut, "", http.StatusNotFound},
		{"X-Forwarded-For from an untrusted client is ignored", map[string]string{"LEADBOX_METRICS_NETWORKS": "10.0.0.0/8"},
			http.MethodGet, "10.1.2.3", http.StatusNotFound},
		{"a trusted proxy forwarding an outsider", map[string]string{"LEADBOX_TRUSTED_PROXIES": "127.0.0.1"},
			http.MethodGet, "203.0.113.9", http.StatusNotFound},
		{"a trusted proxy forwarding an insider", map[string]string{"LEADBOX_TRUSTED_PROXIES": "127.0.0.1", "LEADBOX_METRICS_NETWORKS": "10.0.0.0/8"},
			http.MethodGet, "10.1.2.3", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newTestServer(t, withSettings(tt.settings), withMetrics(nil, page))
			header := http.Header{}
			if tt.forwarded != "" {
				header.Set("X-Forwarded-For", tt.forwarded)
			}
			got := app.do(t, tt.method, "/metrics", "", nil, header)
			if got.status != tt.want {
				t.Fatalf("%s /metrics: got %s, want status %d", tt.method, got, tt.want)
			}
			switch {
			case tt.want == http.StatusOK && tt.method == http.MethodGet && got.body != "the metrics":
				t.Errorf("GET /metrics: got %q, want the page", got.body)
			case tt.want == http.StatusNotFound:
				// The very answer of a page that does not exist, but for
				// the request id.
				nowhere := app.do(t, tt.method, "/nowhere", "", nil, header)
				if a, b := withoutRequestID(t, got), withoutRequestID(t, nowhere); a != b ||
					got.header.Get("Content-Type") != nowhere.header.Get("Content-Type") {
					t.Errorf("%s /metrics answers\n%s\nwant what %s /nowhere answers:\n%s", tt.method, a, tt.method, b)
				}
			}
		})
	}
}
