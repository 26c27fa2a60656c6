package mailer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadbox/leadbox/config"
)

// Transport delivers composed messages. A Session carries a burst of
// messages over one connection, so a queue that backed up during an outage
// does not open one SMTP connection per message.
type Transport interface {
	// Open starts a session; with SMTP it dials, says EHLO, STARTTLS and
	// AUTH.
	Open(ctx context.Context) (Session, error)
	// String describes the transport for the start-up log.
	String() string
}

// Session is one open connection of a Transport. Sessions are used from
// one goroutine at a time.
type Session interface {
	// Send delivers one message, which l describes. A non-nil error does
	// not always mean the message was not delivered: see classify.
	Send(m *gomail.Msg, l Label) error
	// Close ends the session (QUIT).
	Close() error
}

// KindTest is the Label kind of the message `leadbox send-test-email`
// sends; the outbox's kinds are models.KindSalesNotification and
// models.KindConsentConfirmation.
const KindTest = "test"

// Label is what Leadbox knows about a message that the message does not
// say in a form a transport can use: which email it is. SMTP ignores it;
// the file transport names and logs its files by it.
type Label struct {
	// Kind is the outbox message's kind, or KindTest.
	Kind string
	// OutboxID is the outbox row the message was composed from; 0 for a
	// message sent outside the outbox.
	OutboxID int64
	// Queued is when the message was queued; the zero time means now.
	Queued time.Time
}

// NewTransport returns the transport cfg asks for: SMTP when SMTPHost is
// set, .eml files in MailDir otherwise. log receives a line per file
// written.
func NewTransport(cfg config.Config, log *slog.Logger) (Transport, error) {
	if !cfg.UsesSMTP() {
		return newFileTransport(cfg.MailDir, log)
	}
	return newSMTPTransport(cfg)
}

// smtpTransport builds a fresh go-mail Client per session: a Client holds
// its connection as mutable state, and a new one per session keeps the
// worker and a concurrent `send-test-email` from sharing it.
type smtpTransport struct {
	host string
	port int
	tls  string
	opts []gomail.Option
}

func newSMTPTransport(cfg config.Config) (*smtpTransport, error) {
	opts := []gomail.Option{
		gomail.WithPort(cfg.SMTPPort),
		gomail.WithTimeout(cfg.SMTPTimeout),
	}
	switch cfg.SMTPTLS {
	case config.TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case config.TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case config.TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case config.TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("smtp transport: unknown TLS policy %q", cfg.SMTPTLS)
	}
	if cfg.SMTPUsername != "" {
		// Auto-discovery picks the strongest mechanism the server offers
		// and, on a connection without TLS, refuses PLAIN and LOGIN rather
		// than send the password in the clear.
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.SMTPUsername),
			gomail.WithPassword(cfg.SMTPPassword.Reveal()),
		)
	}
	t := &smtpTransport{host: cfg.SMTPHost, port: cfg.SMTPPort, tls: cfg.SMTPTLS, opts: opts}
	if _, err := t.client(); err != nil { // report bad settings at start-up
		return nil, err
	}
	return t, nil
}

func (t *smtpTransport) client() (*gomail.Client, error) {
	c, err := gomail.NewClient(t.host, t.opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp transport: %w", err)
	}
	c.SetLogAuthData(false) // the default today; said out loud because it guards the password
	return c, nil
}

func (t *smtpTransport) String() string {
	return fmt.Sprintf("SMTP %s:%d (%s)", t.host, t.port, t.tls)
}

func (t *smtpTransport) Open(ctx context.Context) (Session, error) {
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", t, err)
	}
	return smtpSession{c}, nil
}

type smtpSession struct{ c *gomail.Client }

func (s smtpSession) Send(m *gomail.Msg, _ Label) error { return s.c.Send(m) }
func (s smtpSession) Close() error                      { return s.c.Close() }

// fileTransport writes each message as an .eml file, for development and
// for installations that have no SMTP server yet.
type fileTransport struct {
	dir string
	log *slog.Logger
}

func newFileTransport(dir string, log *slog.Logger) (*fileTransport, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("LEADBOX_MAIL_DIR: create mail folder: %w", err)
	}
	return &fileTransport{dir: dir, log: log}, nil
}

func (t *fileTransport) String() string { return ".eml files in " + t.dir }

// Open returns a session of its own: it remembers the last file it wrote,
// and the worker's lanes send at the same time.
func (t *fileTransport) Open(context.Context) (Session, error) { return &fileSession{t: t}, nil }

// fileSession is a fileTransport's Session.
type fileSession struct {
	t *fileTransport
	// last is the path of the last file written, for send-test-email's
	// answer.
	last string
}

func (s *fileSession) Close() error { return nil }

// Send writes the message as an .eml file named by emlName, through a
// temporary file and a rename: a reader never sees half a message, and a
// resend of the same message (a crash before its outcome was recorded,
// `leadbox outbox retry`) replaces the file instead of adding a copy. The
// log line names the file, the kind and the outbox row, never a recipient
// or subject: those are personal data.
func (s *fileSession) Send(m *gomail.Msg, l Label) (err error) {
	name := emlName(l, m.GetMessageID(), time.Now())
	if name == "" {
		return errors.New("write .eml file: message has no Message-ID")
	}
	// The temporary name does not end in .eml, so that nothing watching
	// the folder for .eml files picks up half a message.
	f, err := os.CreateTemp(s.t.dir, "."+name+".tmp-*")
	if err != nil {
		return &fileWriteError{step: "create", err: err}
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = m.WriteTo(f); err != nil {
		return &fileWriteError{step: "write", err: err}
	}
	if err = f.Sync(); err != nil {
		return &fileWriteError{step: "sync", err: err}
	}
	if err = f.Close(); err != nil {
		return &fileWriteError{step: "close", err: err}
	}
	path := filepath.Join(s.t.dir, name)
	if err = os.Rename(f.Name(), path); err != nil {
		return &fileWriteError{step: "rename", err: err}
	}
	s.last = path
	attrs := []any{"file", path, "kind", l.Kind}
	if l.OutboxID != 0 {
		attrs = append(attrs, "outbox_id", l.OutboxID)
	}
	s.t.log.Info("wrote email file", attrs...)
	return nil
}

// emlTime is the time in .eml names: UTC to the millisecond, without the
// colons some file systems refuse, and sorting as text in time order.
const emlTime = "20060102T150405.000Z"

// emlName names the .eml file of a message: when it was queued (now, for
// a message without an outbox row), what kind it is, and a short hash of
// its Message-ID, as in
// "20261202T133000.123Z-sales_notification-1a2b3c4d.eml". Names sort by
// time, say what the email is without opening it, hold no personal data,
// and are the same for every send of one message. It returns "" when the
// message has no Message-ID.
func emlName(l Label, messageID string, now time.Time) string {
	if strings.Trim(messageID, "<> ") == "" {
		return ""
	}
	at := l.Queued
	if at.IsZero() {
		at = now
	}
	// The kind comes from a database row: only file-name-safe characters
	// of it are kept.
	kind := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, l.Kind)
	if kind == "" {
		kind = "email"
	}
	sum := sha256.Sum256([]byte(messageID))
	return at.UTC().Format(emlTime) + "-" + kind + "-" + hex.EncodeToString(sum[:4]) + ".eml"
}

// fileWriteError is an .eml file that could not be written, with the step
// that failed: the folder's problem (missing, read-only, full), which the
// log must name as such, not as an SMTP connection's. Its text holds paths
// of the mail folder and a Message-ID hash, never an address.
type fileWriteError struct {
	step string // create, write, sync, close or rename
	err  error
}

func (e *fileWriteError) Error() string {
	return fmt.Sprintf("write .eml file (%s): %v", e.step, e.err)
}

func (e *fileWriteError) Unwrap() error { return e.err }
