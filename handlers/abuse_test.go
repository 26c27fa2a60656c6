package handlers_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		proxies string
		// forwarded returns the X-Forwarded-For of request i.
		forwarded func(i int) string
		// wantLimited: the 4th request is refused.
		wantLimited bool
	}{
		{"plain client", "", func(int) string { return "" }, true},
		{"forged X-Forwarded-For from an untrusted peer changes nothing", "",
			func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }, true},
		{"trusted proxy: each forwarded client has its own budget", "127.0.0.1",
			func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }, false},
		{"trusted proxy: one forwarded client is limited", "127.0.0.1",
			func(int) string { return "203.0.113.7" }, true},
		// A host is given a whole /64 and picks any address in it.
		{"trusted proxy: one IPv6 /64 is one client", "127.0.0.1",
			func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", i+1) }, true},
		{"trusted proxy: IPv6 clients in other /64s have their own budgets", "127.0.0.1",
			func(i int) string { return fmt.Sprintf("2001:db8:1:%x::1", i+1) }, false},
		// Behind NAT64 each IPv4 client has its own address in 64:ff9b::/96.
		{"trusted proxy: NAT64 clients have their own budgets", "127.0.0.1",
			func(i int) string { return fmt.Sprintf("64:ff9b::203.0.113.%d", i+1) }, false},
		{"trusted proxy: one NAT64 client is limited", "127.0.0.1",
			func(int) string { return "64:ff9b::203.0.113.7" }, true},
		{"trusted proxy: an IPv4-mapped address is its IPv4 client", "127.0.0.1",
			func(i int) string { return []string{"203.0.113.7", "::ffff:203.0.113.7"}[i%2] }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t, withRateLimit(3), withSetting("LEADBOX_TRUSTED_PROXIES", tc.proxies))
			var last response
			for i := range 4 {
				h := http.Header{"Accept": {"application/json"}}
				if f := tc.forwarded(i); f != "" {
					h.Set("X-Forwarded-For", f)
				}
				fields := with(validFields(), map[string]any{"email": fmt.Sprintf("p%d@example.com", i)})
				last = app.post(t, urlencoded, fields, h)
				if i < 3 && last.status != http.StatusCreated {
					t.Fatalf("request %d: %v, want 201", i+1, last)
				}
			}
			if !tc.wantLimited {
				if last.status != http.StatusCreated {
					t.Errorf("4th request: %v, want 201", last)
				}
				return
			}
			if last.status != http.StatusTooManyRequests {
				t.Fatalf("4th request: %v, want 429", last)
			}
			secs, err := strconv.Atoi(last.header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 20 {
				t.Errorf("Retry-After = %q, want whole seconds near 20 (3/min)", last.header.Get("Retry-After"))
			}
			if !strings.Contains(last.body, `"error":"rate_limited"`) {
				t.Errorf("429 body = %s, want the JSON error", last.body)
			}
			if got := app.counts(t).leads; got != 3 {
				t.Errorf("%d leads stored, want 3", got)
			}
		})
	}
}

func TestRateLimitPageAndRefusedSubmissions(t *testing.T) {
	t.Parallel()
	// The valid submissions repeat each other: each is stored, not taken
	// for a double click.
	app := newTestServer(t, withRateLimit(2), withDuplicateWindow(0))
	// Refused submissions give their token back: fixing a typo three times
	// must not lock a visitor out.
	for i := range 3 {
		res := app.post(t, urlencoded, with(validFields(), map[string]any{"email": "not-an-address"}), nil)
		if res.status != http.StatusUnprocessableEntity {
			t.Fatalf("invalid submission %d: %v, want 422", i+1, res)
		}
	}
	for i := range 2 {
		if res := app.post(t, urlencoded, validFields(), nil); res.status != http.StatusSeeOther {
			t.Fatalf("valid submission %d after refused ones: %v, want 303", i+1, res)
		}
	}
	res := app.post(t, urlencoded, validFields(), nil)
	if res.status != http.StatusTooManyRequests {
		t.Fatalf("3rd accepted submission: %v, want 429", res)
	}
	if res.header.Get("Retry-After") == "" || !strings.Contains(res.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(res.body, "Too many messages") {
		t.Errorf("429 for a form: Retry-After %q, type %q, body %v; want a page with Retry-After",
			res.header.Get("Retry-After"), res.header.Get("Content-Type"), res)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withDuplicateWindow(0), withSettings(map[string]string{
		"LEADBOX_ALLOWED_ORIGINS": "https://www.example.com",
		"LEADBOX_BASE_URL":        "https://leads.example.com",
	}))
	preflight := func(origin string) response {
		return app.do(t, http.MethodOptions, "/contact", "", nil, http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"content-type"},
		})
	}

	res := preflight("https://www.example.com")
	if res.status != http.StatusNoContent ||
		res.header.Get("Access-Control-Allow-Origin") != "https://www.example.com" ||
		!strings.Contains(res.header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(res.header.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Errorf("preflight from the allowed origin: %d %v, want 204 echoing the origin", res.status, res.header)
	}
	if res.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight allows credentials; the form needs none")
	}
	for _, origin := range []string{"https://evil.example", "https://www.example.com.evil.example", "null"} {
		res := preflight(origin)
		if res.status != http.StatusForbidden || res.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d, ACAO %q; want 403 without ACAO", origin, res.status, res.header.Get("Access-Control-Allow-Origin"))
		}
	}

	post := func(origin string) response {
		ct, body := encode(t, jsonBody, validFields())
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return app.do(t, http.MethodPost, "/contact", ct, body, h)
	}
	res = post("https://www.example.com")
	if res.status != http.StatusCreated || res.header.Get("Access-Control-Allow-Origin") != "https://www.example.com" ||
		!strings.Contains(strings.Join(res.header.Values("Vary"), ","), "Origin") {
		t.Errorf("post from the allowed origin: %d, ACAO %q, Vary %q; want 201, the origin, Vary: Origin",
			res.status, res.header.Get("Access-Control-Allow-Origin"), res.header.Values("Vary"))
	}
	if res := post("https://leads.example.com"); res.status != http.StatusCreated {
		t.Errorf("post from our own origin (the hosted form): %v, want 201", res)
	}
	if res := post(""); res.status != http.StatusCreated {
		t.Errorf("post without Origin (no browser context): %v, want 201", res)
	}
	before := app.counts(t)
	res = post("https://evil.example")
	if res.status != http.StatusForbidden || res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("post from another site: %d, ACAO %q; want 403 without ACAO", res.status, res.header.Get("Access-Control-Allow-Origin"))
	}
	if after := app.counts(t); after != before {
		t.Errorf("refused post changed the database: %+v -> %+v", before, after)
	}
}

func TestCORSOpenWhenNoOriginsConfigured(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	ct, body := encode(t, urlencoded, validFields())
	res := app.do(t, http.MethodPost, "/contact", ct, body, http.Header{"Origin": {"https://anysite.example"}})
	if res.status != http.StatusSeeOther {
		t.Errorf("plain form post from any site with no allowed origins set: %v, want 303", res)
	}
	if res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("ACAO %q sent although no origin is allowed", res.header.Get("Access-Control-Allow-Origin"))
	}
}
