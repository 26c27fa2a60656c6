package handlers

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leadbox/leadbox/models"
)

// Bounds of the list parameters.
const (
	defaultLimit = 50
	maxLimit     = 500
	// maxSearch bounds q: a search term longer than any name or company
	// can only be part of a message, and a long LIKE pattern costs the
	// database a scan of every lead anyway.
	maxSearch = 200
	// maxFormKey bounds form; keys are short words (see the forms file).
	maxFormKey = 64
)

// The parameters of the lead list; leads.csv takes the filter ones.
var (
	filterParams = []string{"q", "status", "marketing", "since", "until", "form", "spam"}
	pageParams   = []string{"limit", "cursor"}
)

// leadQuery is a valid GET /api/v1/leads request.
type leadQuery struct {
	filter models.LeadFilter
	limit  int
	// before is the row id of the previous page's last lead, 0 for the
	// first page.
	before int64
}

// queryParams picks the known parameters out of a raw query string. It
// splits the query itself rather than trusting url.ParseQuery, which drops
// a badly encoded pair without saying which: here a known parameter that
// is badly encoded, or given twice, is an error naming it. Unknown
// parameters are ignored, as the contract says. An empty value counts as
// absent, as an empty field of a search form means "any".
func queryParams(raw string, known []string) (map[string]string, map[string]string) {
	params, errs := map[string]string{}, map[string]string{}
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil || !slices.Contains(known, key) {
			continue
		}
		if seen[key] {
			errs[key] = "Give it once."
			continue
		}
		seen[key] = true
		val, err := url.QueryUnescape(v)
		if err != nil {
			errs[key] = "Is not properly percent-encoded."
			continue
		}
		if val != "" {
			params[key] = val
		}
	}
	return params, errs
}

// parseLeadQuery reads the list's parameters from a raw query. secret is
// the cursor secret. It returns the query, or a message per bad parameter.
func parseLeadQuery(raw string, secret []byte) (leadQuery, map[string]string) {
	p, errs := queryParams(raw, append(slices.Clone(filterParams), pageParams...))
	q := leadQuery{filter: parseLeadFilter(p, errs)}
	q.limit = parseLimit(p, errs)
	if _, bad := errs["cursor"]; !bad && p["cursor"] != "" && !hasFilterErrors(errs) {
		id, err := openCursor(secret, leadScope(q.filter), p["cursor"])
		if err != nil {
			errs["cursor"] = "Is not a cursor of this list with these filters; start again without it."
		}
		q.before = id
	}
	if len(errs) > 0 {
		return leadQuery{}, errs
	}
	return q, nil
}

// hasFilterErrors reports a bad filter parameter: a cursor cannot be
// checked against a filter that could not be read.
func hasFilterErrors(errs map[string]string) bool {
	for _, k := range filterParams {
		if _, bad := errs[k]; bad {
			return true
		}
	}
	return false
}

// parseExportQuery reads leads.csv's parameters: the list's filters.
func parseExportQuery(raw string) (models.LeadFilter, map[string]string) {
	p, errs := queryParams(raw, filterParams)
	f := parseLeadFilter(p, errs)
	if len(errs) > 0 {
		return models.LeadFilter{}, errs
	}
	return f, nil
}

// auditQuery is a valid GET /api/v1/audit request.
type auditQuery struct {
	limit  int
	before int64
}

// auditScope is the one listing of the audit log (it takes no filter).
func auditScope() []byte { return scopeOf("audit") }

// parseAuditQuery reads the audit log's parameters, limit and cursor.
func parseAuditQuery(raw string, secret []byte) (auditQuery, map[string]string) {
	p, errs := queryParams(raw, pageParams)
	q := auditQuery{limit: parseLimit(p, errs)}
	if _, bad := errs["cursor"]; !bad && p["cursor"] != "" {
		id, err := openCursor(secret, auditScope(), p["cursor"])
		if err != nil {
			errs["cursor"] = "Is not a cursor of the audit log; start again without it."
		}
		q.before = id
	}
	if len(errs) > 0 {
		return auditQuery{}, errs
	}
	return q, nil
}

// parseLimit reads limit, 1 to maxLimit, defaultLimit when absent.
func parseLimit(p map[string]string, errs map[string]string) int {
	s, ok := p["limit"]
	if !ok {
		return defaultLimit
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		errs["limit"] = fmt.Sprintf("Must be a whole number from 1 to %d.", maxLimit)
		return 0
	}
	return n
}

// parseLeadFilter reads the filter parameters, adding a message to errs
// for each bad one.
func parseLeadFilter(p map[string]string, errs map[string]string) models.LeadFilter {
	var f models.LeadFilter
	if q, ok := p["q"]; ok {
		q = strings.TrimSpace(q)
		switch {
		case !utf8.ValidString(q):
			errs["q"] = "Is not valid UTF-8 text."
		case utf8.RuneCountInString(q) > maxSearch:
			errs["q"] = fmt.Sprintf("Must be at most %d characters.", maxSearch)
		case strings.ContainsFunc(q, isForbiddenInLine):
			errs["q"] = "Must not contain line breaks or control characters."
		default:
			f.Query = q
		}
	}
	oneOf := func(name string, allowed []string) string {
		v, ok := p[name]
		if ok && !slices.Contains(allowed, v) {
			errs[name] = "Must be one of " + strings.Join(allowed, ", ") + "."
			return ""
		}
		return v
	}
	f.Status = oneOf("status", models.LeadStatuses())
	f.Marketing = oneOf("marketing", models.MarketingStates())
	f.Spam = oneOf("spam", []string{"true", "false"}) == "true"
	if form, ok := p["form"]; ok {
		if validFormKey(form) {
			f.Form = form
		} else {
			errs["form"] = fmt.Sprintf("Must be a form key: up to %d letters, digits, '-', '_' or '.'.", maxFormKey)
		}
	}
	var ok bool
	if s, given := p["since"]; given {
		if f.Since, ok = parseBound(s, false); !ok {
			errs["since"] = badBound
		}
	}
	if s, given := p["until"]; given {
		if f.Until, ok = parseBound(s, true); !ok {
			errs["until"] = badBound
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs["until"] = "Must be after since."
	}
	return f
}

// badBound is the message for a since or until that cannot be read. A +
// in a query is a space, which is what usually breaks an offset.
const badBound = "Must be a date (2026-12-01) or an RFC 3339 time (2026-12-01T09:30:00Z; write a + as %2B)."

// parseBound reads since or until: a date (2026-12-01, a day in UTC) or
// an RFC 3339 time. As until, a date means the end of that day, so that
// since=2026-12-01&until=2026-12-31 is the whole of December.
func parseBound(s string, until bool) (time.Time, bool) {
	if len(s) == len(time.DateOnly) {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return time.Time{}, false
		}
		if until {
			d = d.AddDate(0, 0, 1)
		}
		return d, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// validFormKey accepts what can be a form's key.
func validFormKey(s string) bool {
	if s == "" || len(s) > maxFormKey {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// boundString writes a filter's time the same way every time, for the
// cursor's scope and the audit target.
func boundString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// leadScope is the cursor scope of the lead list with filter f: a cursor
// works only with the filter it was made for.
func leadScope(f models.LeadFilter) []byte {
	return scopeOf("leads", f.Query, f.Status, f.Marketing, boundString(f.Since), boundString(f.Until),
		f.Form, strconv.FormatBool(f.Spam))
}

// filterShape describes a filter for the audit log without personal data:
// the search term may be a name or an address, so only its presence is
// recorded ("q"); every other value is one of a fixed set, a time, or a
// form key.
func filterShape(f models.LeadFilter) []string {
	var s []string
	add := func(k, v string) {
		if v != "" {
			s = append(s, k+"="+v)
		}
	}
	add("form", f.Form)
	add("marketing", f.Marketing)
	if f.Query != "" {
		s = append(s, "q")
	}
	add("since", boundString(f.Since))
	if f.Spam {
		s = append(s, "spam=true")
	}
	add("status", f.Status)
	add("until", boundString(f.Until))
	return s
}
