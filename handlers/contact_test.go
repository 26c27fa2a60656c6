package handlers_test

import (
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestContactPage checks the hosted form as a visitor without JavaScript
// sees it.
func TestContactPage(t *testing.T) {
	t.Parallel()
	const consent = `I'd like news & offers from "Acme" by email.`
	app := newTestServer(t, withSettings(map[string]string{
		"LEADBOX_CONSENT_TEXT": consent,
		"LEADBOX_PRIVACY_URL":  "https://www.example.com/privacy?lang=en",
		"LEADBOX_COMPANY":      "Acme & Sons",
	}))
	res := app.get(t, "/contact")
	if res.status != http.StatusOK {
		t.Fatalf("status %d, want 200; answer: %v", res.status, res)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/html; charset=utf-8", ct)
	}
	page := res.body

	// Every field has a label tied to its control.
	labels := map[string]bool{}
	for _, m := range regexp.MustCompile(`<label for="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		labels[m[1]] = true
	}
	controls := map[string]bool{}
	for _, m := range regexp.MustCompile(`<(?:input|textarea)\s+id="([^"]+)"\s+name="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if m[1] != m[2] {
			t.Errorf("control id %q has name %q; want them equal", m[1], m[2])
		}
		controls[m[1]] = true
	}
	for _, f := range []string{"name", "email", "phone", "company", "message", "marketing_consent", "_gotcha"} {
		if !controls[f] {
			t.Errorf("no input or textarea with id=%q name=%q", f, f)
		}
		if !labels[f] {
			t.Errorf("no <label for=%q>", f)
		}
	}
	for l := range labels {
		if !controls[l] {
			t.Errorf("label for=%q points at no control", l)
		}
	}

	if checkboxChecked(t, page) {
		t.Error("consent checkbox is ticked by default, want unticked")
	}
	if !strings.Contains(page, `<form method="post" action="/contact"`) {
		t.Error("page has no plain POST form to /contact")
	}
	for _, want := range []string{
		html.EscapeString(consent),
		"This field is for validation purposes and should be left unchanged.",
		`href="https://www.example.com/privacy?lang=en"`,
		html.EscapeString("Acme & Sons"),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, consent) {
		t.Error("consent text is not HTML-escaped")
	}
	if strings.Contains(page, `class="error"`) || strings.Contains(page, `role="alert"`) {
		t.Error("a fresh form shows errors")
	}
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("Content-Security-Policy %q, want forms limited to this origin", csp)
	}
	for _, h := range []string{"X-Content-Type-Options", "Content-Security-Policy", "X-Frame-Options"} {
		if res.header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
}

func TestContactPageWithoutPrivacyURL(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	res := app.get(t, "/contact")
	if res.status != http.StatusOK {
		t.Fatalf("status %d, want 200", res.status)
	}
	if strings.Contains(res.body, "privacy policy</a>") || strings.Contains(res.body, "Privacy policy</a>") {
		t.Error("page links a privacy policy although LEADBOX_PRIVACY_URL is empty")
	}
	if !strings.Contains(res.body, html.EscapeString(app.cfg.ConsentText)) {
		t.Errorf("page lacks the default consent text %q", app.cfg.ConsentText)
	}
}

// TestContactPageAttribution: UTM parameters of the link become hidden
// fields, so the lead keeps its attribution.
func TestContactPageAttribution(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	res := app.get(t, "/contact?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=%22q%22&utm_content=a%3Cb&other=x")
	if res.status != http.StatusOK {
		t.Fatalf("status %d, want 200", res.status)
	}
	hidden := map[string]string{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(res.body, -1) {
		hidden[m[1]] = html.UnescapeString(m[2])
	}
	want := map[string]string{
		"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring sale",
		"utm_term": `"q"`, "utm_content": "a<b",
	}
	if !strings.HasPrefix(hidden["_ts"], "v1.") {
		t.Errorf("hidden _ts = %q, want a signed time-trap stamp", hidden["_ts"])
	}
	if !strings.HasPrefix(hidden["_tw"], "w1.") {
		t.Errorf("hidden _tw = %q, want a signed consent-wording token", hidden["_tw"])
	}
	delete(hidden, "_ts")
	delete(hidden, "_tw")
	if keys := sortedKeys(hidden); !slices.Equal(keys, sortedKeys(want)) {
		t.Errorf("hidden fields %v, want %v", keys, sortedKeys(want))
	}
	for k, v := range want {
		if hidden[k] != v {
			t.Errorf("hidden %s = %q, want %q", k, hidden[k], v)
		}
	}
	if strings.Contains(res.body, "a<b") {
		t.Error("utm_content is not escaped")
	}

	// Posting the page's hidden fields back stores them with the lead.
	fields := validFields()
	for k, v := range hidden {
		fields[k] = v
	}
	if res := app.post(t, urlencoded, fields, nil); res.status != http.StatusSeeOther {
		t.Fatalf("post status %d, want 303; answer: %v", res.status, res)
	}
	l := app.lastLead(t).lead
	if l.UTMSource != "newsletter" || l.UTMCampaign != "spring sale" || l.UTMContent != "a<b" {
		t.Errorf("stored utm source %q, campaign %q, content %q; want the link's", l.UTMSource, l.UTMCampaign, l.UTMContent)
	}
}

// TestSimplePages covers the pages that only have to answer.
func TestSimplePages(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/contact/thanks", http.StatusOK, "Thank you"},
		{"/healthz", http.StatusOK, "ok"},
		{"/readyz", http.StatusOK, "ready"},
		{"/assets/leadbox.css", http.StatusOK, ""},
		{"/no-such-page", http.StatusNotFound, "Page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := app.get(t, tt.path)
			if res.status != tt.wantStatus || !strings.Contains(res.body, tt.wantBody) {
				t.Errorf("GET %s: %v; want %d containing %q", tt.path, res, tt.wantStatus, tt.wantBody)
			}
		})
	}

	t.Run("readyz after the database closed", func(t *testing.T) {
		if err := app.store.Close(); err != nil {
			t.Fatalf("close store: %v", err)
		}
		if res := app.get(t, "/readyz"); res.status != http.StatusServiceUnavailable {
			t.Errorf("GET /readyz: %v; want 503", res)
		}
		if res := app.get(t, "/healthz"); res.status != http.StatusOK {
			t.Errorf("GET /healthz: %v; want 200 while the process runs", res)
		}
	})
}

// TestCorrectedFormKeepsNext: a refused form keeps _next, so the visitor
// still lands on the site's own thank-you page after fixing it.
func TestCorrectedFormKeepsNext(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withSetting("LEADBOX_ALLOWED_ORIGINS", "https://www.example.com"))
	const next = "https://www.example.com/merci"
	res := app.post(t, urlencoded, with(validFields(), map[string]any{"email": "nope", "_next": next}), nil)
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", res.status)
	}
	// Browsers apply form-action to the redirect after the POST as well.
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://www.example.com;") {
		t.Errorf("Content-Security-Policy %q does not let the corrected form redirect to https://www.example.com", csp)
	}
	m := regexp.MustCompile(`<input type="hidden" name="_next" value="([^"]*)">`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatal("the form page dropped _next")
	}
	res = app.post(t, urlencoded, with(validFields(), map[string]any{"_next": html.UnescapeString(m[1])}), nil)
	if got := res.header.Get("Location"); res.status != http.StatusSeeOther || got != next {
		t.Errorf("answer %d to %q, want 303 to %q", res.status, got, next)
	}
}

// TestRightToLeftMessageIsKept: a message is running text, and right-to-
// left text pasted from a word processor carries bidirectional marks and
// Unicode line separators. Only one-line fields refuse those; the message
// is stored as typed, in every body type.
func TestRightToLeftMessageIsKept(t *testing.T) {
	t.Parallel()
	const message = "\u202bשלום, אני מעוניין בהצעה.\u202c\u2028שורה שנייה\u2029\u2067RTL\u2069 \ufffd"
	for _, kind := range allKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t)
			res := app.post(t, kind, with(validFields(), map[string]any{"message": message}), acceptJSON)
			if res.status != http.StatusCreated {
				t.Fatalf("status %v, want 201", res)
			}
			if got := app.lastLead(t).lead.Message; got != message {
				t.Errorf("stored message %+q, want %+q", got, message)
			}
		})
	}
}

// TestJSONConsentIsTrueOrFalse: JSON clients send true or false; the
// form's spellings are refused by name. (null counts as absent, like for
// every field: not given, the safe reading; TestSubmissionJSONDecoding.)
func TestJSONConsentIsTrueOrFalse(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	for _, v := range []string{`"true"`, `1`, `"on"`, `"false"`} {
		body := `{"name":"Ann","email":"ann@example.com","message":"Hi","marketing_consent":` + v + `}`
		res := app.do(t, http.MethodPost, "/contact", "application/json", []byte(body), nil)
		var e validationError
		if res.status != http.StatusUnprocessableEntity {
			t.Errorf("marketing_consent %s: status %v, want 422", v, res)
			continue
		}
		decodeJSON(t, res, &e)
		if got := e.Fields["marketing_consent"]; got != "Must be true or false." {
			t.Errorf("marketing_consent %s: error %q, want \"Must be true or false.\"", v, got)
		}
	}
	if c := app.counts(t); c.leads != 0 {
		t.Errorf("%d leads stored, want none", c.leads)
	}
}

// TestRawSemicolonInAForm: a hand-built urlencoded body (curl -d) may carry
// a raw ";", which the form encoding treats as text, not as a separator.
func TestRawSemicolonInAForm(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	body := "name=Semi&email=semi@example.com&message=Call me 9-5; thanks"
	res := app.do(t, http.MethodPost, "/contact", "application/x-www-form-urlencoded", []byte(body), acceptJSON)
	if res.status != http.StatusCreated {
		t.Fatalf("status %v, want 201", res)
	}
	if got := app.lastLead(t).lead.Message; got != "Call me 9-5; thanks" {
		t.Errorf("stored message %q, want %q", got, "Call me 9-5; thanks")
	}
}

// TestHeadAnswersLikeGet: monitors and link checkers send HEAD; every page
// answers it as it answers GET, without a body (RFC 9110 §9.3.2).
func TestHeadAnswersLikeGet(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", true)
	for _, path := range []string{"/contact", "/contact/thanks", "/healthz", "/readyz", "/assets/leadbox.css", "/",
		"/optout/" + lead.OptOutToken} {
		get, head := app.do(t, http.MethodGet, path, "", nil, nil), app.do(t, http.MethodHead, path, "", nil, nil)
		if head.status != get.status || head.body != "" || head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q (type %q); GET: %d (type %q)", path, head.status, head.body,
				head.header.Get("Content-Type"), get.status, get.header.Get("Content-Type"))
		}
	}
}

// TestThanksPagePromisesOnlyWhatIsSent: the thank-you page mentions the
// confirmation email only when double opt-in sends one.
func TestThanksPagePromisesOnlyWhatIsSent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		doubleOptIn string
		want        bool
	}{{"true", true}, {"false", false}} {
		app := newTestServer(t, withSetting("LEADBOX_DOUBLE_OPT_IN", tt.doubleOptIn))
		res := app.get(t, "/contact/thanks")
		if got := strings.Contains(res.body, "asking you to confirm"); res.status != http.StatusOK || got != tt.want {
			t.Errorf("double opt-in %s: the page mentions a confirmation email: %v, want %v", tt.doubleOptIn, got, tt.want)
		}
	}
}
