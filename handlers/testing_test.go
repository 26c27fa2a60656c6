package handlers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

func TestMain(m *testing.M) {
	// Gin's debug mode prints every route of every test server.
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// testStore is the storage engine the handlers run on in these tests.
type testStore = sqlite.Store

// openStore opens (creating it if need be) the SQLite database at path and
// closes it when the test ends. It is the one place these tests create a
// store, so that they follow the engine wherever it moves.
func openStore(t testing.TB, path string) *testStore {
	t.Helper()
	store, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open the store at %s: %v", path, err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// testSetup is how a test server differs from a production one; the zero
// value differs in nothing but its new, temporary database.
type testSetup struct {
	env   map[string]string               // LEADBOX_* settings
	now   func() time.Time                // the handlers' clock; nil: the real one
	log   *slog.Logger                    // nil: discarded
	store func(*testStore) handlers.Store // what the handlers see of the store; nil: all of it

	metrics     handlers.Metrics // nil: none
	metricsPage http.Handler     // what /metrics serves; nil: nothing
}

// testOption is one difference from production that a test asks for.
type testOption func(*testSetup)

// withSetting sets one LEADBOX_* variable.
func withSetting(name, value string) testOption {
	return func(s *testSetup) { s.env[name] = value }
}

// withSettings sets LEADBOX_* variables.
func withSettings(env map[string]string) testOption {
	return func(s *testSetup) { maps.Copy(s.env, env) }
}

// withRateLimit sets the accepted submissions per client per minute; 0
// turns the limit off, for tests that post more than a visitor would.
func withRateLimit(perMinute int) testOption {
	return withSetting("LEADBOX_RATE_LIMIT", strconv.Itoa(perMinute))
}

// withTimeTrap sets how long a person needs to fill in the hosted form; 0
// turns the time trap off, for tests that post it as fast as a bot.
func withTimeTrap(minFillTime time.Duration) testOption {
	return withSetting("LEADBOX_MIN_FILL_TIME", minFillTime.String())
}

// withDuplicateWindow sets how long a repeated message is answered without
// being stored again; 0 turns duplicate detection off, for tests that post
// the same lead twice and want two.
func withDuplicateWindow(d time.Duration) testOption {
	return withSetting("LEADBOX_DUPLICATE_WINDOW", d.String())
}

// withCaptcha turns on the Turnstile check, verified at verifyURL.
func withCaptcha(siteKey, secret, verifyURL string) testOption {
	return withSettings(map[string]string{
		"LEADBOX_CAPTCHA": "turnstile", "LEADBOX_CAPTCHA_SITE_KEY": siteKey,
		"LEADBOX_CAPTCHA_SECRET": secret, "LEADBOX_CAPTCHA_VERIFY_URL": verifyURL,
	})
}

// withDatabase puts the server on the SQLite file at path, to share it
// between two servers.
func withDatabase(path string) testOption {
	return withSetting("LEADBOX_DATABASE", path)
}

// withClock replaces the handlers' clock.
func withClock(now func() time.Time) testOption {
	return func(s *testSetup) { s.now = now }
}

// withLog gives the handlers a logger.
func withLog(log *slog.Logger) testOption {
	return func(s *testSetup) { s.log = log }
}

// withStore shows the handlers wrap(store) instead of the store itself, to
// make it fail.
func withStore(wrap func(*testStore) handlers.Store) testOption {
	return func(s *testSetup) { s.store = wrap }
}

// withMetrics gives the handlers m to count with, and page to serve at
// /metrics.
func withMetrics(m handlers.Metrics, page http.Handler) testOption {
	return func(s *testSetup) { s.metrics, s.metricsPage = m, page }
}

// singleUseVerifier is a siteverify fake that, as Turnstile and hCaptcha
// do, accepts each answer once: a second use fails with
// timeout-or-duplicate. It counts its calls.
func singleUseVerifier(t *testing.T) (*httptest.Server, func() int) {
	t.Helper()
	var mu sync.Mutex
	used, calls := map[string]bool{}, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		answer := r.PostFormValue("response")
		switch {
		case !strings.HasPrefix(answer, "good-"):
			fmt.Fprint(w, `{"success":false,"error-codes":["invalid-input-response"]}`)
		case used[answer]:
			fmt.Fprint(w, `{"success":false,"error-codes":["timeout-or-duplicate"]}`)
		default:
			used[answer] = true
			fmt.Fprint(w, `{"success":true,"error-codes":[],"hostname":"localhost"}`) // LEADBOX_BASE_URL's host
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return calls }
}

// testApp is one running Leadbox over a real SQLite file.
type testApp struct {
	srv     *httptest.Server
	handler http.Handler
	store   *testStore
	cfg     config.Config
	dbPath  string
	// notified counts calls of Deps.Notify (the mail sender's wake-up).
	notified atomic.Int64
	// spam counts dropped submissions by reason (Deps.Spam).
	spam spamCounter
	// client does not follow redirects, so tests see the 303 itself.
	client *http.Client
	// privacyKey signs the privacy-page links, as the mailer's does.
	privacyKey []byte
}

// newTestServer starts the real router, as `leadbox serve` builds it, over
// a new SQLite file in a temp dir. Every setting is production's default
// unless an option says otherwise.
func newTestServer(t testing.TB, opts ...testOption) *testApp {
	t.Helper()
	ctx := context.Background()
	setup := testSetup{env: map[string]string{}}
	for _, o := range opts {
		o(&setup)
	}
	dbPath := setup.env["LEADBOX_DATABASE"]
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "leads.db")
	}
	cfg, err := config.Load(func(k string) string { return setup.env[k] })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	store := openStore(t, dbPath)
	ct, err := store.ConsentTextVersion(ctx, cfg.ConsentText)
	if err != nil {
		t.Fatalf("ConsentTextVersion: %v", err)
	}
	// As `leadbox serve` does: instances on one database share the key.
	formKey, err := store.Secret(ctx, "form_stamp")
	if err != nil {
		t.Fatalf("Secret: %v", err)
	}
	privacyKey, err := store.Secret(ctx, models.PrivacyLinkSecret)
	if err != nil {
		t.Fatalf("Secret: %v", err)
	}
	var seen handlers.Store = store
	if setup.store != nil {
		seen = setup.store(store)
	}
	app := &testApp{store: store, cfg: cfg, dbPath: dbPath, privacyKey: privacyKey}
	app.handler, err = handlers.NewServer(handlers.Deps{
		Config:      cfg,
		Store:       seen,
		ConsentText: ct,
		FormKey:     formKey,
		PrivacyKey:  privacyKey,
		Notify:      func() { app.notified.Add(1) },
		Spam:        &app.spam,
		Log:         setup.log,
		Now:         setup.now,
		Metrics:     setup.metrics,
		MetricsPage: setup.metricsPage,
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	app.srv = httptest.NewServer(app.handler)
	t.Cleanup(app.srv.Close)
	app.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return app
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) String() string {
	b := r.body
	if len(b) > 600 {
		b = b[:600] + "..."
	}
	return fmt.Sprintf("%d %s", r.status, b)
}

// do sends a request to the app and reads the whole answer.
func (a *testApp) do(t *testing.T, method, path, contentType string, body []byte, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if body == nil {
		req.Body = nil
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", testUserAgent)
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read answer of %s %s: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (a *testApp) get(t *testing.T, path string) response {
	t.Helper()
	return a.do(t, http.MethodGet, path, "", nil, nil)
}

const testUserAgent = "leadbox-test/1.0 (+https://example.org)"

// bodyKind is one of the accepted request body encodings.
type bodyKind string

const (
	urlencoded bodyKind = "urlencoded"
	multiparts bodyKind = "multipart"
	jsonBody   bodyKind = "json"
)

var allKinds = []bodyKind{urlencoded, multiparts, jsonBody}

// encode builds a body of the given kind. Values are strings, except in
// JSON where a value of another type (bool, number, json.RawMessage) is
// sent as such. Form encodings send a string value only.
func encode(t *testing.T, kind bodyKind, fields map[string]any) (contentType string, body []byte) {
	t.Helper()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic bodies
	switch kind {
	case urlencoded:
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(formValue(t, k, fields[k])))
		}
		return "application/x-www-form-urlencoded", []byte(b.String())
	case multiparts:
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for _, k := range keys {
			if err := w.WriteField(k, formValue(t, k, fields[k])); err != nil {
				t.Fatalf("multipart: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("multipart: %v", err)
		}
		return w.FormDataContentType(), buf.Bytes()
	case jsonBody:
		b, err := json.Marshal(fields)
		if err != nil {
			t.Fatalf("json: %v", err)
		}
		return "application/json", b
	}
	t.Fatalf("unknown body kind %q", kind)
	return "", nil
}

func formValue(t *testing.T, key string, v any) string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("form field %s: value %#v is not a string", key, v)
	}
	return s
}

// post sends fields as a body of the given kind to POST /contact.
func (a *testApp) post(t *testing.T, kind bodyKind, fields map[string]any, header http.Header) response {
	t.Helper()
	ct, body := encode(t, kind, fields)
	return a.do(t, http.MethodPost, "/contact", ct, body, header)
}

// validFields is a submission that passes every rule.
func validFields() map[string]any {
	return map[string]any{
		"name":    "Ann Example",
		"email":   "ann@example.com",
		"phone":   "+48 (12) 345-67.89",
		"company": "Acme Sp. z o.o.",
		"message": "Please call me about a quote.",
	}
}

// with returns a copy of base with the given fields set; a nil value
// removes the field.
func with(base map[string]any, set map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(set))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// acceptJSON asks for a JSON answer to a form post.
var acceptJSON = http.Header{"Accept": {"application/json"}}

// decodeJSON decodes a JSON answer into v.
func decodeJSON(t *testing.T, r response, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json; answer: %v", ct, r)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode JSON answer: %v; answer: %v", err, r)
	}
}

// validationError is the JSON body of a 422.
type validationError struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}

// counts is how many rows each table holds.
type counts struct{ leads, events, outbox int64 }

func (a *testApp) counts(t *testing.T) counts {
	t.Helper()
	db := a.store.DB().WithContext(context.Background())
	var c counts
	for _, q := range []struct {
		model any
		n     *int64
	}{{&models.Lead{}, &c.leads}, {&models.ConsentEvent{}, &c.events}, {&models.OutboxMessage{}, &c.outbox}} {
		if err := db.Model(q.model).Count(q.n).Error; err != nil {
			t.Fatalf("count rows: %v", err)
		}
	}
	return c
}

// storedLead reads back a lead, its consent event and wording, and its
// outbox rows.
type storedLead struct {
	lead   models.Lead
	event  models.ConsentEvent
	text   models.ConsentText
	outbox []models.OutboxMessage
}

func (a *testApp) leadByPublicID(t *testing.T, id string) storedLead {
	t.Helper()
	ctx := context.Background()
	l, err := a.store.LeadByPublicID(ctx, id)
	if err != nil {
		t.Fatalf("LeadByPublicID(%q): %v", id, err)
	}
	return a.readBack(t, l.ID)
}

// lastLead reads back the newest lead (for form posts, whose answer carries
// no id).
func (a *testApp) lastLead(t *testing.T) storedLead {
	t.Helper()
	var l models.Lead
	if err := a.store.DB().WithContext(context.Background()).Order("id DESC").Take(&l).Error; err != nil {
		t.Fatalf("read newest lead: %v", err)
	}
	return a.readBack(t, l.ID)
}

func (a *testApp) readBack(t *testing.T, leadID int64) storedLead {
	t.Helper()
	db := a.store.DB().WithContext(context.Background())
	var s storedLead
	if err := db.Where("id = ?", leadID).Take(&s.lead).Error; err != nil {
		t.Fatalf("read lead %d: %v", leadID, err)
	}
	var evs []models.ConsentEvent
	if err := db.Where("lead_id = ?", leadID).Find(&evs).Error; err != nil {
		t.Fatalf("read consent events of lead %d: %v", leadID, err)
	}
	if len(evs) != 1 {
		t.Fatalf("lead %d has %d consent events, want 1", leadID, len(evs))
	}
	s.event = evs[0]
	if s.event.ConsentTextID == nil {
		t.Fatalf("consent event of lead %d has no consent_text_id", leadID)
	}
	if err := db.Where("id = ?", *s.event.ConsentTextID).Take(&s.text).Error; err != nil {
		t.Fatalf("read consent text %d: %v", *s.event.ConsentTextID, err)
	}
	if err := db.Where("lead_id = ?", leadID).Order("id").Find(&s.outbox).Error; err != nil {
		t.Fatalf("read outbox of lead %d: %v", leadID, err)
	}
	return s
}

func outboxKinds(msgs []models.OutboxMessage) []string {
	kinds := make([]string, len(msgs))
	for i, m := range msgs {
		kinds[i] = m.Kind
	}
	sort.Strings(kinds)
	return kinds
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// columnsHolding lists "table.column" for every stored value that contains
// needle, across every table of the database.
func (a *testApp) columnsHolding(t *testing.T, needle string) []string {
	t.Helper()
	sqlDB, err := a.store.DB().DB()
	if err != nil {
		t.Fatalf("read pool: %v", err)
	}
	ctx := context.Background()
	var tables []string
	rows, err := sqlDB.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("list tables: %v", err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var hits []string
	for _, table := range tables {
		hits = append(hits, scanTable(t, sqlDB, table, needle)...)
	}
	return hits
}

func scanTable(t *testing.T, db *sql.DB, table, needle string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT * FROM "`+table+`"`)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	var hits []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		for i, v := range vals {
			var s string
			switch v := v.(type) {
			case []byte:
				s = string(v)
			default:
				s = fmt.Sprint(v)
			}
			if strings.Contains(s, needle) {
				hits = append(hits, table+"."+cols[i])
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return hits
}

// fieldErrorIDs lists the fields that the form page marks as wrong, from the
// ids of the error paragraphs placed beside them.
func fieldErrorIDs(page string) []string {
	var out []string
	for _, m := range errorIDRe.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

var errorIDRe = regexp.MustCompile(`<p class="error" id="([a-z_]+)-error">`)

// checkboxChecked reports whether the consent checkbox is ticked on a page.
func checkboxChecked(t *testing.T, page string) bool {
	t.Helper()
	m := checkboxRe.FindString(page)
	if m == "" {
		t.Fatalf("no marketing_consent checkbox on the page:\n%s", page)
	}
	return regexp.MustCompile(`\schecked[\s>]`).MatchString(m)
}

var checkboxRe = regexp.MustCompile(`<input id="marketing_consent"[^>]*>`)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// submitLead posts a valid form submission from email, with the marketing
// box ticked or not, and returns the stored lead.
func (a *testApp) submitLead(t *testing.T, email string, ticked bool) models.Lead {
	t.Helper()
	set := map[string]any{"email": email, "marketing_consent": nil}
	if ticked {
		set["marketing_consent"] = "on"
	}
	if res := a.post(t, urlencoded, with(validFields(), set), nil); res.status != http.StatusSeeOther {
		t.Fatalf("POST /contact from %s: got %v, want 303", email, res)
	}
	var l models.Lead
	if err := a.store.DB().WithContext(context.Background()).Order("id DESC").Take(&l).Error; err != nil {
		t.Fatalf("read newest lead: %v", err)
	}
	if l.Email != email {
		t.Fatalf("newest lead has email %q, want %q", l.Email, email)
	}
	if ticked && l.ConfirmToken == nil {
		t.Fatalf("lead from %s ticked the box but has no confirm token", email)
	}
	return l
}

// ledger returns every consent event about a normalised address, oldest
// first.
func (a *testApp) ledger(t *testing.T, subject string) []models.ConsentEvent {
	t.Helper()
	var evs []models.ConsentEvent
	if err := a.store.DB().WithContext(context.Background()).
		Where("subject = ?", subject).Order("at, id").Find(&evs).Error; err != nil {
		t.Fatalf("read consent events of %s: %v", subject, err)
	}
	return evs
}

// allEvents returns the whole consent ledger in insertion order.
func (a *testApp) allEvents(t *testing.T) []models.ConsentEvent {
	t.Helper()
	var evs []models.ConsentEvent
	if err := a.store.DB().WithContext(context.Background()).Order("id").Find(&evs).Error; err != nil {
		t.Fatalf("read consent events: %v", err)
	}
	return evs
}

// allOutbox returns every outbox row in insertion order.
func (a *testApp) allOutbox(t *testing.T) []models.OutboxMessage {
	t.Helper()
	var msgs []models.OutboxMessage
	if err := a.store.DB().WithContext(context.Background()).Order("id").Find(&msgs).Error; err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	return msgs
}

// actions lists the actions of events, in order.
func actions(evs []models.ConsentEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action
	}
	return out
}

// marketingState is the person's state as the rest of Leadbox computes it.
func (a *testApp) marketingState(t *testing.T, subject string) models.MarketingState {
	t.Helper()
	st, err := a.store.MarketingStateOf(context.Background(), subject, a.cfg.DoubleOptIn)
	if err != nil {
		t.Fatalf("MarketingStateOf(%s): %v", subject, err)
	}
	return st
}

// rawDB opens a separate read-write connection to the app's SQLite file for
// test-only setup that the application never does itself (the store's read
// pool refuses writes).
func (a *testApp) rawDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", a.dbPath+"?_busy_timeout=10000")
	if err != nil {
		t.Fatalf("open %s: %v", a.dbPath, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// scannerHeaders imitate what mail-security scanners and browsers'
// prefetchers send when they open a link nobody clicked.
var scannerHeaders = []http.Header{
	{"User-Agent": {"Mozilla/5.0 (compatible; Microsoft Office Protocol Discovery)"}},
	{"User-Agent": {"Proofpoint URL Defense"}},
	{"User-Agent": {"Barracuda Sentinel"}},
	{"Sec-Purpose": {"prefetch"}, "Purpose": {"prefetch"}},
}

// scan opens path the way link scanners do: GET and HEAD, 10 times each
// with every scanner's headers, checking each answer is the wantStatus
// page and cannot be cached.
func (a *testApp) scan(t *testing.T, path string, wantStatus int) {
	t.Helper()
	for range 10 {
		for _, h := range scannerHeaders {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				res := a.do(t, method, path, "", nil, h)
				if res.status != wantStatus {
					t.Fatalf("%s %s with %v: got %v, want %d", method, path, h, res, wantStatus)
				}
				if cc := res.header.Get("Cache-Control"); cc != "no-store" {
					t.Fatalf("%s %s: Cache-Control = %q, want no-store", method, path, cc)
				}
			}
		}
	}
}

// withoutRequestID replaces the answer's request id in its body, so that
// two answers can be compared as pages.
func withoutRequestID(t *testing.T, r response) string {
	t.Helper()
	id := r.header.Get("X-Request-Id")
	if id == "" {
		t.Fatalf("answer has no X-Request-Id: %v", r)
	}
	return strings.ReplaceAll(r.body, id, "REQUEST-ID")
}

// postForm is a POST of a urlencoded body, as a browser sends the opt-out
// and confirm buttons (no fields).
func (a *testApp) postForm(t *testing.T, path, body string, header http.Header) response {
	t.Helper()
	return a.do(t, http.MethodPost, path, "application/x-www-form-urlencoded", []byte(body), header)
}

// formRe finds the forms of a page.
var formRe = regexp.MustCompile(`<form\b[^>]*>`)

// checkOneButtonForm checks that page has exactly one form, posting to
// action, with exactly one button.
func checkOneButtonForm(t *testing.T, page, action string) {
	t.Helper()
	forms := formRe.FindAllString(page, -1)
	if len(forms) != 1 {
		t.Fatalf("page has forms %q, want exactly one", forms)
	}
	if want := `<form method="post" action="` + action + `">`; forms[0] != want {
		t.Errorf("form = %s, want %s", forms[0], want)
	}
	if n := strings.Count(page, "<button"); n != 1 {
		t.Errorf("page has %d buttons, want 1", n)
	}
	if n := strings.Count(page, "<input"); n != 0 {
		t.Errorf("page has %d inputs, want none (the token is in the URL)", n)
	}
}

// spamCounter records what the handlers report as spam.
type spamCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *spamCounter) Note(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[reason]++
}

func (s *spamCounter) count(reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[reason]
}
