package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// mode is one way a client posts the form and the answer format it gets.
type mode struct {
	kind   bodyKind
	header http.Header
	// json: the client gets JSON answers (JSON body, or Accept: JSON).
	json bool
}

func (m mode) String() string {
	if m.json && m.kind != jsonBody {
		return string(m.kind) + "+accept-json"
	}
	return string(m.kind)
}

var allModes = []mode{
	{kind: urlencoded},
	{kind: urlencoded, header: acceptJSON, json: true},
	{kind: multiparts},
	{kind: multiparts, header: acceptJSON, json: true},
	{kind: jsonBody, json: true},
}

// emailOfLength returns a valid address of exactly n bytes (n >= 70).
func emailOfLength(n int) string {
	local := strings.Repeat("l", 64)
	// local@a{63}.b{63}.c{k}.com
	k := n - len(local) - 1 - 63 - 1 - 63 - 1 - 4
	return local + "@" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", k) + ".com"
}

// TestSubmissionFields runs every row of the contract's "Submission fields"
// table through every accepted body type and answer format.
func TestSubmissionFields(t *testing.T) {
	t.Parallel()
	// Every row posts much the same lead from one address, more than a
	// visitor would.
	app := newTestServer(t, withRateLimit(0), withDuplicateWindow(0))

	tests := []struct {
		name string
		set  map[string]any // over validFields(); a nil value removes the field
		// kinds limits the row to some body types (nil: all).
		kinds []bodyKind
		// wantBad are the fields a 422 names; none means accepted.
		wantBad []string
		// wantConsent is the stored consent action of an accepted row.
		wantConsent string
		// check looks at the stored lead of an accepted row.
		check func(t *testing.T, s storedLead)
	}{
		{name: "all valid"},
		{name: "only required fields", set: map[string]any{"phone": nil, "company": nil},
			check: func(t *testing.T, s storedLead) {
				if s.lead.Phone != "" || s.lead.Company != "" {
					t.Errorf("stored phone %q, company %q; want both empty", s.lead.Phone, s.lead.Company)
				}
			}},

		// name
		{name: "name missing", set: map[string]any{"name": nil}, wantBad: []string{"name"}},
		{name: "name empty", set: map[string]any{"name": ""}, wantBad: []string{"name"}},
		{name: "name only spaces", set: map[string]any{"name": " \t  "}, wantBad: []string{"name"}},
		{name: "name 1 char", set: map[string]any{"name": "Q"}},
		{name: "name 200 chars", set: map[string]any{"name": strings.Repeat("é", 200)}},
		{name: "name 200 chars after trimming", set: map[string]any{"name": "  " + strings.Repeat("n", 200) + "  "},
			check: func(t *testing.T, s storedLead) {
				if want := strings.Repeat("n", 200); s.lead.Name != want {
					t.Errorf("stored name %q, want it trimmed to %q", s.lead.Name, want)
				}
			}},
		{name: "name 201 chars", set: map[string]any{"name": strings.Repeat("é", 201)}, wantBad: []string{"name"}},
		{name: "name with NUL", set: map[string]any{"name": "Ann\x00Example"}, wantBad: []string{"name"}},
		{name: "name with line break", set: map[string]any{"name": "Ann\nBcc: x@evil.com"}, wantBad: []string{"name"}},
		{name: "name with tab", set: map[string]any{"name": "Ann\tExample"}, wantBad: []string{"name"}},
		{name: "name with DEL", set: map[string]any{"name": "Ann\x7f"}, wantBad: []string{"name"}},
		{name: "name with C1 control", set: map[string]any{"name": "Ann\u0085Example"}, wantBad: []string{"name"}},

		// email
		{name: "email missing", set: map[string]any{"email": nil}, wantBad: []string{"email"}},
		{name: "email empty", set: map[string]any{"email": ""}, wantBad: []string{"email"}},
		{name: "email with display name", set: map[string]any{"email": "Ann <ann@example.com>"}, wantBad: []string{"email"}},
		{name: "email in angle brackets", set: map[string]any{"email": "<ann@example.com>"}, wantBad: []string{"email"}},
		{name: "email 254 bytes", set: map[string]any{"email": emailOfLength(254)}},
		{name: "email 255 bytes", set: map[string]any{"email": emailOfLength(255)}, wantBad: []string{"email"}},
		{name: "email domain without dot", set: map[string]any{"email": "ann@localhost"}, wantBad: []string{"email"}},
		{name: "email two @", set: map[string]any{"email": "ann@foo@example.com"}, wantBad: []string{"email"}},
		{name: "email quoted local part", set: map[string]any{"email": `"ann example"@example.com`}, wantBad: []string{"email"}},
		{name: "email two addresses", set: map[string]any{"email": "ann@example.com, bob@example.com"}, wantBad: []string{"email"}},
		{name: "email with comment", set: map[string]any{"email": "ann@example.com (Ann)"}, wantBad: []string{"email"}},
		{name: "email with header injection", set: map[string]any{"email": "ann@example.com\r\nBcc: x@evil.com"}, wantBad: []string{"email"}},
		{name: "email trimmed, case kept, subject lower-cased", set: map[string]any{"email": "  Ann.Example+tag@Example.COM "},
			check: func(t *testing.T, s storedLead) {
				if s.lead.Email != "Ann.Example+tag@Example.COM" {
					t.Errorf("stored email %q, want %q", s.lead.Email, "Ann.Example+tag@Example.COM")
				}
				if s.event.Subject != "ann.example+tag@example.com" {
					t.Errorf("consent subject %q, want %q", s.event.Subject, "ann.example+tag@example.com")
				}
			}},

		// phone
		{name: "phone every allowed character", set: map[string]any{"phone": "+1 (555) 010-99.88"}},
		{name: "phone 40 chars", set: map[string]any{"phone": strings.Repeat("1", 40)}},
		{name: "phone 41 chars", set: map[string]any{"phone": strings.Repeat("1", 41)}, wantBad: []string{"phone"}},
		{name: "phone with letters", set: map[string]any{"phone": "555 ext 12"}, wantBad: []string{"phone"}},
		{name: "phone with slash", set: map[string]any{"phone": "555/12"}, wantBad: []string{"phone"}},
		{name: "phone with line break", set: map[string]any{"phone": "555\n12"}, wantBad: []string{"phone"}},
		{name: "phone non-ASCII digits", set: map[string]any{"phone": "١٢٣"}, wantBad: []string{"phone"}},

		// company
		{name: "company empty", set: map[string]any{"company": ""}},
		{name: "company 200 chars", set: map[string]any{"company": strings.Repeat("ż", 200)}},
		{name: "company 201 chars", set: map[string]any{"company": strings.Repeat("ż", 201)}, wantBad: []string{"company"}},
		{name: "company with control char", set: map[string]any{"company": "Acme\x07"}, wantBad: []string{"company"}},
		{name: "company with line break", set: map[string]any{"company": "Acme\r\nInc"}, wantBad: []string{"company"}},

		// message
		{name: "message missing", set: map[string]any{"message": nil}, wantBad: []string{"message"}},
		{name: "message only whitespace", set: map[string]any{"message": "\n\t \r\n"}, wantBad: []string{"message"}},
		{name: "message 5000 chars", set: map[string]any{"message": strings.Repeat("ü", 5000)}},
		{name: "message 5001 chars", set: map[string]any{"message": strings.Repeat("ü", 5001)}, wantBad: []string{"message"}},
		{name: "message 5000 chars with CRLF line breaks", set: map[string]any{"message": strings.Repeat("abcd\r\n", 1000)}},
		{name: "message line breaks and tabs kept", set: map[string]any{"message": "Line one\r\n\tindented\n\nlast\rline"},
			check: func(t *testing.T, s storedLead) {
				if want := "Line one\n\tindented\n\nlast\nline"; s.lead.Message != want {
					t.Errorf("stored message %q, want %q", s.lead.Message, want)
				}
			}},
		{name: "message with ESC", set: map[string]any{"message": "red \x1b[31malert"}, wantBad: []string{"message"}},
		{name: "message with NUL", set: map[string]any{"message": "hello\x00"}, wantBad: []string{"message"}},
		{name: "message with vertical tab", set: map[string]any{"message": "a\vb"}, wantBad: []string{"message"}},

		// marketing_consent on forms
		{name: "consent absent", kinds: []bodyKind{urlencoded, multiparts}, wantConsent: models.ActionNotGiven},
		{name: "consent empty", kinds: []bodyKind{urlencoded, multiparts}, set: map[string]any{"marketing_consent": ""}, wantConsent: models.ActionNotGiven},
		{name: "consent on", kinds: []bodyKind{urlencoded, multiparts}, set: map[string]any{"marketing_consent": "on"}, wantConsent: models.ActionGiven},
		{name: "consent true", kinds: []bodyKind{urlencoded, multiparts}, set: map[string]any{"marketing_consent": "true"}, wantConsent: models.ActionGiven},
		{name: "consent 1", kinds: []bodyKind{urlencoded, multiparts}, set: map[string]any{"marketing_consent": "1"}, wantConsent: models.ActionGiven},
		{name: "consent yes", kinds: []bodyKind{urlencoded, multiparts}, set: map[string]any{"marketing_consent": "yes"}, wantConsent: models.ActionGiven},
		{name: "consent maybe", kinds: []bodyKind{urlencoded, multiparts}, set: map[string]any{"marketing_consent": "maybe"}, wantBad: []string{"marketing_consent"}},
		{name: "consent 0", kinds: []bodyKind{urlencoded, multiparts}, set: map[string]any{"marketing_consent": "0"}, wantBad: []string{"marketing_consent"}},
		{name: "consent false", kinds: []bodyKind{urlencoded, multiparts}, set: map[string]any{"marketing_consent": "false"}, wantBad: []string{"marketing_consent"}},

		// marketing_consent in JSON
		{name: "JSON consent absent", kinds: []bodyKind{jsonBody}, wantConsent: models.ActionNotGiven},
		{name: "JSON consent true", kinds: []bodyKind{jsonBody}, set: map[string]any{"marketing_consent": true}, wantConsent: models.ActionGiven},
		{name: "JSON consent false", kinds: []bodyKind{jsonBody}, set: map[string]any{"marketing_consent": false}, wantConsent: models.ActionNotGiven},
		{name: "JSON consent string true", kinds: []bodyKind{jsonBody}, set: map[string]any{"marketing_consent": "true"}, wantBad: []string{"marketing_consent"}},
		{name: "JSON consent string on", kinds: []bodyKind{jsonBody}, set: map[string]any{"marketing_consent": "on"}, wantBad: []string{"marketing_consent"}},
		{name: "JSON consent number 1", kinds: []bodyKind{jsonBody}, set: map[string]any{"marketing_consent": 1}, wantBad: []string{"marketing_consent"}},

		// JSON values of the wrong type are named, not guessed at.
		{name: "JSON name is a number", kinds: []bodyKind{jsonBody}, set: map[string]any{"name": 42}, wantBad: []string{"name"}},
		{name: "JSON message is an object", kinds: []bodyKind{jsonBody}, set: map[string]any{"message": map[string]any{"a": 1}}, wantBad: []string{"message"}},

		// Several problems are all reported at once.
		{name: "every required field bad",
			set:     map[string]any{"name": "", "email": "nope", "message": " ", "phone": "call me"},
			wantBad: []string{"email", "message", "name", "phone"}},
	}

	for _, tt := range tests {
		for _, m := range allModes {
			if tt.kinds != nil && !slices.Contains(tt.kinds, m.kind) {
				continue
			}
			t.Run(tt.name+"/"+m.String(), func(t *testing.T) {
				fields := with(validFields(), tt.set)
				before, notifiedBefore := app.counts(t), app.notified.Load()
				res := app.post(t, m.kind, fields, m.header)
				after, notifiedAfter := app.counts(t), app.notified.Load()

				if len(tt.wantBad) > 0 {
					checkRejected(t, m, res, tt.wantBad)
					if after != before {
						t.Errorf("rows after a refused submission: %+v, want unchanged %+v", after, before)
					}
					if notifiedAfter != notifiedBefore {
						t.Errorf("Notify called %d times for a refused submission, want 0", notifiedAfter-notifiedBefore)
					}
					return
				}

				var s storedLead
				if m.json {
					if res.status != http.StatusCreated {
						t.Fatalf("status %d, want %d; answer: %v", res.status, http.StatusCreated, res)
					}
					var got struct {
						ID string `json:"id"`
					}
					decodeJSON(t, res, &got)
					if got.ID == "" {
						t.Fatalf("answer %s has no id", res.body)
					}
					s = app.leadByPublicID(t, got.ID)
				} else {
					if res.status != http.StatusSeeOther {
						t.Fatalf("status %d, want %d; answer: %v", res.status, http.StatusSeeOther, res)
					}
					if loc := res.header.Get("Location"); loc != "/contact/thanks" {
						t.Errorf("Location %q, want /contact/thanks", loc)
					}
					s = app.lastLead(t)
				}
				if want := (counts{before.leads + 1, before.events + 1, before.outbox}); after.leads != want.leads || after.events != want.events {
					t.Errorf("rows after an accepted submission: %+v, want one more lead and consent event than %+v", after, before)
				}
				if notifiedAfter != notifiedBefore+1 {
					t.Errorf("Notify called %d times, want 1", notifiedAfter-notifiedBefore)
				}
				wantConsent := tt.wantConsent
				if wantConsent == "" {
					wantConsent = models.ActionNotGiven
				}
				if s.event.Action != wantConsent {
					t.Errorf("stored consent action %q, want %q", s.event.Action, wantConsent)
				}
				if tt.check != nil {
					tt.check(t, s)
				}
			})
		}
	}
}

// checkRejected asserts a 422 that names exactly the wanted fields.
func checkRejected(t *testing.T, m mode, res response, wantBad []string) {
	t.Helper()
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want %d; answer: %v", res.status, http.StatusUnprocessableEntity, res)
	}
	want := slices.Sorted(slices.Values(wantBad))
	if m.json {
		var got validationError
		decodeJSON(t, res, &got)
		if got.Error != "validation" {
			t.Errorf(`"error" is %q, want "validation"`, got.Error)
		}
		if keys := sortedKeys(got.Fields); !slices.Equal(keys, want) {
			t.Errorf("fields named %v, want %v; answer: %s", keys, want, res.body)
		}
		for k, msg := range got.Fields {
			if strings.TrimSpace(msg) == "" {
				t.Errorf("field %s has an empty message", k)
			}
		}
		return
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want the HTML form page", ct)
	}
	if got := fieldErrorIDs(res.body); !slices.Equal(got, want) {
		t.Errorf("errors shown beside fields %v, want %v", got, want)
	}
	for _, f := range want {
		if !strings.Contains(res.body, fmt.Sprintf(`aria-describedby="%s-error"`, f)) {
			t.Errorf("field %s is not tied to its error message (aria-describedby)", f)
		}
	}
}

// TestSubmissionInvalidUTF8 sends bytes that are not UTF-8 in one field of
// each body type: the answer is 422 naming that field.
func TestSubmissionInvalidUTF8(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	const boundary = "b0undary"
	multipartBody := func(field, value string) []byte {
		var b strings.Builder
		for _, kv := range [][2]string{{"name", "Ann"}, {"email", "ann@example.com"}, {"message", "Hello there"}} {
			v := kv[1]
			if kv[0] == field {
				v = value
			}
			fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, kv[0], v)
		}
		fmt.Fprintf(&b, "--%s--\r\n", boundary)
		return []byte(b.String())
	}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		json        bool
		wantField   string
	}{
		{"urlencoded name", "application/x-www-form-urlencoded", []byte("name=Ann%FF&email=ann%40example.com&message=Hello+there"), false, "name"},
		{"urlencoded message, JSON answer", "application/x-www-form-urlencoded", []byte("name=Ann&email=ann%40example.com&message=Hello%C3%28"), true, "message"},
		{"multipart name", "multipart/form-data; boundary=" + boundary, multipartBody("name", "Ann\xff"), false, "name"},
		{"multipart message, JSON answer", "multipart/form-data; boundary=" + boundary, multipartBody("message", "Hi \xc3\x28 there"), true, "message"},
		{"JSON name", "application/json", []byte("{\"name\":\"Ann\xff\",\"email\":\"ann@example.com\",\"message\":\"Hello there\"}"), true, "name"},
		{"JSON company", "application/json", []byte("{\"name\":\"Ann\",\"email\":\"ann@example.com\",\"company\":\"\xed\xa0\x80\",\"message\":\"Hello there\"}"), true, "company"},
		{"JSON escaped lone surrogate in name", "application/json", []byte(`{"name":"Ann\ud800","email":"ann@example.com","message":"Hello there"}`), true, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Header
			if tt.json {
				h = acceptJSON
			}
			res := app.do(t, http.MethodPost, "/contact", tt.contentType, tt.body, h)
			checkRejected(t, mode{json: tt.json}, res, []string{tt.wantField})
		})
	}
	if c := app.counts(t); c != (counts{}) {
		t.Errorf("rows after refused submissions: %+v, want none", c)
	}
}

// TestSubmissionBodyErrors covers bodies that are not a submission at all.
func TestSubmissionBodyErrors(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	big := strings.Repeat("x", 64<<10)
	_, okJSON := encode(t, jsonBody, validFields())
	_, okForm := encode(t, urlencoded, validFields())
	bigMultipartCT, bigMultipart := encode(t, multiparts, with(validFields(), map[string]any{"message": big}))

	tests := []struct {
		name        string
		contentType string
		body        []byte
		header      http.Header
		wantStatus  int
		// wantJSONError is the "error" of a JSON answer ("" for an HTML one).
		wantJSONError string
	}{
		{"urlencoded over 64 KiB", "application/x-www-form-urlencoded", []byte(string(okForm) + "&message=" + big), nil, http.StatusRequestEntityTooLarge, ""},
		{"multipart over 64 KiB", bigMultipartCT, bigMultipart, nil, http.StatusRequestEntityTooLarge, ""},
		{"JSON over 64 KiB", "application/json", []byte(`{"name":"Ann","email":"ann@example.com","message":"` + big + `"}`), nil, http.StatusRequestEntityTooLarge, "too_large"},
		{"text/plain", "text/plain", okForm, nil, http.StatusUnsupportedMediaType, ""},
		{"text/plain, JSON answer", "text/plain; charset=utf-8", okJSON, acceptJSON, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"no Content-Type", "", okForm, nil, http.StatusUnsupportedMediaType, ""},
		{"application/xml", "application/xml", []byte("<contact/>"), nil, http.StatusUnsupportedMediaType, ""},
		{"form in Latin-1", "application/x-www-form-urlencoded; charset=iso-8859-1", okForm, nil, http.StatusUnsupportedMediaType, ""},
		{"JSON in UTF-16", "application/json; charset=utf-16", okJSON, nil, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"JSON with charset utf-8", "application/json; charset=UTF-8", okJSON, nil, http.StatusCreated, ""},
		{"malformed JSON", "application/json", []byte(`{"name": "Ann",`), nil, http.StatusBadRequest, "bad_request"},
		{"JSON array", "application/json", []byte(`[{"name":"Ann"}]`), nil, http.StatusBadRequest, "bad_request"},
		{"JSON null", "application/json", []byte(`null`), nil, http.StatusBadRequest, "bad_request"},
		{"JSON string", "application/json", []byte(`"hello"`), nil, http.StatusBadRequest, "bad_request"},
		{"empty JSON body", "application/json", nil, nil, http.StatusBadRequest, "bad_request"},
		{"multipart without boundary", "multipart/form-data", []byte("--x\r\n\r\n"), nil, http.StatusBadRequest, ""},
		{"truncated multipart", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAnn"), nil, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := app.counts(t)
			res := app.do(t, http.MethodPost, "/contact", tt.contentType, tt.body, tt.header)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; answer: %v", res.status, tt.wantStatus, res)
			}
			if tt.wantStatus == http.StatusCreated {
				return
			}
			if tt.wantJSONError != "" {
				var got struct {
					Error, Message string
				}
				decodeJSON(t, res, &got)
				if got.Error != tt.wantJSONError || got.Message == "" {
					t.Errorf("JSON answer %s, want error %q with a message", res.body, tt.wantJSONError)
				}
			} else if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want an HTML error page", ct)
			}
			if after := app.counts(t); after != before {
				t.Errorf("rows %+v, want unchanged %+v", after, before)
			}
		})
	}
}

// TestSubmissionFormKeepsValues shows the form again after a refused post
// with every typed value in place, escaped, and the checkbox as it was.
func TestSubmissionFormKeepsValues(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withSetting("LEADBOX_ALLOWED_ORIGINS", "https://www.example.com"))
	fields := map[string]any{
		"name":              `<b>Ann</b> & "Bo" O'Neil`,
		"email":             "not-an-address",
		"phone":             "(12) 345",
		"company":           `<script>alert("x")</script>`,
		"message":           "Hi </textarea><script>alert(1)</script>\nsecond line",
		"utm_source":        "newsletter",
		"utm_campaign":      "spring",
		"page":              "https://www.example.com/pricing",
		"_next":             "https://www.example.com/thanks",
		"marketing_consent": "on",
	}
	for _, kind := range []bodyKind{urlencoded, multiparts} {
		for _, ticked := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/ticked=%v", kind, ticked), func(t *testing.T) {
				f := with(fields, nil)
				if !ticked {
					delete(f, "marketing_consent")
				}
				res := app.post(t, kind, f, nil)
				checkRejected(t, mode{kind: kind}, res, []string{"email"})
				for _, want := range []string{
					`value="&lt;b&gt;Ann&lt;/b&gt; &amp; &#34;Bo&#34; O&#39;Neil"`,
					`value="not-an-address"`,
					`value="(12) 345"`,
					`value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"`,
					"Hi &lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;\nsecond line</textarea>",
					`<input type="hidden" name="utm_source" value="newsletter">`,
					`<input type="hidden" name="utm_campaign" value="spring">`,
					`<input type="hidden" name="page" value="https://www.example.com/pricing">`,
					`<input type="hidden" name="_next" value="https://www.example.com/thanks">`,
				} {
					if !strings.Contains(res.body, want) {
						t.Errorf("page lacks %s", want)
					}
				}
				for _, raw := range []string{"<b>Ann</b>", `<script>alert("x")</script>`, "<script>alert(1)</script>"} {
					if strings.Contains(res.body, raw) {
						t.Errorf("page contains %s unescaped", raw)
					}
				}
				if got := checkboxChecked(t, res.body); got != ticked {
					t.Errorf("checkbox checked = %v, want %v", got, ticked)
				}
			})
		}
	}
}

// TestStoredLead reads back what an accepted submission committed: the
// lead, its consent event with the wording shown, and its emails.
func TestStoredLead(t *testing.T) {
	t.Parallel()
	const consentText = "Yes, send me news & offers by email. I can unsubscribe at any time."
	full := map[string]any{
		"name":         "  Ann Example ",
		"email":        " Ann@Example.com ",
		"phone":        " +48 12 345 67 89 ",
		"company":      " Acme ",
		"message":      " Hello,\r\nplease call me. ",
		"page":         "https://www.example.com/pricing?plan=pro",
		"utm_source":   "newsletter",
		"utm_medium":   "email",
		"utm_campaign": "spring-2026",
		"utm_term":     "contact form",
		"utm_content":  "footer",
	}
	tests := []struct {
		name        string
		doubleOptIn string
		kind        bodyKind
		consent     any // nil: not sent
		wantAction  string
		wantKinds   []string
		wantConfirm bool
	}{
		{"JSON, consent given, double opt-in", "true", jsonBody, true, models.ActionGiven,
			[]string{models.KindConsentConfirmation, models.KindSalesNotification}, true},
		{"form, consent given, double opt-in", "true", urlencoded, "on", models.ActionGiven,
			[]string{models.KindConsentConfirmation, models.KindSalesNotification}, true},
		{"multipart, consent not given, double opt-in", "true", multiparts, nil, models.ActionNotGiven,
			[]string{models.KindSalesNotification}, false},
		{"JSON, consent false, double opt-in", "true", jsonBody, false, models.ActionNotGiven,
			[]string{models.KindSalesNotification}, false},
		{"JSON, consent given, no double opt-in", "false", jsonBody, true, models.ActionGiven,
			[]string{models.KindSalesNotification}, false},
		{"form, consent given, no double opt-in", "false", urlencoded, "yes", models.ActionGiven,
			[]string{models.KindSalesNotification}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t, withSettings(map[string]string{
				"LEADBOX_CONSENT_TEXT":  consentText,
				"LEADBOX_DOUBLE_OPT_IN": tt.doubleOptIn,
			}))
			fields := with(full, map[string]any{"marketing_consent": tt.consent})
			t0 := time.Now()
			res := app.post(t, tt.kind, fields, nil)
			t1 := time.Now()
			var s storedLead
			if tt.kind == jsonBody {
				if res.status != http.StatusCreated {
					t.Fatalf("status %d, want 201; answer: %v", res.status, res)
				}
				var got struct {
					ID               string `json:"id"`
					MarketingConsent string `json:"marketing_consent"`
				}
				decodeJSON(t, res, &got)
				s = app.leadByPublicID(t, got.ID)
				if s.lead.PublicID != got.ID {
					t.Errorf("stored public id %q, want %q", s.lead.PublicID, got.ID)
				}
			} else {
				if res.status != http.StatusSeeOther {
					t.Fatalf("status %d, want 303; answer: %v", res.status, res)
				}
				s = app.lastLead(t)
			}

			l := s.lead
			for _, f := range []struct{ name, got, want string }{
				{"name", l.Name, "Ann Example"},
				{"email", l.Email, "Ann@Example.com"},
				{"phone", l.Phone, "+48 12 345 67 89"},
				{"company", l.Company, "Acme"},
				{"message", l.Message, "Hello,\nplease call me."},
				{"page_url", l.PageURL, "https://www.example.com/pricing?plan=pro"},
				{"utm_source", l.UTMSource, "newsletter"},
				{"utm_medium", l.UTMMedium, "email"},
				{"utm_campaign", l.UTMCampaign, "spring-2026"},
				{"utm_term", l.UTMTerm, "contact form"},
				{"utm_content", l.UTMContent, "footer"},
			} {
				if f.got != f.want {
					t.Errorf("lead %s = %q, want %q", f.name, f.got, f.want)
				}
			}
			if l.OptOutToken == "" {
				t.Error("lead has no opt-out token")
			}
			if got := l.ConfirmToken != nil && *l.ConfirmToken != ""; got != tt.wantConfirm {
				t.Errorf("lead has a confirm token: %v, want %v", got, tt.wantConfirm)
			}
			if l.CreatedAt.Before(t0) || l.CreatedAt.After(t1) {
				t.Errorf("lead created_at %v, want between %v and %v", l.CreatedAt, t0, t1)
			}

			e := s.event
			for _, f := range []struct{ name, got, want string }{
				{"subject", e.Subject, "ann@example.com"},
				{"purpose", e.Purpose, models.PurposeMarketingEmail},
				{"action", e.Action, tt.wantAction},
				{"method", e.Method, models.MethodForm},
				{"ip", e.IP, "127.0.0.1"},
				{"user_agent", e.UserAgent, testUserAgent},
				{"page_url", e.PageURL, "https://www.example.com/pricing?plan=pro"},
			} {
				if f.got != f.want {
					t.Errorf("consent event %s = %q, want %q", f.name, f.got, f.want)
				}
			}
			if e.At.Before(t0) || e.At.After(t1) {
				t.Errorf("consent event at %v, want between %v and %v", e.At, t0, t1)
			}
			if s.text.Hash != sha256Hex(consentText) || s.text.Text != consentText {
				t.Errorf("consent event points at text %q (hash %s), want %q (hash %s)",
					s.text.Text, s.text.Hash, consentText, sha256Hex(consentText))
			}
			if got := outboxKinds(s.outbox); !slices.Equal(got, tt.wantKinds) {
				t.Errorf("outbox kinds %v, want %v", got, tt.wantKinds)
			}
			for _, m := range s.outbox {
				if m.Status != models.StatusPending || m.MessageID == "" || m.NextAttemptAt.After(t1) {
					t.Errorf("outbox %s: status %q, message id %q, due %v; want pending, with an id, due now",
						m.Kind, m.Status, m.MessageID, m.NextAttemptAt)
				}
			}
			if c := app.counts(t); c != (counts{1, 1, int64(len(tt.wantKinds))}) {
				t.Errorf("rows %+v, want exactly this lead's", c)
			}
			if n := app.notified.Load(); n != 1 {
				t.Errorf("Notify called %d times, want 1", n)
			}
		})
	}
}

// TestAcceptedJSONAnswer checks the fields of a 201 beyond the id.
func TestAcceptedJSONAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doubleOptIn string
		consent     any
		want        string
	}{
		{"true", true, "pending_confirmation"},
		{"true", false, "not_given"},
		{"false", true, "given"},
		{"false", nil, "not_given"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("double_opt_in=%s/consent=%v", tt.doubleOptIn, tt.consent), func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t, withSetting("LEADBOX_DOUBLE_OPT_IN", tt.doubleOptIn))
			res := app.post(t, jsonBody, with(validFields(), map[string]any{"marketing_consent": tt.consent}), nil)
			var got map[string]string
			decodeJSON(t, res, &got)
			if res.status != http.StatusCreated || got["marketing_consent"] != tt.want || got["id"] == "" {
				t.Errorf("answer %v, want 201 with an id and marketing_consent %q", res, tt.want)
			}
		})
	}
}

// TestConsentTextVersions: a new wording gets its own row, and the earlier
// lead keeps pointing at the wording it was shown.
func TestConsentTextVersions(t *testing.T) {
	t.Parallel()
	const first, second = "First wording: email me offers.", "Second wording: send me news by email."
	dbPath := t.TempDir() + "/leads.db"
	app1 := newTestServer(t, withDatabase(dbPath), withSetting("LEADBOX_CONSENT_TEXT", first))
	res := app1.post(t, jsonBody, with(validFields(), map[string]any{"marketing_consent": true}), nil)
	var a1 struct{ ID string }
	decodeJSON(t, res, &a1)
	lead1 := app1.leadByPublicID(t, a1.ID)

	// The same enquiry again, under the new wording: a new lead.
	app2 := newTestServer(t, withDatabase(dbPath), withSetting("LEADBOX_CONSENT_TEXT", second), withDuplicateWindow(0))
	res = app2.post(t, jsonBody, with(validFields(), map[string]any{"marketing_consent": true}), nil)
	var a2 struct{ ID string }
	decodeJSON(t, res, &a2)
	lead2 := app2.leadByPublicID(t, a2.ID)

	var texts []models.ConsentText
	if err := app2.store.DB().Order("id").Find(&texts).Error; err != nil {
		t.Fatalf("read consent texts: %v", err)
	}
	var got []string
	for _, ct := range texts {
		got = append(got, ct.Text)
		if ct.Hash != sha256Hex(ct.Text) {
			t.Errorf("consent text %q has hash %s, want %s", ct.Text, ct.Hash, sha256Hex(ct.Text))
		}
	}
	if !slices.Equal(got, []string{first, second}) {
		t.Errorf("consent texts %q, want %q", got, []string{first, second})
	}
	if again := app1.leadByPublicID(t, a1.ID); *again.event.ConsentTextID != *lead1.event.ConsentTextID || again.text.Text != first {
		t.Errorf("first lead's consent text is now %q (id %d), want %q (id %d)",
			again.text.Text, *again.event.ConsentTextID, first, *lead1.event.ConsentTextID)
	}
	if lead2.text.Text != second {
		t.Errorf("second lead's consent text %q, want %q", lead2.text.Text, second)
	}

	// A third server with the first wording again reuses its row.
	app3 := newTestServer(t, withDatabase(dbPath), withSetting("LEADBOX_CONSENT_TEXT", first))
	var n int64
	if err := app3.store.DB().Model(&models.ConsentText{}).Count(&n).Error; err != nil {
		t.Fatalf("count consent texts: %v", err)
	}
	if n != 2 {
		t.Errorf("%d consent texts after reusing the first wording, want 2", n)
	}
}

// TestUnknownFieldsIgnored: fields the contract does not name, even ones
// that look like ours, are neither used nor stored.
func TestUnknownFieldsIgnored(t *testing.T) {
	t.Parallel()
	const sentinel = "zqxj-sentinel"
	extra := map[string]any{
		"consent_text":         sentinel + "-text",
		"consent_text_version": sentinel + "-version",
		"consent_text_id":      sentinel + "-text-id",
		"id":                   sentinel + "-id",
		"public_id":            sentinel + "-public-id",
		"ip":                   sentinel + "-ip",
		"user_agent":           sentinel + "-ua",
		"opt_out_token":        sentinel + "-token",
		"created_at":           sentinel + "-created",
		"subject":              sentinel + "-subject",
		"action":               sentinel + "-action",
		"Name":                 sentinel + "-Name",
	}
	for _, kind := range allKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t)
			res := app.post(t, kind, with(validFields(), extra), acceptJSON)
			if res.status != http.StatusCreated {
				t.Fatalf("status %d, want 201; answer: %v", res.status, res)
			}
			var got struct{ ID string }
			decodeJSON(t, res, &got)
			if strings.Contains(got.ID, sentinel) {
				t.Errorf("answer id %q comes from the client", got.ID)
			}
			s := app.leadByPublicID(t, got.ID)
			if s.lead.Name != "Ann Example" || s.event.IP != "127.0.0.1" || s.event.UserAgent != testUserAgent {
				t.Errorf("stored name %q, ip %q, user agent %q; want the real ones", s.lead.Name, s.event.IP, s.event.UserAgent)
			}
			if s.text.Text != app.cfg.ConsentText {
				t.Errorf("stored consent text %q, want the configured one", s.text.Text)
			}
			if hits := app.columnsHolding(t, sentinel); len(hits) > 0 {
				t.Errorf("client-sent unknown fields stored in %v", hits)
			}
		})
	}
}

// TestClientIP: X-Forwarded-For is believed only from a trusted proxy.
func TestClientIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		proxies string
		xff     string
		want    string
	}{
		{"no proxies, forged header ignored", "", "203.0.113.7", "127.0.0.1"},
		{"other proxy trusted, header ignored", "10.0.0.0/8", "203.0.113.7", "127.0.0.1"},
		{"loopback trusted", "127.0.0.1", "203.0.113.7", "203.0.113.7"},
		{"loopback range trusted, chain", "127.0.0.0/8", "198.51.100.1, 203.0.113.7", "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t, withSetting("LEADBOX_TRUSTED_PROXIES", tt.proxies))
			res := app.post(t, jsonBody, validFields(), http.Header{"X-Forwarded-For": {tt.xff}})
			var got struct{ ID string }
			decodeJSON(t, res, &got)
			if s := app.leadByPublicID(t, got.ID); s.event.IP != tt.want {
				t.Errorf("stored IP %q, want %q", s.event.IP, tt.want)
			}
		})
	}
}

// TestHoneypot: a filled honeypot is answered like a success, and nothing
// is stored or sent.
func TestHoneypot(t *testing.T) {
	t.Parallel()
	// What a real success looks like, on a server of its own that stores
	// every post, however alike and however many.
	ref := newTestServer(t, withSetting("LEADBOX_ALLOWED_ORIGINS", "https://www.example.com"),
		withDuplicateWindow(0), withRateLimit(0))
	for _, m := range allModes {
		for _, consent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/consent=%v", m, consent), func(t *testing.T) {
				t.Parallel()
				app := newTestServer(t, withSetting("LEADBOX_ALLOWED_ORIGINS", "https://www.example.com"))
				fields := validFields()
				if consent {
					if m.kind == jsonBody {
						fields["marketing_consent"] = true
					} else {
						fields["marketing_consent"] = "on"
					}
				}
				real := ref.post(t, m.kind, fields, m.header)

				spam := app.post(t, m.kind, with(fields, map[string]any{"_gotcha": "http://spam.example"}), m.header)
				if spam.status != real.status {
					t.Errorf("honeypot status %d, success status %d; want the same", spam.status, real.status)
				}
				if m.json {
					var gotSpam, gotReal map[string]any
					decodeJSON(t, spam, &gotSpam)
					decodeJSON(t, real, &gotReal)
					if !slices.Equal(sortedKeys(gotSpam), sortedKeys(gotReal)) {
						t.Errorf("honeypot answer keys %v, success keys %v", sortedKeys(gotSpam), sortedKeys(gotReal))
					}
					if gotSpam["marketing_consent"] != gotReal["marketing_consent"] {
						t.Errorf("honeypot marketing_consent %v, success %v", gotSpam["marketing_consent"], gotReal["marketing_consent"])
					}
					if id, _ := gotSpam["id"].(string); len(id) != len(gotReal["id"].(string)) {
						t.Errorf("honeypot id %q looks unlike a real id %q", id, gotReal["id"])
					}
				} else if got, want := spam.header.Get("Location"), real.header.Get("Location"); got != want || got != "/contact/thanks" {
					t.Errorf("honeypot Location %q, success %q; want both /contact/thanks", got, want)
				}
				if c := app.counts(t); c != (counts{}) {
					t.Errorf("rows after a honeypot submission: %+v, want none", c)
				}
				if n := app.notified.Load(); n != 0 {
					t.Errorf("Notify called %d times for a honeypot submission, want 0", n)
				}
			})
		}
	}

	t.Run("form with allowed _next", func(t *testing.T) {
		t.Parallel()
		app := newTestServer(t, withSetting("LEADBOX_ALLOWED_ORIGINS", "https://www.example.com"))
		res := app.post(t, urlencoded, with(validFields(), map[string]any{
			"_gotcha": "x", "_next": "https://www.example.com/thanks",
		}), nil)
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "https://www.example.com/thanks" {
			t.Errorf("answer %d to %q, want 303 to the allowed _next", res.status, res.header.Get("Location"))
		}
		if c := app.counts(t); c != (counts{}) {
			t.Errorf("rows %+v, want none", c)
		}
	})
}

// TestNextRedirect: _next is honoured only for an allowed origin.
func TestNextRedirect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allowed string
		next    string
		want    string
	}{
		{"allowed origin", "https://www.example.com", "https://www.example.com/thanks?from=form#top", "https://www.example.com/thanks?from=form#top"},
		{"allowed origin, bare", "https://www.example.com", "https://www.example.com", "https://www.example.com"},
		{"allowed origin, upper case host", "https://www.example.com", "https://WWW.Example.com/thanks", "https://WWW.Example.com/thanks"},
		{"one of several", "https://a.example.org, https://www.example.com", "https://www.example.com/ok", "https://www.example.com/ok"},
		{"allowed with port", "https://www.example.com:8443", "https://www.example.com:8443/ok", "https://www.example.com:8443/ok"},
		{"empty", "https://www.example.com", "", "/contact/thanks"},
		{"scheme-relative", "https://www.example.com", "//evil.com", "/contact/thanks"},
		{"scheme-relative to allowed host", "https://www.example.com", "//www.example.com/thanks", "/contact/thanks"},
		{"suffix host", "https://www.example.com", "https://www.example.com.evil.com", "/contact/thanks"},
		{"userinfo", "https://www.example.com", "https://www.example.com@evil.com", "/contact/thanks"},
		{"userinfo with path", "https://www.example.com", "https://www.example.com@evil.com/thanks", "/contact/thanks"},
		{"javascript", "https://www.example.com", "javascript:alert(1)", "/contact/thanks"},
		{"data URL", "https://www.example.com", "data:text/html,<script>alert(1)</script>", "/contact/thanks"},
		{"http when only https allowed", "https://www.example.com", "http://www.example.com/thanks", "/contact/thanks"},
		{"other port", "https://www.example.com", "https://www.example.com:8443/thanks", "/contact/thanks"},
		{"backslash path", "https://www.example.com", `/\evil.com`, "/contact/thanks"},
		{"backslash host", "https://www.example.com", `https:\\evil.com`, "/contact/thanks"},
		{"relative path", "https://www.example.com", "/thanks", "/contact/thanks"},
		{"line break", "https://www.example.com", "https://www.example.com/\r\nSet-Cookie: a=b", "/contact/thanks"},
		{"nothing allowed", "", "https://www.example.com/thanks", "/contact/thanks"},
	}
	servers := map[string]*testApp{}
	for _, tt := range tests {
		if servers[tt.allowed] == nil {
			// Every row posts the same lead from one address.
			servers[tt.allowed] = newTestServer(t, withSetting("LEADBOX_ALLOWED_ORIGINS", tt.allowed),
				withRateLimit(0), withDuplicateWindow(0))
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := servers[tt.allowed]
			res := app.post(t, urlencoded, with(validFields(), map[string]any{"_next": tt.next}), nil)
			if res.status != http.StatusSeeOther {
				t.Fatalf("status %d, want 303; answer: %v", res.status, res)
			}
			if got := res.header.Get("Location"); got != tt.want {
				t.Errorf("Location %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSubmissionJSONDecoding covers JSON details: null means absent,
// non-string extras are ignored.
func TestSubmissionJSONDecoding(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	body, _ := json.Marshal(map[string]any{
		"name": "Ann", "email": "ann@example.com", "message": "Hello there",
		"phone": nil, "company": nil, "marketing_consent": nil,
		"extra": map[string]any{"nested": []int{1, 2}}, "utm_source": nil,
	})
	res := app.do(t, http.MethodPost, "/contact", "application/json", body, nil)
	if res.status != http.StatusCreated {
		t.Fatalf("status %d, want 201; answer: %v", res.status, res)
	}
	var got struct{ ID string }
	decodeJSON(t, res, &got)
	if s := app.leadByPublicID(t, got.ID); s.event.Action != models.ActionNotGiven || s.lead.Phone != "" {
		t.Errorf("stored consent %q, phone %q; want not_given and empty", s.event.Action, s.lead.Phone)
	}
}
