package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field limits from the contract ("Submission fields").
const (
	maxName        = 200
	maxEmailBytes  = 254
	maxEmailLocal  = 64
	maxPhone       = 40
	maxCompany     = 200
	maxMessage     = 5000
	maxAttribution = 200  // each utm_* value
	maxPageURL     = 2048 // the page the form was on
)

// Errors that decide the status code of a body that cannot be read as a
// submission at all.
var (
	errUnsupportedType = errors.New("unsupported content type")
	errMalformedBody   = errors.New("malformed body")
)

// bodyError says, in words fit for the visitor, why a body cannot be read
// as a submission; the parser's own message stays out of the answer.
type bodyError struct {
	kind error // errUnsupportedType or errMalformedBody
	msg  string
}

func (e *bodyError) Error() string { return e.msg }
func (e *bodyError) Unwrap() error { return e.kind }

func malformed(msg string) error { return &bodyError{kind: errMalformedBody, msg: msg} }

// unreadableForm is the answer to form data that does not parse.
const unreadableForm = "The form data could not be read. Please send the form again."

// submission is a contact-form post as the visitor sent it. Values are kept
// as typed so that a rejected form is shown again exactly as it was filled;
// the lead method returns the cleaned values.
type submission struct {
	Name, Email, Phone, Company, Message string
	// Consent is the raw checkbox value (form) or "true"/"false" (JSON).
	Consent string
	// Attribution: the page the form was on and the UTM parameters.
	Page                                                   string
	UTMSource, UTMMedium, UTMCampaign, UTMTerm, UTMContent string
	Gotcha                                                 string // honeypot
	Next                                                   string // redirect target after success
	Stamp                                                  string // the hosted form's signed render time (_ts)
	Wording                                                string // the consent wording it showed, signed (_tw)
	// Answers of CAPTCHA widgets, in the fields the providers' widgets use.
	Turnstile, HCaptcha string

	// decodeErrs holds per-field problems found while decoding (a JSON
	// number where text belongs, invalid UTF-8, a repeated key).
	decodeErrs map[string]string
}

// fields maps each accepted key to where its value goes. Anything else in a
// body is ignored and never stored.
func (s *submission) fields() map[string]*string {
	return map[string]*string{
		"name": &s.Name, "email": &s.Email, "phone": &s.Phone, "company": &s.Company,
		"message": &s.Message, "marketing_consent": &s.Consent, "page": &s.Page,
		"utm_source": &s.UTMSource, "utm_medium": &s.UTMMedium, "utm_campaign": &s.UTMCampaign,
		"utm_term": &s.UTMTerm, "utm_content": &s.UTMContent,
		"_gotcha": &s.Gotcha, "_next": &s.Next, "_ts": &s.Stamp, "_tw": &s.Wording,
		"cf-turnstile-response": &s.Turnstile, "h-captcha-response": &s.HCaptcha,
	}
}

// fieldError records a problem with a field the visitor can see and fix.
// Hidden fields (attribution, _next, the honeypot) are never an error: a
// bad value there is dropped later, because the visitor could not fix it
// and attribution never costs a lead.
func (s *submission) fieldError(field, msg string) {
	if !slices.Contains(formOrder, field) {
		return
	}
	if s.decodeErrs == nil {
		s.decodeErrs = make(map[string]string)
	}
	if _, ok := s.decodeErrs[field]; !ok {
		s.decodeErrs[field] = msg
	}
}

// decodeSubmission reads a body of any accepted type into a submission.
// It fails with errUnsupportedType (415) or errMalformedBody (400); problems
// with single fields are recorded for Valid to report (422).
func decodeSubmission(contentType string, body []byte) (submission, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return submission{}, fmt.Errorf("%w: %q", errUnsupportedType, contentType)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return submission{}, fmt.Errorf("%w: charset %q (only UTF-8 is accepted)", errUnsupportedType, cs)
	}
	var s submission
	switch mediaType {
	case "application/x-www-form-urlencoded":
		// The form encoding (WHATWG URL §5) splits on "&" only; Go refuses
		// a raw ";" (it once split on it), which would fail "9-5; thanks"
		// typed into a hand-built body. Browsers escape it themselves.
		values, err := url.ParseQuery(strings.ReplaceAll(string(body), ";", "%3B"))
		if err != nil {
			return submission{}, malformed(unreadableForm)
		}
		s.setValues(values)
	case "multipart/form-data":
		values, err := readMultipart(body, params["boundary"])
		if err != nil {
			return submission{}, malformed(unreadableForm)
		}
		s.setValues(values)
	case "application/json":
		if err := s.setJSON(body); err != nil {
			return submission{}, err
		}
	default:
		return submission{}, fmt.Errorf("%w: %q", errUnsupportedType, mediaType)
	}
	return s, nil
}

// setValues fills the submission from form values. A key repeated with
// different values is an error rather than a guess about which one counts.
func (s *submission) setValues(values url.Values) {
	for key, dst := range s.fields() {
		vs := values[key]
		if len(vs) == 0 {
			continue
		}
		*dst = vs[0]
		for _, v := range vs[1:] {
			if v != vs[0] {
				s.fieldError(key, "Was sent more than once with different values.")
			}
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				s.fieldError(key, "Is not valid UTF-8 text.")
				*dst = strings.ToValidUTF8(vs[0], "\uFFFD")
			}
		}
	}
}

// readMultipart returns the text fields of a multipart body; file parts are
// read past and dropped (nothing in a lead is a file).
func readMultipart(body []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, errors.New("multipart body without a boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	values := url.Values{}
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return values, nil
		}
		if err != nil {
			return nil, err
		}
		name := p.FormName()
		if name == "" || p.FileName() != "" {
			continue
		}
		// The whole body is at most 64 KiB, so reading a part is bounded.
		v, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		values.Add(name, string(v))
	}
}

// setJSON decodes a JSON object key by key, so that a value of the wrong
// type or with invalid UTF-8 is reported against its field.
func (s *submission) setJSON(body []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		if !utf8.Valid(body) {
			// encoding/json accepts invalid UTF-8 inside strings and would
			// only fail here for other reasons; say what is actually wrong.
			return malformed("The body is not valid UTF-8.")
		}
		return malformed("The body must be a JSON object with the form's fields, such as {\"name\": \"...\"}.")
	}
	if raw == nil {
		return malformed("The body must be a JSON object with the form's fields, not null.")
	}
	fields := s.fields()
	// As with a form, a key repeated with different values is an error
	// rather than a guess (json.Unmarshal keeps the last one silently).
	if mayRepeatKeys(body, raw, fields) {
		for _, key := range repeatedKeys(body, fields) {
			s.fieldError(key, "Was sent more than once with different values.")
		}
	}
	for key, dst := range fields {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			continue
		}
		if !utf8.Valid(v) {
			// json.Unmarshal would silently replace the bad bytes.
			s.fieldError(key, "Is not valid UTF-8 text.")
			continue
		}
		if key == "marketing_consent" {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				s.fieldError(key, "Must be true or false.")
				continue
			}
			if b {
				*dst = "true"
			}
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			s.fieldError(key, "Must be a JSON string.")
		}
	}
	return nil
}

// mayRepeatKeys is the cheap test before repeatedKeys, which decodes the
// body again: it is false only when no field's key can occur twice. A key
// can be spelled with \u escapes, so any \u sends the body to the full
// check; otherwise a key occurring twice contains its quoted name twice.
func mayRepeatKeys(body []byte, raw map[string]json.RawMessage, fields map[string]*string) bool {
	if bytes.Contains(body, []byte(`\u`)) {
		return true
	}
	var buf [32]byte
	for key := range raw {
		if _, known := fields[key]; known {
			quoted := append(append(append(buf[:0], '"'), key...), '"')
			if bytes.Count(body, quoted) > 1 {
				return true
			}
		}
	}
	return false
}

// repeatedKeys returns the keys of fields that appear more than once, with
// different values, at the top level of body, a JSON object that
// json.Unmarshal has accepted.
func repeatedKeys(body []byte, fields map[string]*string) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the opening brace
		return nil
	}
	seen := map[string]any{}
	var repeated []string
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		var v any
		if err != nil || !isKey || dec.Decode(&v) != nil {
			return repeated
		}
		if _, known := fields[key]; !known {
			continue
		}
		prev, again := seen[key]
		if !again {
			seen[key] = v
			continue
		}
		if !sameScalar(prev, v) && !slices.Contains(repeated, key) {
			repeated = append(repeated, key)
		}
	}
	return repeated
}

// sameScalar reports whether two decoded JSON values are the same string,
// number, boolean or null. Objects and arrays never are (no field takes
// them anyway).
func sameScalar(a, b any) bool {
	switch a.(type) {
	case string, float64, bool, nil:
		return a == b
	}
	return false
}

// consentGiven interprets the checkbox. ok is false for a value that is
// neither a yes nor an absent box: a typo must not become consent.
func (s *submission) consentGiven() (given, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s.Consent)) {
	case "":
		return false, true
	case "on", "true", "1", "yes":
		return true, true
	}
	return false, false
}

// captchaAnswer returns what the widget posted in field.
func (s *submission) captchaAnswer(field string) string {
	if field == "h-captcha-response" {
		return s.HCaptcha
	}
	return s.Turnstile
}

// spam reports whether the honeypot was filled in.
func (s *submission) spam() bool { return strings.TrimSpace(s.Gotcha) != "" }

// Valid checks every field against the contract's rules and returns a
// readable message per bad field, or nil when the submission is valid.
func (s *submission) Valid() map[string]string {
	errs := make(map[string]string)
	for k, v := range s.decodeErrs {
		errs[k] = v
	}
	check := func(field, msg string) {
		if _, seen := errs[field]; !seen && msg != "" {
			errs[field] = msg
		}
	}
	check("name", validText(s.Name, maxName, true, "your name"))
	check("email", validEmail(strings.TrimSpace(s.Email)))
	check("phone", validPhone(strings.TrimSpace(s.Phone)))
	check("company", validText(s.Company, maxCompany, false, ""))
	check("message", validMessage(normalizeNewlines(s.Message)))
	if _, ok := s.consentGiven(); !ok {
		check("marketing_consent", "Must be ticked (on, true, 1 or yes) or left empty.")
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// validText checks a one-line text field.
func validText(v string, max int, required bool, what string) string {
	v = strings.TrimSpace(v)
	switch n := utf8.RuneCountInString(v); {
	case n == 0 && required:
		return "Please enter " + what + "."
	case n > max:
		return fmt.Sprintf("Must be at most %d characters (this is %d).", max, n)
	}
	if strings.ContainsFunc(v, isForbiddenInLine) {
		return "Must not contain line breaks or control characters."
	}
	return ""
}

func validMessage(v string) string {
	v = strings.TrimSpace(v)
	switch n := utf8.RuneCountInString(v); {
	case n == 0:
		return "Please enter a message."
	case n > maxMessage:
		return fmt.Sprintf("Must be at most %d characters (this is %d).", maxMessage, n)
	}
	if strings.ContainsFunc(v, isForbiddenInMessage) {
		return "Must not contain control characters."
	}
	return ""
}

// isForbiddenInMessage reports the characters a message must not contain:
// control characters other than line breaks and tabs. Unlike a one-line
// field, a message may hold the Unicode line and paragraph separators and
// the bidirectional marks that right-to-left text pasted from a word
// processor carries: they stay inside the message's own paragraphs.
func isForbiddenInMessage(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\t'
}

func validPhone(v string) string {
	if utf8.RuneCountInString(v) > maxPhone {
		return fmt.Sprintf("Must be at most %d characters.", maxPhone)
	}
	for _, r := range v {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune(" +-().", r) {
			return "May contain only digits, spaces and + - ( ) ."
		}
	}
	return ""
}

// isForbiddenInLine reports characters that must not reach a page, a header
// or a log from a one-line field: C0/C1 controls and DEL, the Unicode line
// and paragraph separators, and the bidirectional overrides and isolates
// that can make a name display as something else.
func isForbiddenInLine(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') ||
		r == utf8.RuneError
}

// validEmail checks for one plain address (no display name, no comments,
// no quoted local part) with a dotted domain, as the contract asks, and
// returns why it is not one.
func validEmail(v string) string {
	const plain = "Please enter one email address, like name@example.com."
	switch {
	case v == "":
		return "Please enter your email address."
	case len(v) > maxEmailBytes:
		return fmt.Sprintf("Must be at most %d characters.", maxEmailBytes)
	}
	at := strings.LastIndexByte(v, '@')
	if at < 0 || strings.Count(v, "@") != 1 {
		return plain
	}
	local, domain := v[:at], v[at+1:]
	if local == "" || len(local) > maxEmailLocal || !validLocalPart(local) {
		return plain
	}
	if !validDomain(domain) {
		return "The part after @ must be a domain like example.com."
	}
	// The address must be exactly what net/mail understands, so that what
	// we store is what go-mail will put in headers.
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return plain
	}
	return ""
}

// validLocalPart allows the RFC 5322 dot-atom in ASCII: letters, digits and
// !#$%&'*+-/=?^_`{|}~, with single dots between; but not "=?", which mail
// clients would decode in To and Reply-To as an RFC 2047 encoded-word
// (hiding a bidi override, say) and no real mailbox uses.
func validLocalPart(s string) bool {
	if s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") || strings.Contains(s, "=?") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validDomain wants at least two labels of letters (any script, for
// internationalised domains), digits and inner hyphens, and a top-level
// label that is not all digits.
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || utf8.RuneCountInString(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.ContainsFunc(tld, unicode.IsLetter)
}

// normalizeNewlines turns CRLF and lone CR into LF, so a message keeps its
// line breaks whatever the browser sent.
func normalizeNewlines(s string) string {
	if !strings.ContainsRune(s, '\r') {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// cleanAttribution returns an attribution value fit to store, or "" for one
// that is not: attribution is best effort and never a reason to refuse a
// lead.
func cleanAttribution(v string, max int) string {
	v = strings.TrimSpace(v)
	if v == "" || utf8.RuneCountInString(v) > max || !utf8.ValidString(v) || strings.ContainsFunc(v, isForbiddenInLine) {
		return ""
	}
	return v
}

// cleanPageURL keeps an absolute http(s) URL and drops anything else.
func cleanPageURL(v string) string {
	v = cleanAttribution(v, maxPageURL)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}
