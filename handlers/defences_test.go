package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// stampOf returns the time-trap stamp of a rendered hosted form.
func stampOf(t *testing.T, page string) string {
	t.Helper()
	return hiddenOf(t, page, "_ts")
}

// hiddenOf returns the value of a hidden field of a rendered hosted form.
func hiddenOf(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s field in the form:\n%s", name, page)
	}
	return html.UnescapeString(m[1])
}

func TestTimeTrap(t *testing.T) {
	t.Parallel()
	var now time.Time
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t0 time.Time) { mu.Lock(); now = t0; mu.Unlock() }
	set(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))

	app := newTestServer(t, withTimeTrap(3*time.Second), withClock(clock))
	stamp := stampOf(t, app.get(t, "/contact").body)

	tests := []struct {
		name     string
		stamp    any // nil: no _ts field at all
		after    time.Duration
		wantLead bool
	}{
		{"posted by a person after 8 s", stamp, 8 * time.Second, true},
		{"posted by a bot after 200 ms", stamp, 200 * time.Millisecond, false},
		{"forged stamp", "v1.1777626000.AAAAAAAAAAAAAAAAAAAAAA", 8 * time.Second, false},
		{"garbage stamp", "yesterday", 8 * time.Second, false},
		{"no stamp: an external form is not penalised", nil, 0, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC).Add(tc.after))
			before := app.counts(t).leads
			trapped := app.spam.count(models.SpamTimeTrap)
			fields := with(validFields(), map[string]any{"_ts": tc.stamp, "email": fmt.Sprintf("t%d@example.com", i)})
			res := app.post(t, urlencoded, fields, nil)
			if res.status != http.StatusSeeOther || res.header.Get("Location") != "/contact/thanks" {
				t.Fatalf("answer %v (Location %q), want the same 303 to the thank-you page either way", res, res.header.Get("Location"))
			}
			gotLead := app.counts(t).leads == before+1
			if gotLead != tc.wantLead {
				t.Errorf("lead stored = %v, want %v", gotLead, tc.wantLead)
			}
			if gotTrapped := app.spam.count(models.SpamTimeTrap) - trapped; gotTrapped != map[bool]int{true: 0, false: 1}[tc.wantLead] {
				t.Errorf("time_trap counted %d times", gotTrapped)
			}
		})
	}

	// A refused form shown again keeps its stamp, so fixing a typo quickly
	// is not mistaken for a bot.
	set(time.Date(2026, 5, 1, 9, 0, 10, 0, time.UTC))
	res := app.post(t, urlencoded, with(validFields(), map[string]any{"_ts": stamp, "email": "typo"}), nil)
	if res.status != http.StatusUnprocessableEntity || stampOf(t, res.body) != stamp {
		t.Fatalf("refused form: %d, want 422 keeping the original stamp", res.status)
	}
	set(time.Date(2026, 5, 1, 9, 0, 11, 0, time.UTC))
	before := app.counts(t).leads
	app.post(t, urlencoded, with(validFields(), map[string]any{"_ts": stamp, "email": "fixed@example.com"}), nil)
	if app.counts(t).leads != before+1 {
		t.Error("corrected form posted 1 s after the refusal was dropped as a bot")
	}

	// Enter pressed a second after opening the form, most of it empty: the
	// person sees what is missing, not a "thank you" for nothing kept.
	fresh := stampOf(t, app.get(t, "/contact").body)
	set(time.Date(2026, 5, 1, 9, 0, 12, 0, time.UTC))
	res = app.post(t, urlencoded, map[string]any{"_ts": fresh, "name": "Jo Quick"}, nil)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Please enter") {
		t.Errorf("an incomplete form sent at once: %v, want 422 with what is missing", res)
	}
}

func TestDuplicateSubmission(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withDuplicateWindow(10*time.Minute))
	fields := with(validFields(), map[string]any{"marketing_consent": "on"})
	var first struct{ ID, MarketingConsent string }
	decodeJSON(t, app.post(t, urlencoded, fields, acceptJSON), &first)
	before := app.counts(t)
	notified := app.notified.Load()

	// A double click: the same answer, the same id, nothing new.
	var second struct{ ID, MarketingConsent string }
	res := app.post(t, urlencoded, fields, acceptJSON)
	if res.status != http.StatusCreated {
		t.Fatalf("second post: %v, want 201", res)
	}
	decodeJSON(t, res, &second)
	if second != first {
		t.Errorf("duplicate answered %+v, want the first answer %+v", second, first)
	}
	if after := app.counts(t); after != before {
		t.Errorf("duplicate changed the database: %+v -> %+v", before, after)
	}
	if app.notified.Load() != notified || app.spam.count(models.SpamDuplicate) != 1 {
		t.Errorf("duplicate woke the mail sender or was not counted")
	}
	// The same person with another message is a new lead.
	if res := app.post(t, urlencoded, with(fields, map[string]any{"message": "And another thing."}), acceptJSON); res.status != http.StatusCreated {
		t.Fatalf("new message: %v", res)
	}
	if got := app.counts(t).leads; got != before.leads+1 {
		t.Errorf("%d leads after a different message, want %d", got, before.leads+1)
	}
}

func TestConfirmationEmailLimitPerAddress(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withSetting("LEADBOX_CONFIRM_LIMIT", "2"))
	for i := range 4 {
		fields := with(validFields(), map[string]any{
			"email": "victim@example.com", "marketing_consent": "on", "message": fmt.Sprintf("Spam run %d", i),
		})
		if res := app.post(t, urlencoded, fields, nil); res.status != http.StatusSeeOther {
			t.Fatalf("post %d: %v", i, res)
		}
	}
	confirmations := 0
	for _, m := range app.allOutbox(t) {
		if m.Kind == models.KindConsentConfirmation {
			confirmations++
		}
	}
	if confirmations != 2 {
		t.Errorf("%d confirmation emails queued for one address, want the limit of 2", confirmations)
	}
	if got := app.counts(t); got.leads != 4 || got.events != 4 {
		t.Errorf("leads/events = %d/%d, want every submission and its consent record kept (4/4)", got.leads, got.events)
	}
}

func TestCaptcha(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	mode := "pass"
	verifier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		m := mode
		mu.Unlock()
		if r.PostFormValue("secret") != "test-secret" || r.PostFormValue("remoteip") != "127.0.0.1" {
			fmt.Fprint(w, `{"success":false,"error-codes":["invalid-input-secret"]}`)
			return
		}
		switch {
		case m == "slow":
			// Longer than Leadbox waits; ends when Leadbox gives up, so
			// that closing the fake does not wait for it.
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case m == "pass" && r.PostFormValue("response") == "token-ok":
			fmt.Fprint(w, `{"success":true,"error-codes":[]}`)
		default:
			fmt.Fprint(w, `{"success":false,"error-codes":["invalid-input-response"]}`)
		}
	}))
	defer verifier.Close()
	app := newTestServer(t, withCaptcha("site-key-123", "test-secret", verifier.URL), withSetting("LEADBOX_CAPTCHA_TIMEOUT", "150ms"))

	page := app.get(t, "/contact")
	if !strings.Contains(page.body, "<noscript>") || !strings.Contains(page.body, "turn on JavaScript") {
		t.Error("the hosted form does not tell visitors without JavaScript that its robot check needs it")
	}
	if !strings.Contains(page.body, `class="cf-turnstile" data-sitekey="site-key-123"`) ||
		!strings.Contains(page.header.Get("Content-Security-Policy"), "script-src https://challenges.cloudflare.com") {
		t.Errorf("hosted form lacks the widget or the CSP does not allow its script:\n%s", page.header.Get("Content-Security-Policy"))
	}

	tests := []struct {
		name, mode, token string
		kind              bodyKind
		header            http.Header
		wantStatus        int
		wantLead          bool
	}{
		{"pass (form)", "pass", "token-ok", urlencoded, nil, http.StatusSeeOther, true},
		{"pass (JSON)", "pass", "token-ok", jsonBody, nil, http.StatusCreated, true},
		{"failed", "pass", "token-bad", urlencoded, nil, http.StatusUnprocessableEntity, false},
		{"no answer", "pass", "", jsonBody, nil, http.StatusUnprocessableEntity, false},
		{"provider times out", "slow", "token-ok", urlencoded, nil, http.StatusServiceUnavailable, false},
		{"provider times out (JSON)", "slow", "token-ok", jsonBody, nil, http.StatusServiceUnavailable, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			mode = tc.mode
			mu.Unlock()
			before := app.counts(t).leads
			fields := with(validFields(), map[string]any{"cf-turnstile-response": tc.token, "email": fmt.Sprintf("c%d@example.com", i)})
			res := app.post(t, tc.kind, fields, tc.header)
			if res.status != tc.wantStatus {
				t.Fatalf("status %v, want %d", res, tc.wantStatus)
			}
			if got := app.counts(t).leads == before+1; got != tc.wantLead {
				t.Errorf("lead stored = %v, want %v", got, tc.wantLead)
			}
			if tc.wantLead {
				return
			}
			// Never a silent drop: the answer names the problem, and a form
			// keeps what the visitor typed.
			if tc.kind == jsonBody {
				var v validationError
				decodeJSON(t, res, &v)
				if v.Fields["captcha"] == "" {
					t.Errorf("JSON answer %s does not name the captcha field", res.body)
				}
			} else if !strings.Contains(res.body, `id="captcha-error"`) || !strings.Contains(res.body, "Ann Example") {
				t.Errorf("form answer lacks the captcha error or the typed values:\n%s", res.body)
			} else if heading := map[bool]string{true: "Your message was not sent yet", false: "Please check one field"}[tc.wantStatus == http.StatusServiceUnavailable]; !strings.Contains(res.body, heading) {
				t.Errorf("form answer's error summary does not say %q:\n%s", heading, res.body)
			}
		})
	}
}

// TestSecurityHeadersOnEveryRoute checks the headers on every kind of
// answer, errors and panics included.
func TestSecurityHeadersOnEveryRoute(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withRateLimit(2), withSetting("LEADBOX_BASE_URL", "https://leads.example.com"))
	lead := app.submitLead(t, "ann@example.com", true)
	requests := []struct {
		method, path, contentType, body string
		wantStatus                      int
	}{
		{"GET", "/contact", "", "", 200},
		{"GET", "/contact/thanks", "", "", 200},
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 200},
		{"GET", "/assets/leadbox.css", "", "", 200},
		{"GET", "/optout/" + lead.OptOutToken, "", "", 200},
		{"POST", "/optout/" + lead.OptOutToken, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", 200},
		{"GET", "/confirm/" + *lead.ConfirmToken, "", "", 200},
		{"GET", "/optout/nope", "", "", 404},
		{"GET", "/no-such-page", "", "", 404},
		{"DELETE", "/contact", "", "", 405},
		{"POST", "/contact", "text/plain", "hi", 415},
		{"POST", "/contact", "application/x-www-form-urlencoded", "name=", 422},
		{"POST", "/contact", "application/json", "{", 400},
		{"POST", "/contact", "application/x-www-form-urlencoded", "x=" + strings.Repeat("a", 70<<10), 413},
		{"POST", "/contact", "application/x-www-form-urlencoded", url.Values{"name": {"A"}, "email": {"a@example.com"}, "message": {"m"}}.Encode(), 303},
		{"POST", "/contact", "application/x-www-form-urlencoded", url.Values{"name": {"B"}, "email": {"b@example.com"}, "message": {"m"}}.Encode(), 429},
	}
	for _, r := range requests {
		t.Run(r.method+" "+r.path[:min(len(r.path), 30)]+" "+fmt.Sprint(r.wantStatus), func(t *testing.T) {
			var body []byte
			if r.body != "" {
				body = []byte(r.body)
			}
			res := app.do(t, r.method, r.path, r.contentType, body, nil)
			if res.status != r.wantStatus {
				t.Fatalf("status %d, want %d", res.status, r.wantStatus)
			}
			checkSecurityHeaders(t, res.header)
		})
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy %q allows scripts", csp)
	}
	for k, want := range map[string]string{
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "strict-origin-when-cross-origin",
		"Strict-Transport-Security": "max-age=31536000",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if h.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}

func TestFrameAncestorsConfigurable(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withSetting("LEADBOX_FRAME_ANCESTORS", "https://www.example.com"))
	res := app.get(t, "/contact")
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://www.example.com") {
		t.Errorf("CSP %q does not let the company's site embed the form", csp)
	}
	if xfo := res.header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("X-Frame-Options %q would forbid the embedding frame-ancestors allows", xfo)
	}
	if hsts := res.header.Get("Strict-Transport-Security"); hsts != "" {
		t.Errorf("HSTS %q sent for an http base URL", hsts)
	}
}

// TestMalformedBodiesNever5xx throws hostile bodies at the endpoint: each
// gets a 4xx answer (or a success), never a 5xx, and nothing breaks.
func TestMalformedBodiesNever5xx(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withDuplicateWindow(0)) // every accepted body is stored
	manyFields := &strings.Builder{}
	for i := range 5000 {
		fmt.Fprintf(manyFields, "f%d=x&", i)
	}
	manyFields.WriteString("name=A&email=a@example.com&message=m")
	bodies := []struct{ name, contentType, body string }{
		{"JSON number for name", "application/json", `{"name":1,"email":"a@example.com","message":"m"}`},
		{"JSON object for email", "application/json", `{"name":"A","email":{"x":1},"message":"m"}`},
		{"JSON array for message", "application/json", `{"name":"A","email":"a@example.com","message":["m"]}`},
		{"JSON string consent", "application/json", `{"name":"A","email":"a@example.com","message":"m","marketing_consent":"yes"}`},
		{"JSON top-level string", "application/json", `"hello"`},
		{"JSON null", "application/json", `null`},
		{"JSON deep nesting", "application/json", strings.Repeat("[", 10000) + strings.Repeat("]", 10000)},
		{"JSON NUL escape", "application/json", `{"name":"A\u0000B","email":"a@example.com","message":"m"}`},
		{"raw NUL bytes", "application/x-www-form-urlencoded", "name=A\x00B&email=a@example.com&message=m"},
		{"percent NUL", "application/x-www-form-urlencoded", "name=A%00B&email=a@example.com&message=m"},
		{"thousands of fields", "application/x-www-form-urlencoded", manyFields.String()},
		{"repeated keys", "application/x-www-form-urlencoded", strings.Repeat("name=A&", 3000) + "email=a@example.com&message=m"},
		{"huge single field", "application/x-www-form-urlencoded", "name=A&email=a@example.com&message=" + strings.Repeat("x", 60<<10)},
		{"bad percent escape", "application/x-www-form-urlencoded", "name=%zz"},
		{"multipart without boundary", "multipart/form-data", "--x\r\n"},
		{"multipart truncated", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nA"},
		{"multipart with a file", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"name\"; filename=\"a.exe\"\r\n\r\nMZ\r\n--xyz--\r\n"},
		{"content type garbage", "application/json; charset", `{}`},
		{"utf-16 charset", "application/json; charset=utf-16", `{}`},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			res := app.do(t, http.MethodPost, "/contact", b.contentType, []byte(b.body), acceptJSON)
			if res.status >= 500 {
				t.Fatalf("status %v, want a 4xx", res)
			}
			if res.status >= 400 && !json.Valid([]byte(res.body)) {
				t.Errorf("JSON client got a non-JSON error: %s", res.body)
			}
		})
	}
	if res := app.get(t, "/readyz"); res.status != http.StatusOK {
		t.Errorf("after the barrage /readyz = %d", res.status)
	}
}

// TestConcurrentSubmissions posts from many goroutines at once: every lead
// is stored, with its consent record and emails, and no answer is a 5xx
// ("database is locked" would be one).
func TestConcurrentSubmissions(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withRateLimit(0)) // every post comes from one address
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for w := range workers {
		wg.Go(func() {
			client := &http.Client{}
			for i := range each {
				body, _ := json.Marshal(map[string]any{
					"name": "Load Test", "email": fmt.Sprintf("w%d-%d@example.com", w, i),
					"message": "Concurrent hello", "marketing_consent": i%2 == 0,
				})
				resp, err := client.Post(app.srv.URL+"/contact", "application/json", bytes.NewReader(body))
				if err != nil {
					errs <- err.Error()
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Sprintf("status %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	got := app.counts(t)
	want := int64(workers * each)
	// One sales notification per lead, plus a confirmation email for each
	// that ticked the box (even i: 13 of 25 per worker).
	wantOutbox := want + int64(workers*((each+1)/2))
	if got.leads != want || got.events != want || got.outbox != wantOutbox {
		t.Errorf("rows = %+v, want %d leads, %d events, %d outbox", got, want, want, wantOutbox)
	}
}

// TestLeadKeepsTheWordingItsFormShowed: the consent wording changed (a new
// LEADBOX_CONSENT_TEXT, a restart) while a visitor had the hosted form
// open. Their lead records the wording they were shown, which the form's
// stamp carries; a form refused and shown again shows, and records, the
// new one.
func TestLeadKeepsTheWordingItsFormShowed(t *testing.T) {
	t.Parallel()
	const wordingA, wordingB = "Wording A: email me your offers.", "Wording B: email me offers and news from partners."
	db := filepath.Join(t.TempDir(), "leads.db")
	before := newTestServer(t, withDatabase(db), withSetting("LEADBOX_CONSENT_TEXT", wordingA))
	page := before.get(t, "/contact").body
	if !strings.Contains(page, wordingA) {
		t.Fatalf("the form does not show wording A:\n%s", page)
	}
	stamp, token := stampOf(t, page), hiddenOf(t, page, "_tw")
	// The form is posted as soon as it is fetched.
	after := newTestServer(t, withDatabase(db), withSetting("LEADBOX_CONSENT_TEXT", wordingB), withTimeTrap(0))

	ticked := func(set map[string]any) map[string]any {
		return with(validFields(), with(map[string]any{"marketing_consent": "on"}, set))
	}
	res := after.post(t, urlencoded, ticked(map[string]any{"_ts": stamp, "_tw": token}), nil)
	if res.status != http.StatusSeeOther {
		t.Fatalf("post of the open form: %v, want 303", res)
	}
	if got := after.lastLead(t).text.Text; got != wordingA {
		t.Errorf("recorded wording %q, want the one the form showed, %q", got, wordingA)
	}

	res = after.post(t, urlencoded, ticked(map[string]any{"_ts": stamp, "_tw": token, "email": "typo", "message": "Second enquiry"}), nil)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, wordingB) {
		t.Fatalf("refused form: %v, want 422 showing wording B", res)
	}
	if stampOf(t, res.body) != stamp {
		t.Errorf("the refused form's stamp changed: a quick fix would be taken for a bot")
	}
	res = after.post(t, urlencoded, ticked(map[string]any{"_ts": stamp, "_tw": hiddenOf(t, res.body, "_tw"), "message": "Second enquiry"}), nil)
	if res.status != http.StatusSeeOther {
		t.Fatalf("corrected form: %v, want 303", res)
	}
	if got := after.lastLead(t).text.Text; got != wordingB {
		t.Errorf("corrected form recorded wording %q, want the one it showed then, %q", got, wordingB)
	}

	res = after.post(t, jsonBody, with(validFields(), map[string]any{"marketing_consent": true, "message": "Third"}), nil)
	if res.status != http.StatusCreated {
		t.Fatalf("JSON post: %v", res)
	}
	if got := after.lastLead(t).text.Text; got != wordingB {
		t.Errorf("a JSON client's lead recorded wording %q, want the configured %q", got, wordingB)
	}
}

// TestCaptchaRetryGetsTheFirstAnswer: a double click or a browser retry
// resends a CAPTCHA answer the first post spent. It is a duplicate, and
// gets the first answer, not a "prove you are not a robot" error.
func TestCaptchaRetryGetsTheFirstAnswer(t *testing.T) {
	t.Parallel()
	verifier, _ := singleUseVerifier(t)
	app := newTestServer(t, withDuplicateWindow(10*time.Minute), withCaptcha("site-key", "secret", verifier.URL))
	for _, kind := range []bodyKind{jsonBody, urlencoded} {
		fields := with(validFields(), map[string]any{"cf-turnstile-response": "good-" + string(kind), "email": string(kind) + "@example.com"})
		if kind == jsonBody {
			fields["marketing_consent"] = true // the answer reports the consent: the first one's
		}
		first, again := app.post(t, kind, fields, nil), app.post(t, kind, fields, nil)
		if first.status != again.status || first.body != again.body || first.header.Get("Location") != again.header.Get("Location") ||
			(first.status != http.StatusCreated && first.status != http.StatusSeeOther) {
			t.Errorf("%s: first post %v, the retry %v; want the same success twice", kind, first, again)
		}
	}
	if got := app.counts(t).leads; got != 2 {
		t.Errorf("%d leads stored, want 2 (one per body type)", got)
	}
	// A spent answer with another message is no retry: it is refused.
	fields := with(validFields(), map[string]any{"cf-turnstile-response": "good-json", "email": "json@example.com", "message": "Another enquiry"})
	if res := app.post(t, jsonBody, fields, nil); res.status != http.StatusUnprocessableEntity {
		t.Errorf("a spent answer with a new message: %v, want 422", res)
	}
}

// TestCaptchaFailuresUseTheRateLimit: a refused submission gives its rate
// limit token back (a typo must not lock a visitor out), but one that
// failed the CAPTCHA does not: each costs a call to the provider.
func TestCaptchaFailuresUseTheRateLimit(t *testing.T) {
	t.Parallel()
	verifier, calls := singleUseVerifier(t)
	app := newTestServer(t, withRateLimit(2), withCaptcha("site-key", "secret", verifier.URL))
	var statuses []int
	for range 4 {
		res := app.post(t, jsonBody, with(validFields(), map[string]any{"cf-turnstile-response": "bot"}), nil)
		statuses = append(statuses, res.status)
	}
	if want := []int{422, 422, 429, 429}; !slices.Equal(statuses, want) || calls() != 2 {
		t.Errorf("bad answers got %v with %d calls to the provider; want %v with 2", statuses, calls(), want)
	}

	// A provider that cannot be reached: each retry would ask it again.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusBadGateway)
	}))
	defer down.Close()
	app = newTestServer(t, withRateLimit(2), withCaptcha("site-key", "secret", down.URL))
	statuses = nil
	for range 3 {
		res := app.post(t, jsonBody, with(validFields(), map[string]any{"cf-turnstile-response": "good-x"}), nil)
		statuses = append(statuses, res.status)
	}
	if want := []int{503, 503, 429}; !slices.Equal(statuses, want) {
		t.Errorf("with the provider down, posts got %v; want %v", statuses, want)
	}
}
