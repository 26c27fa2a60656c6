package handlers

import (
	"bufio"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/internal/testlog"
	"github.com/leadbox/leadbox/models"
)

// refusingChecker is a bearerChecker that must not be reached.
type refusingChecker struct{ t *testing.T }

func (r refusingChecker) Bearer(context.Context, string) (access.Principal, error) {
	r.t.Error("apiAuth checked a token for a route it has no rights entry for")
	return access.Principal{Name: "x", Role: models.RoleAdmin}, nil
}

// TestAPIAuthFailsClosed: a route registered in the API group without an
// entry in the rights table is refused, even to an admin, with a log line
// that names it.
func TestAPIAuthFailsClosed(t *testing.T) {
	gin.SetMode(gin.TestMode)
	logs := &testlog.Buffer{}
	r := gin.New()
	api := r.Group(apiPrefix, apiAuth(refusingChecker{t}, apiRights(), slog.New(slog.NewJSONHandler(logs, nil))))
	api.GET("/forgotten", func(c *gin.Context) { c.String(http.StatusOK, "personal data") })

	req := httptest.NewRequest(http.MethodGet, apiPrefix+"/forgotten", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 40))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "personal data") {
		t.Errorf("got %d %s, want a 500 without the handler's answer", w.Code, w.Body)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if !strings.Contains(logs.String(), "GET /api/v1/forgotten has no entry in the rights table") {
		t.Errorf("the log does not name the route:\n%s", logs)
	}
}

// TestCursor: a cursor opens only with the secret and the scope it was
// made with, and any changed byte is refused.
func TestCursor(t *testing.T) {
	secret, other := []byte("secret one"), []byte("secret two")
	scope := leadScope(models.LeadFilter{Status: models.LeadNew})
	c := makeCursor(secret, scope, 1234)
	if id, err := openCursor(secret, scope, c); err != nil || id != 1234 {
		t.Fatalf("openCursor = %d, %v; want 1234", id, err)
	}
	if strings.Contains(c, "1234") || len(c) != 55 {
		t.Errorf("cursor %q: want 55 opaque characters", c)
	}
	for name, err := range map[string]error{
		"other secret": func() error { _, err := openCursor(other, scope, c); return err }(),
		"other filter": func() error { _, err := openCursor(secret, leadScope(models.LeadFilter{}), c); return err }(),
		"audit log":    func() error { _, err := openCursor(secret, auditScope(), c); return err }(),
		"empty":        func() error { _, err := openCursor(secret, scope, ""); return err }(),
		"padded":       func() error { _, err := openCursor(secret, scope, c+"="); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: a cursor was accepted", name)
		}
	}
	raw, _ := base64.RawURLEncoding.DecodeString(c)
	for i := range raw {
		for bit := range 8 {
			b := slices.Clone(raw)
			b[i] ^= 1 << bit
			if id, err := openCursor(secret, scope, base64.RawURLEncoding.EncodeToString(b)); err == nil {
				t.Fatalf("byte %d bit %d flipped: accepted as %d", i, bit, id)
			}
		}
	}
	if a, b := makeCursor(secret, scope, 1), makeCursor(secret, scope, 2); a[1:12] == b[1:12] {
		t.Errorf("cursors of rows 1 and 2 share their hidden id part: %s, %s", a, b)
	}
}

// TestCSVCell: the cells of both downloads, the API's and the inbox's:
// formula-like cells defused, RFC 4180 quoting, line breaks kept as they
// are.
func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"Ann":          "Ann",
		"=1+1":         "'=1+1",
		"+48 12":       "'+48 12",
		"-2":           "'-2",
		"@SUM(A1)":     "'@SUM(A1)",
		"\tx":          "'\tx",
		"\rx":          "\"'\rx\"",
		"a=b":          "a=b",
		" =1":          " =1",
		"'already":     "'already",
		"\uff1dfull":   "\uff1dfull",
		"a,b":          `"a,b"`,
		`say "hi"`:     `"say ""hi"""`,
		"=\"x\",y":     `"'=""x"",y"`,
		"one\ntwo":     "\"one\ntwo\"",
		"—dash (long)": "—dash (long)",
	} {
		var b strings.Builder
		w := bufio.NewWriter(&b)
		writeCSVCell(w, in)
		_ = w.Flush()
		if got := b.String(); got != want {
			t.Errorf("writeCSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
		ok     bool
	}{
		{nil, "", false},
		{[]string{"Bearer abc"}, "abc", true},
		{[]string{"bearer abc"}, "abc", true},
		{[]string{"BEARER  abc"}, "abc", true},
		{[]string{"Bearer"}, "", false},
		{[]string{"Bearer "}, "", false},
		{[]string{"Bearer a b"}, "", false},
		{[]string{"Bearer a\tb"}, "", false},
		{[]string{"Basic abc"}, "", false},
		{[]string{"Bearerabc"}, "", false},
		{[]string{"Bearer abc", "Bearer abc"}, "", false},
	} {
		h := http.Header{"Authorization": tc.values}
		if got, ok := bearerToken(h); got != tc.want || ok != tc.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.values, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzLeadQuery: the list's query parser never panics, and returns either
// a query within bounds or a message for each bad parameter it names;
// never a row id it did not sign itself.
func FuzzLeadQuery(f *testing.F) {
	secret := []byte("fuzz secret")
	valid := makeCursor(secret, leadScope(models.LeadFilter{}), 42)
	for _, s := range []string{
		"", "limit=0", "limit=501", "limit=50", "since=2026-12-01", "until=2026-12-01T10:00:00Z",
		"since=2026-12-01T10:00:00+02:00", "since=2026-12-01T10:00:00%2B02:00", "cursor=" + valid,
		"cursor=" + valid + "&status=new", "status=new&status=won", "q=%ff", "q=ann%40example.com",
		"since=2026-12-02&until=2026-12-01", "spam=true&form=contact&marketing=given", "%zz=1&limit=%zz",
		"limit=1&cursor=" + valid[:20], "form=a.b-c_d&unknown=1",
	} {
		f.Add(s)
	}
	params := append(slices.Clone(filterParams), pageParams...)
	f.Fuzz(func(t *testing.T, raw string) {
		q, errs := parseLeadQuery(raw, secret)
		if errs != nil {
			if len(errs) == 0 || q != (leadQuery{}) {
				t.Fatalf("%q: errors %v with query %+v", raw, errs, q)
			}
			for k, msg := range errs {
				if !slices.Contains(params, k) || msg == "" {
					t.Fatalf("%q: error %q: %q names no parameter", raw, k, msg)
				}
			}
		} else {
			f := q.filter
			switch {
			case q.limit < 1 || q.limit > maxLimit:
				t.Fatalf("%q: limit %d", raw, q.limit)
			case q.before != 0 && q.before != 42:
				t.Fatalf("%q: a cursor for row %d that was never made", raw, q.before)
			case f.Status != "" && !models.ValidLeadStatus(f.Status):
				t.Fatalf("%q: status %q", raw, f.Status)
			case f.Marketing != "" && !slices.Contains(models.MarketingStates(), f.Marketing):
				t.Fatalf("%q: marketing %q", raw, f.Marketing)
			case !utf8.ValidString(f.Query) || utf8.RuneCountInString(f.Query) > maxSearch:
				t.Fatalf("%q: q %q", raw, f.Query)
			case !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since):
				t.Fatalf("%q: until %v not after since %v", raw, f.Until, f.Since)
			}
		}
		if _, errs := parseExportQuery(raw); errs != nil {
			for k := range errs {
				if !slices.Contains(filterParams, k) {
					t.Fatalf("%q: leads.csv error names %q", raw, k)
				}
			}
		}
		if a, errs := parseAuditQuery(raw, secret); errs == nil && (a.limit < 1 || a.limit > maxLimit || a.before != 0) {
			t.Fatalf("%q: audit query %+v", raw, a)
		}
	})
}
