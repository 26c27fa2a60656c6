package mailer

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/internal/testlog"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

const testConsentText = "I agree to be contacted about other offerings by email."

// testConfig loads a configuration the way production does, from
// variables, pointed at d (nil: no SMTP host, .eml files). Retry timings
// are in milliseconds so that tests stay fast.
func testConfig(t *testing.T, d *smtptest.Server, extra ...string) config.Config {
	t.Helper()
	env := map[string]string{
		"LEADBOX_BASE_URL":      "https://leads.example.com",
		"LEADBOX_MAIL_FROM":     "Leadbox <leadbox@example.com>",
		"LEADBOX_SALES_TO":      "Sales & Marketing <sales@example.com>",
		"LEADBOX_MAIL_DIR":      filepath.Join(t.TempDir(), "mail"),
		"LEADBOX_SMTP_TLS":      "none",
		"LEADBOX_SMTP_TIMEOUT":  "3s",
		"LEADBOX_OUTBOX_POLL":   "1s",
		"LEADBOX_RETRY_BASE":    "5ms",
		"LEADBOX_RETRY_MAX":     "20ms",
		"LEADBOX_GIVE_UP_AFTER": "1h",
		"LEADBOX_COMPANY":       "Acme Widgets",
		"LEADBOX_TIMEZONE":      "Europe/Warsaw",
	}
	if d != nil {
		env["LEADBOX_SMTP_HOST"] = d.Host()
		env["LEADBOX_SMTP_PORT"] = strconv.Itoa(d.Port())
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return cfg
}

// openStore opens a real SQLite database in a temporary folder.
func openStore(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leadbox.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// testLead returns a lead as the form handler would build it.
func testLead(name string) *models.Lead {
	return &models.Lead{
		PublicID:    models.NewToken(10),
		Name:        name,
		Email:       "jane.doe@example.org",
		Phone:       "+48 600 100 200",
		Company:     "Acme",
		Message:     "Hello,\nwe need 300 widgets.\n\nThanks",
		PageURL:     "https://www.example.com/pricing",
		UTMSource:   "newsletter",
		UTMCampaign: "spring",
		OptOutToken: models.NewToken(20),
	}
}

// addLead commits lead with a consent event (given or not) and one outbox
// message per kind, and returns the outbox rows.
func addLead(t *testing.T, s *sqlite.Store, lead *models.Lead, given bool, kinds ...string) []models.OutboxMessage {
	t.Helper()
	ctx := context.Background()
	ct, err := s.ConsentTextVersion(ctx, testConsentText)
	if err != nil {
		t.Fatalf("ConsentTextVersion: %v", err)
	}
	ev := &models.ConsentEvent{
		Subject: models.NormalizeEmail(lead.Email), Purpose: models.PurposeMarketingEmail,
		At: time.Now().UTC(), Action: models.ActionNotGiven, Method: models.MethodForm,
		ConsentTextID: &ct.ID,
	}
	if given {
		ev.Action = models.ActionGiven
		token, expires := models.NewToken(20), time.Now().UTC().Add(24*time.Hour)
		lead.ConfirmToken, lead.ConfirmExpiresAt = &token, &expires
	}
	var out []models.OutboxMessage
	for _, k := range kinds {
		out = append(out, models.OutboxMessage{Kind: k})
	}
	if err := s.CreateLead(ctx, lead, ev, out); err != nil {
		t.Fatalf("CreateLead: %v", err)
	}
	return out
}

// outboxRow reads one outbox row as it is now.
func outboxRow(t *testing.T, s *sqlite.Store, id int64) models.OutboxMessage {
	t.Helper()
	var m models.OutboxMessage
	if err := s.DB().WithContext(t.Context()).Take(&m, id).Error; err != nil {
		t.Fatalf("read outbox row %d: %v", id, err)
	}
	return m
}

// claimed returns the outbox row with its lead loaded, as ClaimDue would.
func claimed(t *testing.T, s *sqlite.Store, id int64) models.OutboxMessage {
	t.Helper()
	var m models.OutboxMessage
	if err := s.DB().WithContext(t.Context()).Preload("Lead.Consent.ConsentText").Take(&m, id).Error; err != nil {
		t.Fatalf("read outbox row %d: %v", id, err)
	}
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runWorker runs w until the test ends, and returns a function that stops
// it and waits for Run to return.
func runWorker(t *testing.T, w *Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func testLogger() (*slog.Logger, *testlog.Buffer) {
	buf := &testlog.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// newTestWorker builds a worker as New does, for cfg and s.
func newTestWorker(t *testing.T, cfg config.Config, s Store) (*Worker, *testlog.Buffer) {
	t.Helper()
	log, buf := testLogger()
	w, err := New(cfg, s, []byte("a privacy-link key of 32 bytes!!"), log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", buf)
		}
	})
	return w, buf
}

// parsed is an email as a mail client sees it.
type parsed struct {
	header mail.Header
	text   string
	html   string
}

// readEmail reads raw with net/mail and mime/multipart, which undo the
// quoted-printable transfer encoding of each part.
func readEmail(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v\n%s", err, raw)
	}
	p := parsed{header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextPart: %v", err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		body := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch ct := part.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			p.text = body
		case strings.HasPrefix(ct, "text/html"):
			p.html = body
		default:
			t.Fatalf("unexpected part %q", ct)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("got text part %d bytes, HTML part %d bytes; want both", len(p.text), len(p.html))
	}
	return p
}

// render writes msg as it would go on the wire.
func render(t *testing.T, msg *gomail.Msg) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return b.Bytes()
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("decode header %q: %v", v, err)
	}
	return s
}
