package mailer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	// Send delivers one message. A non-nil error does not always mean the
	// message was not delivered: see classify.
	Send(m *gomail.Msg) error
	// Close ends the session (QUIT).
	Close() error
}

// NewTransport returns the transport cfg asks for: SMTP when SMTPHost is
// set, .eml files in MailDir otherwise.
func NewTransport(cfg config.Config) (Transport, error) {
	if !cfg.UsesSMTP() {
		return newFileTransport(cfg.MailDir)
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

func (s smtpSession) Send(m *gomail.Msg) error { return s.c.Send(m) }
func (s smtpSession) Close() error             { return s.c.Close() }

// fileTransport writes each message as an .eml file, for development and
// for installations that have no SMTP server yet.
type fileTransport struct{ dir string }

func newFileTransport(dir string) (*fileTransport, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("LEADBOX_MAIL_DIR: create mail folder: %w", err)
	}
	return &fileTransport{dir: dir}, nil
}

func (t *fileTransport) String() string { return ".eml files in " + t.dir }

func (t *fileTransport) Open(context.Context) (Session, error) { return t, nil }

func (t *fileTransport) Close() error { return nil }

// Send writes the message under a name taken from its Message-ID, through
// a temporary file and a rename: a reader never sees half a message, and a
// retry of the same message replaces the file instead of adding a copy.
func (t *fileTransport) Send(m *gomail.Msg) (err error) {
	name := emlName(m.GetMessageID())
	if name == "" {
		return errors.New("write .eml file: message has no Message-ID")
	}
	f, err := os.CreateTemp(t.dir, ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("write .eml file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = m.WriteTo(f); err != nil {
		return fmt.Errorf("write .eml file: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write .eml file: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write .eml file: %w", err)
	}
	if err = os.Rename(f.Name(), filepath.Join(t.dir, name)); err != nil {
		return fmt.Errorf("write .eml file: %w", err)
	}
	return nil
}

// emlName turns "<id@domain>" into "id@domain.eml", keeping only characters
// that are safe in file names everywhere.
func emlName(messageID string) string {
	id := strings.Trim(messageID, "<>")
	id = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '@', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, id)
	if strings.Trim(id, "._") == "" {
		return ""
	}
	return id + ".eml"
}
