package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/internal/testlog"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
	"github.com/leadbox/leadbox/models/storetest"
)

const (
	// testBaseURL is LEADBOX_BASE_URL: links in emails start with it, and
	// tests send them to the server's real loopback address (see app.do).
	testBaseURL = "https://leads.example.com"
	salesAddr   = "sales@example.com"
	// mailWait bounds every wait for an email; the outbox polls every
	// 200ms in these tests, so seconds mean something is broken.
	mailWait = 10 * time.Second
	// settle is how long a test keeps watching after the expected mail
	// arrived, to catch a duplicate or a mail that should never come:
	// three polls, more than the longest retry delay (300ms).
	settle = 600 * time.Millisecond
)

// app is a running `leadbox serve` with a real SQLite file, sending through
// a test SMTP server, as an operator would run it.
type app struct {
	base string // where the server listens: http://127.0.0.1:port
	env  map[string]string
	logs *testlog.Buffer
	mail *smtptest.Server
	// client sends requests like a mail provider's one-click POST: no
	// cookie jar, and redirects are returned, not followed.
	client *http.Client
	store  *sqlite.Store // opened on first use, for reading rows
}

// startApp runs `leadbox serve` against mail (started or not) until the
// test ends.
func startApp(t *testing.T, mailServer *smtptest.Server) *app {
	t.Helper()
	return startAppWith(t, mailServer, nil)
}

// startAppWith is startApp with some settings changed.
func startAppWith(t *testing.T, mailServer *smtptest.Server, settings map[string]string) *app {
	t.Helper()
	env := map[string]string{
		"LEADBOX_DATABASE":     filepath.Join(t.TempDir(), "leadbox.db"),
		"LEADBOX_BASE_URL":     testBaseURL,
		"LEADBOX_SMTP_HOST":    mailServer.Host(),
		"LEADBOX_SMTP_PORT":    strconv.Itoa(mailServer.Port()),
		"LEADBOX_SMTP_TLS":     "none",
		"LEADBOX_SMTP_TIMEOUT": "5s",
		"LEADBOX_MAIL_FROM":    "Leads <leads@example.com>",
		"LEADBOX_SALES_TO":     "Sales & Marketing <" + salesAddr + ">",
		"LEADBOX_COMPANY":      "Acme Widgets",
		"LEADBOX_OUTBOX_POLL":  "200ms",
		"LEADBOX_RETRY_BASE":   "100ms",
		"LEADBOX_RETRY_MAX":    "300ms",
		"LEADBOX_RATE_LIMIT":   "0",
		"LEADBOX_LOG_LEVEL":    "debug",
	}
	maps.Copy(env, settings)
	ctx, cancel := context.WithCancel(context.Background())
	base, done, logs := startServe(t, ctx, env)
	a := &app{
		base: base, env: env, logs: logs, mail: mailServer,
		client: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	t.Cleanup(func() {
		if a.store != nil {
			_ = a.store.Close()
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v, want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("serve did not stop within 15s")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return a
}

func (a *app) getenv(k string) string { return a.env[k] }

// cli runs a sub-command against the same settings and database, as an
// operator would beside the running server, and returns its output.
func (a *app) cli(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(t.Context(), args, a.getenv, nil, &out, &errOut); err != nil {
		t.Fatalf("leadbox %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// db opens the database for reading rows the tests cannot see otherwise.
func (a *app) db(t *testing.T) *sqlite.Store {
	t.Helper()
	if a.store == nil {
		s, err := sqlite.Open(t.Context(), a.env["LEADBOX_DATABASE"])
		if err != nil {
			t.Fatalf("open database: %v", err)
		}
		a.store = s
	}
	return a.store
}

// leadForm is a valid submission; consent ticks the marketing box.
func leadForm(name, email string, consent bool) url.Values {
	v := url.Values{
		"name":    {name},
		"email":   {email},
		"company": {"Acme"},
		"message": {"We need 300 widgets by June."},
	}
	if consent {
		v.Set("marketing_consent", "on")
	}
	return v
}

// submit posts the contact form as fetch() would, expects 201 and returns
// the lead's public id.
func (a *app) submit(t *testing.T, form url.Values) string {
	t.Helper()
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}
	resp, body := a.do(t, http.MethodPost, a.base+"/contact", strings.NewReader(form.Encode()), header)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /contact: status %d, want 201\n%s", resp.StatusCode, body)
	}
	var got struct{ ID string }
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.ID == "" {
		t.Fatalf("POST /contact: body %q (%v), want a JSON id", body, err)
	}
	return got.ID
}

// do sends a request and returns the response with its body read. A link
// from an email (starting with testBaseURL) goes to the test server, the
// way a reverse proxy would route it.
func (a *app) do(t *testing.T, method, link string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	target := link
	if rest, ok := strings.CutPrefix(link, testBaseURL+"/"); ok {
		target = a.base + "/" + rest
	} else if !strings.HasPrefix(link, a.base+"/") {
		t.Fatalf("link %q starts neither with LEADBOX_BASE_URL %s nor with the server's address", link, testBaseURL)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, link, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, link, err)
	}
	return resp, string(b)
}

// email is a received message as a mail client shows it.
type email struct {
	header mail.Header
	text   string // the text/plain part, transfer encoding undone
}

func parseEmail(t *testing.T, raw []byte) email {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read email: %v\n%s", err, raw)
	}
	e := email{header: m.Header}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("email Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // undoes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("email part: %v", err)
		}
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(part)
			if err != nil {
				t.Fatalf("email part: %v", err)
			}
			e.text = string(b)
		}
	}
	if e.text == "" {
		t.Fatalf("email has no text part:\n%s", raw)
	}
	return e
}

// address returns the one address of header h.
func (e email) address(t *testing.T, h string) string {
	t.Helper()
	list, err := e.header.AddressList(h)
	if err != nil || len(list) != 1 {
		t.Fatalf("%s = %q (%v), want one address", h, e.header.Get(h), err)
	}
	return list[0].Address
}

// emailsTo returns the received emails addressed (To) to addr, in order.
func emailsTo(t *testing.T, msgs [][]byte, addr string) []email {
	t.Helper()
	var out []email
	for _, raw := range msgs {
		if e := parseEmail(t, raw); e.address(t, "To") == addr {
			out = append(out, e)
		}
	}
	return out
}

// waitForEmailsTo waits until addr has received n emails and returns them.
func (a *app) waitForEmailsTo(t *testing.T, addr string, n int) []email {
	t.Helper()
	waitUntil(t, strconv.Itoa(n)+" emails to "+addr+" arrive", mailWait, func() bool {
		return len(emailsTo(t, a.mail.Messages(), addr)) >= n
	})
	return emailsTo(t, a.mail.Messages(), addr)
}

var confirmLinkRE = regexp.MustCompile(regexp.QuoteMeta(testBaseURL) + `/confirm/[a-z2-7]+`)

// confirmLink is the confirmation link in the body of a confirmation email.
func (e email) confirmLink(t *testing.T) string {
	t.Helper()
	links := confirmLinkRE.FindAllString(e.text, -1)
	if len(links) == 0 {
		t.Fatalf("confirmation email has no confirm link:\n%s", e.text)
	}
	return links[0]
}

// unsubscribeLink is the https URL of the List-Unsubscribe header.
func (e email) unsubscribeLink(t *testing.T) string {
	t.Helper()
	v := e.header.Get("List-Unsubscribe")
	link, ok := strings.CutPrefix(strings.TrimSuffix(v, ">"), "<")
	if !ok || !strings.HasPrefix(link, testBaseURL+"/optout/") {
		t.Fatalf("List-Unsubscribe = %q, want <%s/optout/TOKEN>", v, testBaseURL)
	}
	if got := e.header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe-Post = %q, want List-Unsubscribe=One-Click", got)
	}
	return link
}

// consentEvent is one row of `leadbox consent EMAIL`.
type consentEvent struct{ Action, Method, IP string }

// consent runs `leadbox consent EMAIL` and returns the state it reports
// and the events it lists, oldest first.
func (a *app) consent(t *testing.T, addr string) (state string, events []consentEvent) {
	t.Helper()
	out := a.cli(t, "consent", addr)
	m := regexp.MustCompile(`(?m)^Current state: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("leadbox consent output has no state:\n%s", out)
	}
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "#":
			inTable = true
		case inTable && len(f) == 0:
			return m[1], events
		case inTable:
			if len(f) != 7 {
				t.Fatalf("leadbox consent: unexpected row %q in:\n%s", line, out)
			}
			events = append(events, consentEvent{Action: f[2], Method: f[3], IP: f[4]})
		}
	}
	return m[1], events
}

// waitUntil polls cond until it holds, or fails the test at the deadline.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outboxStatuses returns the status of each of the lead's outbox messages
// by kind.
func (a *app) outboxStatuses(t *testing.T, publicID string) map[string]models.OutboxMessage {
	t.Helper()
	lead, err := a.db(t).LeadByPublicID(t.Context(), publicID)
	if err != nil {
		t.Fatalf("lead %s: %v", publicID, err)
	}
	var rows []models.OutboxMessage
	if err := a.db(t).DB().WithContext(t.Context()).Where("lead_id = ?", lead.ID).Find(&rows).Error; err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	byKind := map[string]models.OutboxMessage{}
	for _, r := range rows {
		byKind[r.Kind] = r
	}
	return byKind
}

// seededDatabase makes a database file with n leads (p0@example.com ...),
// each as the form stores it, the box ticked on the even ones, through the
// real engine, and returns its path and the submissions.
func seededDatabase(t *testing.T, n int) (string, []storetest.Submission) {
	t.Helper()
	return seedLeads(t, n, func(i int, sub *storetest.Submission) {
		if i%2 == 1 {
			untick(sub)
		}
	})
}

// seedLeads is seededDatabase with each submission shaped by shape before
// it is stored.
func seedLeads(t *testing.T, n int, shape func(i int, sub *storetest.Submission)) (string, []storetest.Submission) {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "leadbox.db")
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	subs := make([]storetest.Submission, n)
	for i := range subs {
		sub := storetest.NewSubmission(t, store, fmt.Sprintf("p%d@example.com", i))
		shape(i, &sub)
		if _, err := store.CreateLeadOnce(ctx, sub.Lead, sub.Consent, sub.Outbox, models.Guards{}); err != nil {
			t.Fatal(err)
		}
		subs[i] = sub
	}
	return db, subs
}

// untick makes sub a submission with the marketing box left empty.
func untick(sub *storetest.Submission) {
	sub.Consent.Action = models.ActionNotGiven
	sub.Lead.ConfirmToken, sub.Lead.ConfirmExpiresAt = nil, nil
	sub.Outbox = sub.Outbox[:1]
}

// databaseEnv is the settings of a command run on db, every other one its
// default.
func databaseEnv(db string) func(string) string {
	return func(k string) string {
		if k == "LEADBOX_DATABASE" {
			return db
		}
		return ""
	}
}

// damageIndex overwrites the cells of an index's root page in the closed
// database file db, as a failing disk or a torn copy would. The cells
// live at the end of the page, past its header.
func damageIndex(t *testing.T, db, index string) {
	t.Helper()
	conn, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	var root int64
	err = conn.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = ?", index).Scan(&root)
	_ = conn.Close()
	if err != nil {
		t.Fatalf("root page of %s: %v", index, err)
	}
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, 4096-100), (root-1)*4096+100); err != nil {
		t.Fatal(err)
	}
}

// checkDamagedNotReady checks what a load balancer and the operator see
// once a request met a damaged page: /readyz (asked by readyz) answers 503,
// and asked again still 503, and the log (logs) says so once, naming the
// command to run.
func checkDamagedNotReady(t *testing.T, readyz func() int, logs fmt.Stringer) {
	t.Helper()
	for range 2 {
		if got := readyz(); got != http.StatusServiceUnavailable {
			t.Errorf("readyz after the damage was met: %d, want 503", got)
		}
	}
	var notReady []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `"msg":"not ready"`) {
			notReady = append(notReady, line)
		}
	}
	if len(notReady) != 1 || !strings.Contains(notReady[0], "leadbox check-db --full") {
		t.Errorf("log lines about readiness %q; want one, saying what to run", notReady)
	}
}
