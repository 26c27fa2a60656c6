package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leadbox/leadbox/models"
)

func TestValidEmail(t *testing.T) {
	t.Parallel()
	long := func(n int) string { // a valid-looking address of n bytes
		local := strings.Repeat("l", 64)
		k := n - 64 - 1 - 64 - 64 - 4
		return local + "@" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", k) + ".com"
	}
	tests := []struct {
		in     string
		wantOK bool
	}{
		{"ann@example.com", true},
		{"Ann.Example+tag@Example.COM", true},
		{"a@b.co", true},
		{"o'neil@example.ie", true},
		{"user!#$%&'*+-/?=^_`{|}~@example.com", true},
		{"=?utf-8?q?=E2=80=AEmoc.elpmaxe?=@example.com", false}, // an encoded-word
		{"ann@mail.example.co.uk", true},
		{"ann@xn--bcher-kva.de", true},
		{"ann@bücher.de", true},
		{"ann@1.example.com", true},
		{long(254), true},
		{strings.Repeat("l", 64) + "@example.com", true},

		{"", false},
		{long(255), false},
		{strings.Repeat("l", 65) + "@example.com", false},
		{"ann", false},
		{"ann@", false},
		{"@example.com", false},
		{"ann@localhost", false},
		{"ann@example", false},
		{"ann@example.", false},
		{"ann@.example.com", false},
		{"ann@example..com", false},
		{"ann@-example.com", false},
		{"ann@example-.com", false},
		{"ann@example.123", false},
		{"ann@127.0.0.1", false},
		{"ann@[127.0.0.1]", false},
		{"ann@foo@example.com", false},
		{"ann@@example.com", false},
		{`"ann"@example.com`, false},
		{`"ann smith"@example.com`, false},
		{`"a@b"@example.com`, false},
		{"Ann <ann@example.com>", false},
		{"<ann@example.com>", false},
		{"ann@example.com (Ann)", false},
		{"ann(x)@example.com", false},
		{"ann@example.com, bob@example.com", false},
		{".ann@example.com", false},
		{"ann.@example.com", false},
		{"an..n@example.com", false},
		{"an n@example.com", false},
		{"ann@exa mple.com", false},
		{"ann@example.com\r\nBcc: x@evil.com", false},
		{"ann\x00@example.com", false},
		{"anné@example.com", false},
		{"ann@exam_ple.com", false},
		{"ann@example.com.", false},
	}
	for _, tt := range tests {
		got := validEmail(tt.in)
		if (got == "") != tt.wantOK {
			t.Errorf("validEmail(%q) = %q, want ok=%v", tt.in, got, tt.wantOK)
		}
	}
}

func TestValidPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		wantOK bool
	}{
		{"", true},
		{"+48 (12) 345-67.89", true},
		{strings.Repeat("9", 40), true},
		{strings.Repeat("9", 41), false},
		{"555 ext. 12", false},
		{"555/12", false},
		{"555\t12", false},
		{"٣٤٥", false},
		{"+1 555 0100 #2", false},
	}
	for _, tt := range tests {
		if got := validPhone(tt.in); (got == "") != tt.wantOK {
			t.Errorf("validPhone(%q) = %q, want ok=%v", tt.in, got, tt.wantOK)
		}
	}
}

func TestValidText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		required bool
		wantOK   bool
	}{
		{"Ann", true, true},
		{"", true, false},
		{"   ", true, false},
		{"", false, true},
		{strings.Repeat("ł", 200), true, true},
		{" " + strings.Repeat("ł", 200) + " ", true, true},
		{strings.Repeat("ł", 201), true, false},
		{"a\nb", true, false},
		{"a\tb", true, false},
		{"a\x00b", true, false},
		{"a\u0085b", true, false},
		{"a\u2028b", true, false},
		{"evil\u202egnp.exe", true, false},
		{"a\u2066b", true, false},
		{"Zoë Łukasz 山田", true, true},
		{"😀 emoji", true, true},
	}
	for _, tt := range tests {
		if got := validText(tt.in, 200, tt.required, "x"); (got == "") != tt.wantOK {
			t.Errorf("validText(%q, required=%v) = %q, want ok=%v", tt.in, tt.required, got, tt.wantOK)
		}
	}
}

func TestValidMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		wantOK bool
	}{
		{"Hello", true},
		{"line\nbreak\tand tab", true},
		{strings.Repeat("ę", 5000), true},
		{"\n\n" + strings.Repeat("ę", 5000) + "\n\t", true},
		{strings.Repeat("ę", 5001), false},
		{"", false},
		{" \n\t ", false},
		{"bell\a", false},
		{"esc\x1b[0m", false},
		{"form\ffeed", false},
		{"nul\x00", false},
		{"c1\u0090", false},
		{"line\u2028separator\u2029paragraph", true},
		{"\u202bעברית\u202c and \u202eoverride\u202c, \u2067isolate\u2069", true},
		{"replacement \ufffd character", true},
	}
	for _, tt := range tests {
		if got := validMessage(tt.in); (got == "") != tt.wantOK {
			t.Errorf("validMessage(%.40q) = %q, want ok=%v", tt.in, got, tt.wantOK)
		}
	}
}

func TestConsentGiven(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		wantGiven bool
		wantOK    bool
	}{
		{"", false, true},
		{"  ", false, true},
		{"on", true, true},
		{"true", true, true},
		{"1", true, true},
		{"yes", true, true},
		{"ON", true, true},
		{"0", false, false},
		{"false", false, false},
		{"off", false, false},
		{"no", false, false},
		{"maybe", false, false},
		{"onn", false, false},
	}
	for _, tt := range tests {
		s := submission{Consent: tt.in}
		given, ok := s.consentGiven()
		if given != tt.wantGiven || ok != tt.wantOK {
			t.Errorf("consentGiven(%q) = %v, %v; want %v, %v", tt.in, given, ok, tt.wantGiven, tt.wantOK)
		}
	}
}

func TestAllowedNext(t *testing.T) {
	t.Parallel()
	allowed := []string{"https://www.example.com", "http://localhost:3000"}
	tests := []struct {
		next, want string
	}{
		{"https://www.example.com/thanks", "https://www.example.com/thanks"},
		{"  https://www.example.com/thanks  ", "https://www.example.com/thanks"},
		{"http://localhost:3000/", "http://localhost:3000/"},
		{"http://localhost/", ""},
		{"", ""},
		{"/contact/thanks", ""},
		{"//evil.com", ""},
		{"https://www.example.com.evil.com", ""},
		{"https://www.example.com@evil.com", ""},
		{"https://user:pw@www.example.com/", ""},
		{"javascript:alert(1)", ""},
		{"JavaScript://www.example.com/%0aalert(1)", ""},
		{"http://www.example.com", ""},
		{"https://www.example.com:8443", ""},
		{`/\evil.com`, ""},
		{`https:\\evil.com`, ""},
		{"https://www.example.com/" + strings.Repeat("a", maxPageURL), ""},
		{"https://WWW.Example.COM/thanks", "https://WWW.Example.COM/thanks"},
		// strings.ToLower makes "İ" (U+0130) an "i"; a browser makes it
		// "i̇", another domain (www.xn--ibm-8dc.com for "www.İbm.com").
		{"https://www.%C4%B0bm.com/thanks", ""},
		{"https://www.İbm.com/thanks", ""},
		{"https://www.ex%61mple.com/", ""},
	}
	allowed = append(allowed, "https://www.ibm.com")
	for _, tt := range tests {
		if got := allowedNext(tt.next, allowed); got != tt.want {
			t.Errorf("allowedNext(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
	if got := allowedNext("https://www.example.com/", nil); got != "" {
		t.Errorf("allowedNext with no allowed origins = %q, want \"\"", got)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijkl", 10, "abcdefghij"},
		{"ąąąąą", 5, "ąą"}, // 2 bytes each: never half a character
		{"a\x00b\nc", 10, "abc"},
		{"a\xffb", 10, "ab"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCleanPageURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://www.example.com/pricing?x=1", "https://www.example.com/pricing?x=1"},
		{"  http://example.com  ", "http://example.com"},
		{"", ""},
		{"/relative", ""},
		{"javascript:alert(1)", ""},
		{"ftp://example.com/", ""},
		{"https://www.example.com/\x00", ""},
		{"https://" + strings.Repeat("a", maxPageURL), ""},
	}
	for _, tt := range tests {
		if got := cleanPageURL(tt.in); got != tt.want {
			t.Errorf("cleanPageURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeSubmissionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body string
		want                    error
	}{
		{"empty type", "", "name=a", errUnsupportedType},
		{"text/plain", "text/plain", "name=a", errUnsupportedType},
		{"latin-1 form", "application/x-www-form-urlencoded; charset=latin1", "name=a", errUnsupportedType},
		{"garbage type", ";;;", "name=a", errUnsupportedType},
		{"bad escape", "application/x-www-form-urlencoded", "name=%zz", errMalformedBody},
		{"multipart without boundary", "multipart/form-data", "--x--", errMalformedBody},
		{"JSON array", "application/json", "[]", errMalformedBody},
		{"JSON truncated", "application/json", `{"a":`, errMalformedBody},
		{"JSON with invalid UTF-8 outside strings", "application/json", "{\"a\":1\xff}", errMalformedBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeSubmission(tt.contentType, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Errorf("decodeSubmission error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDecodeSubmissionRepeatedKey: a field sent twice with different values
// is refused, naming the field, in a form and in JSON alike (where
// json.Unmarshal alone would keep the last value silently).
func TestDecodeSubmissionRepeatedKey(t *testing.T) {
	t.Parallel()
	const form, jsonType = "application/x-www-form-urlencoded", "application/json"
	tests := []struct {
		kind, body string
		wantBad    bool
	}{
		{form, "name=Ann&name=Ann&email=a%40example.com&message=hello", false},
		{form, "name=Ann&name=Bob&email=a%40example.com&message=hello", true},
		{jsonType, `{"name":"Ann","name":"Ann","email":"a@example.com","message":"hello"}`, false},
		{jsonType, `{"name":"Ann","name":"\u0041nn","email":"a@example.com","message":"hello"}`, false},
		{jsonType, `{"name":"Bob","email":"a@example.com","message":"hello","name":"Ann"}`, true},
		{jsonType, `{"name":"Ann","name":null,"email":"a@example.com","message":"hello"}`, true},
		{jsonType, `{"name":"Bob","na\u006de":"Ann","email":"a@example.com","message":"hello"}`, true},
		{jsonType, `{"name":"Ann","name":{"x":1},"email":"a@example.com","message":"hello"}`, true},
		// A key that is not a field is ignored, however often it comes,
		// also when a repeated field sends the body to the full check.
		{jsonType, `{"name":"Ann","x":1,"x":2,"email":"a@example.com","message":"hello"}`, false},
		{jsonType, `{"name":"Ann","name":"Ann","x":1,"x":2,"email":"a@example.com","message":"hello"}`, false},
	}
	for _, tt := range tests {
		s, err := decodeSubmission(tt.kind, []byte(tt.body))
		if err != nil {
			t.Fatalf("decodeSubmission(%q): %v", tt.body, err)
		}
		msg, bad := s.Valid()["name"]
		if bad != tt.wantBad {
			t.Errorf("%s: name refused = %v (%q), want %v", tt.body, bad, msg, tt.wantBad)
		}
		if bad && !strings.Contains(msg, "more than once") {
			t.Errorf("%s: name refused with %q, want it to say the field came more than once", tt.body, msg)
		}
		if errs := s.Valid(); !tt.wantBad && len(errs) != 0 {
			t.Errorf("%s: refused %v, want accepted", tt.body, errs)
		}
	}
}

// fuzzKinds are the content types FuzzSubmission sends. Modes 0-2 build a
// well-formed body from the field arguments; modes 3-5 send the raw extra
// argument as a body of that type.
var fuzzKinds = []string{
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=fuzzB",
	"application/json",
}

func fuzzBody(t *testing.T, mode uint8, name, email, phone, company, message, consent, extra string) (string, []byte) {
	t.Helper()
	kind := int(mode) % (2 * len(fuzzKinds))
	if kind >= len(fuzzKinds) {
		return fuzzKinds[kind-len(fuzzKinds)], []byte(extra)
	}
	fields := [][2]string{
		{"name", name}, {"email", email}, {"phone", phone}, {"company", company},
		{"message", message}, {"marketing_consent", consent},
	}
	switch kind {
	case 0:
		v := url.Values{}
		for _, f := range fields {
			v.Set(f[0], f[1])
		}
		return fuzzKinds[0], []byte(v.Encode())
	case 1:
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if err := w.SetBoundary("fuzzB"); err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			_ = w.WriteField(f[0], f[1])
		}
		_ = w.Close()
		return fuzzKinds[1], buf.Bytes()
	}
	m := map[string]any{}
	for _, f := range fields[:5] {
		m[f[0]] = f[1]
	}
	// A consent argument that is JSON (true, 1, "x", null) is sent as is,
	// anything else as a string.
	if json.Valid([]byte(consent)) {
		m["marketing_consent"] = json.RawMessage(consent)
	} else {
		m["marketing_consent"] = consent
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return fuzzKinds[2], b
}

// rawConsentValues reads the marketing_consent values of a body with the
// standard library alone, independently of decodeSubmission.
func rawConsentValues(t *testing.T, contentType string, body []byte) (values []string, isJSON bool) {
	t.Helper()
	switch {
	case strings.HasPrefix(contentType, "application/x-www-form-urlencoded"):
		v, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatalf("accepted a form body that url.ParseQuery refuses: %v", err)
		}
		return v["marketing_consent"], false
	case strings.HasPrefix(contentType, "multipart/form-data"):
		form, err := multipart.NewReader(bytes.NewReader(body), "fuzzB").ReadForm(1 << 20)
		if err != nil {
			t.Fatalf("accepted a multipart body that ReadForm refuses: %v", err)
		}
		defer form.RemoveAll()
		return form.Value["marketing_consent"], false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("accepted a JSON body that encoding/json refuses: %v", err)
	}
	if v, ok := m["marketing_consent"]; ok {
		return []string{strings.TrimSpace(string(v))}, true
	}
	return nil, true
}

// FuzzSubmission decodes and validates arbitrary submissions of every
// accepted type. It must never panic, and whatever it accepts must obey
// every rule of the contract, checked here independently of the code under
// test.
func FuzzSubmission(f *testing.F) {
	seeds := []struct {
		mode                                                 uint8
		name, email, phone, company, message, consent, extra string
	}{
		{0, "Ann", "ann@example.com", "+48 12 345", "Acme", "Hello", "on", ""},
		{1, "Ann", "ann@example.com", "", "", "Hello\r\nthere", "", ""},
		{2, "Ann", "ann@example.com", "", "", "Hello", "true", ""},
		{2, "Ann", "ann@example.com", "", "", "Hello", `"true"`, ""},
		{2, "Ann", "ann@example.com", "", "", "Hello", "1", ""},
		{0, " Ann ", "Ann <ann@example.com>", "abc", "\x00", "\x1b", "maybe", ""},
		{0, strings.Repeat("a", 201), "ann@localhost", strings.Repeat("1", 41), strings.Repeat("c", 201), strings.Repeat("m", 5001), "0", ""},
		{0, "Ann\xff", "ann@example.com", "", "", "Hi", "yes", ""},
		{0, "\u202eAnn", `"a b"@example.com`, "", "", "Hi\u2028", "", ""},
		{3, "", "", "", "", "", "", "name=Ann&email=ann%40example.com&message=Hi&marketing_consent=on&_gotcha="},
		{3, "", "", "", "", "", "", "name=Ann&name=Bob&email=ann%40example.com&message=Hi"},
		{4, "", "", "", "", "", "", "--fuzzB\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAnn\r\n--fuzzB\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nann@example.com\r\n--fuzzB\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nHi\r\n--fuzzB--\r\n"},
		{4, "", "", "", "", "", "", "--fuzzB\r\nContent-Disposition: form-data; name=\"name\"; filename=\"a.txt\"\r\n\r\nAnn\r\n--fuzzB--\r\n"},
		{5, "", "", "", "", "", "", `{"name":"Ann","email":"ann@example.com","message":"Hi","marketing_consent":true}`},
		{5, "", "", "", "", "", "", `{"name":"Ann\ud800","email":"ann@example.com","message":"Hi","marketing_consent":false}`},
		{5, "", "", "", "", "", "", "{\"name\":\"Ann\xff\",\"email\":\"ann@example.com\",\"message\":\"Hi\"}"},
		{5, "", "", "", "", "", "", `{"name":"Ann","email":"ann@example.com","message":"Hi","name":"Bob"}`},
		{5, "", "", "", "", "", "", `{"name":["Ann"],"email":{},"message":1e999}`},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.name, s.email, s.phone, s.company, s.message, s.consent, s.extra)
	}
	policy := formPolicy{doubleOptIn: true, confirmTTL: time.Hour}
	received := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, mode uint8, name, email, phone, company, message, consent, extra string) {
		ct, body := fuzzBody(t, mode, name, email, phone, company, message, consent, extra)
		sub, err := decodeSubmission(ct, body)
		if err != nil {
			if !errors.Is(err, errUnsupportedType) && !errors.Is(err, errMalformedBody) {
				t.Fatalf("decodeSubmission error %v is neither 415 nor 400", err)
			}
			return
		}
		errs := sub.Valid()
		for field := range errs {
			if _, known := sub.fields()[field]; !known {
				t.Errorf("Valid names %q, which is no field of the form", field)
			}
		}
		if errs != nil || sub.spam() {
			return
		}
		rec := sub.records(clientInfo{IP: "192.0.2.1", UserAgent: "ua"}, 1, policy, received)
		lead, ev, outbox := rec.lead, rec.consent, rec.outbox
		checkContract(t, lead)

		// Consent comes only from the allowed values.
		raw, isJSON := rawConsentValues(t, ct, body)
		wantGiven := false
		for _, v := range raw {
			if isJSON {
				switch v {
				case "true":
					wantGiven = true
				case "false", "null":
				default:
					t.Errorf("accepted JSON marketing_consent %s; only true or false are allowed", v)
				}
				continue
			}
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "on", "true", "1", "yes":
				wantGiven = true
			case "":
			default:
				t.Errorf("accepted form marketing_consent %q; only on, true, 1, yes or empty are allowed", v)
			}
		}
		if got := ev.Action == models.ActionGiven; got != wantGiven {
			t.Errorf("consent action %q for marketing_consent %q", ev.Action, raw)
		}
		if ev.Subject != strings.ToLower(lead.Email) {
			t.Errorf("consent subject %q, want the lower-cased email %q", ev.Subject, strings.ToLower(lead.Email))
		}
		wantOutbox := 1
		if wantGiven {
			wantOutbox = 2
		}
		if len(outbox) != wantOutbox {
			t.Errorf("%d outbox messages, want %d", len(outbox), wantOutbox)
		}
	})
}

// checkContract asserts the "Submission fields" rules on what would be
// stored.
func checkContract(t *testing.T, l models.Lead) {
	t.Helper()
	for _, f := range []struct{ name, v string }{
		{"name", l.Name}, {"email", l.Email}, {"phone", l.Phone}, {"company", l.Company}, {"message", l.Message},
	} {
		if !utf8.ValidString(f.v) {
			t.Errorf("%s %q is not valid UTF-8", f.name, f.v)
		}
		if f.v != strings.TrimSpace(f.v) {
			t.Errorf("%s %q is not trimmed", f.name, f.v)
		}
	}
	isControl := func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }

	if n := utf8.RuneCountInString(l.Name); n < 1 || n > 200 {
		t.Errorf("name %q has %d characters, want 1 to 200", l.Name, n)
	}
	if strings.ContainsFunc(l.Name, isControl) {
		t.Errorf("name %q contains a control character", l.Name)
	}

	if len(l.Email) > 254 {
		t.Errorf("email %q is %d bytes, want at most 254", l.Email, len(l.Email))
	}
	if a, err := mail.ParseAddress(l.Email); err != nil || a.Name != "" || a.Address != l.Email {
		t.Errorf("email %q does not parse to itself as one plain address: %v, %v", l.Email, a, err)
	}
	if strings.Count(l.Email, "@") != 1 {
		t.Errorf("email %q does not have exactly one @", l.Email)
	} else if domain := l.Email[strings.IndexByte(l.Email, '@')+1:]; !strings.Contains(domain, ".") {
		t.Errorf("email %q has a domain without a dot", l.Email)
	}
	if strings.ContainsAny(l.Email, "\"<>()[],; \\") || strings.ContainsFunc(l.Email, isControl) {
		t.Errorf("email %q has quotes, brackets, a comment, spaces or controls", l.Email)
	}

	if len(l.Phone) > 40 {
		t.Errorf("phone %q is longer than 40 characters", l.Phone)
	}
	if strings.ContainsFunc(l.Phone, func(r rune) bool { return !strings.ContainsRune("0123456789 +-().", r) }) {
		t.Errorf("phone %q has a character other than digits, spaces and +-().", l.Phone)
	}

	if n := utf8.RuneCountInString(l.Company); n > 200 {
		t.Errorf("company %q has %d characters, want at most 200", l.Company, n)
	}
	if strings.ContainsFunc(l.Company, isControl) {
		t.Errorf("company %q contains a control character", l.Company)
	}

	if n := utf8.RuneCountInString(l.Message); n < 1 || n > 5000 {
		t.Errorf("message has %d characters, want 1 to 5000", n)
	}
	if strings.ContainsFunc(l.Message, func(r rune) bool { return r != '\n' && r != '\t' && unicode.IsControl(r) }) {
		t.Errorf("message %.80q contains a control character other than line feed and tab", l.Message)
	}
}

// FuzzValidEmail: whatever validEmail accepts is one plain address that
// net/mail reads back as itself, at most 254 bytes, with a dotted domain.
func FuzzValidEmail(f *testing.F) {
	for _, s := range []string{
		"ann@example.com", "a@b.co", "Ann <ann@example.com>", `"a b"@example.com`, "ann@bücher.de",
		"a@b@c.com", "ann@localhost", "ann@example.com (x)", "ann@[1.2.3.4]", "=?utf-8?q?x?=@example.com",
		"ann@example.com\r\n", "ann@xn--80ak6aa92e.com", "ann@١٢٣.com", "ann@ex\u200dample.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validEmail(s) != "" {
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("accepted invalid UTF-8 %q", s)
		}
		if len(s) > 254 {
			t.Errorf("accepted %d bytes, want at most 254", len(s))
		}
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || a.Address != s {
			t.Errorf("accepted %q, which net/mail reads as %v, %v", s, a, err)
		}
		at := strings.IndexByte(s, '@')
		if at < 1 || strings.Count(s, "@") != 1 {
			t.Fatalf("accepted %q without exactly one @ after a local part", s)
		}
		domain := s[at+1:]
		if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
			t.Errorf("accepted %q with domain %q", s, domain)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) ||
			strings.ContainsAny(s, "\"<>()[],;:\\") {
			t.Errorf("accepted %q with a space, control, quote, bracket or comment", s)
		}
		// The person's key keeps the local part (lower-cased) and is a
		// fixed point: normalising it again changes nothing.
		key := models.NormalizeEmail(s)
		if !strings.HasPrefix(key, strings.ToLower(s[:at+1])) || models.NormalizeEmail(key) != key {
			t.Errorf("accepted %q, which normalises to %q, and that to %q", s, key, models.NormalizeEmail(key))
		}
	})
}

// FuzzRepeatedKeys: the cheap test never waves through a body in which the
// full check finds a field repeated with different values.
func FuzzRepeatedKeys(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Ann","email":"a@example.com","message":"hello"}`,
		`{"name":"Bob","name":"Ann"}`,
		`{"name":"Bob","na\u006de":"Ann"}`,
		`{"message":"say \"name\"","name":"x"}`,
		`{"name":"Ann","x":{"name":"Bob"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var raw map[string]json.RawMessage
		if json.Unmarshal(body, &raw) != nil || raw == nil {
			return
		}
		var s submission
		fields := s.fields()
		if repeated := repeatedKeys(body, fields); len(repeated) > 0 && !mayRepeatKeys(body, raw, fields) {
			t.Errorf("%s: %v repeated, but the cheap test says no key can repeat", body, repeated)
		}
	})
}
