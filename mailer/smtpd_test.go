package mailer

import (
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// step is how the test SMTP server treats one message (one MAIL FROM).
type step int

const (
	accept        step = iota // 250 all the way
	rcpt451                   // RCPT TO answered 451: temporary
	rcpt550                   // RCPT TO answered 550: permanent
	data451                   // end of DATA answered 451
	data554                   // end of DATA answered 554
	dropAfterData             // the final "." read, then the connection closed without a reply
	rset421                   // 250 for the message, then 421 to the RSET that follows
)

// smtpd is a real SMTP server on 127.0.0.1 whose answers a test scripts,
// and which can be stopped and started again on the same port.
type smtpd struct {
	t    *testing.T
	addr string

	mu       sync.Mutex
	srv      *smtp.Server
	script   []step
	received [][]byte
	dropped  int
	conns    atomic.Int32
}

// startSMTPD starts a server; script gives the fate of the first messages,
// later ones are accepted.
func startSMTPD(t *testing.T, script ...step) *smtpd {
	t.Helper()
	d := &smtpd{t: t, addr: "127.0.0.1:0", script: script}
	d.start()
	t.Cleanup(d.stop)
	return d
}

// reserveAddr returns a loopback address where nothing listens (yet).
func reserveAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return addr
}

// newStoppedSMTPD returns a server that is not running yet, on a port where
// connections are refused until start.
func newStoppedSMTPD(t *testing.T) *smtpd {
	t.Helper()
	d := &smtpd{t: t, addr: reserveAddr(t)}
	t.Cleanup(d.stop)
	return d
}

func (d *smtpd) start() {
	d.t.Helper()
	var l net.Listener
	var err error
	// The port was just freed by stop or reserveAddr; give the kernel a
	// moment if it still holds it.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if l, err = net.Listen("tcp", d.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		d.t.Fatalf("smtpd listen on %s: %v", d.addr, err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &fakeSession{d: d, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	d.mu.Lock()
	d.addr = l.Addr().String()
	d.srv = srv
	d.mu.Unlock()
	go func() { _ = srv.Serve(countingListener{l, &d.conns}) }()
}

func (d *smtpd) stop() {
	d.mu.Lock()
	srv := d.srv
	d.srv = nil
	d.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (d *smtpd) host() string {
	h, _, _ := net.SplitHostPort(d.addr)
	return h
}

func (d *smtpd) port() int {
	_, p, _ := net.SplitHostPort(d.addr)
	n, _ := net.LookupPort("tcp", p)
	return n
}

// messages returns copies of the messages the server answered 250 to.
func (d *smtpd) messages() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.received...)
}

func (d *smtpd) next() step {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.script) == 0 {
		return accept
	}
	s := d.script[0]
	d.script = d.script[1:]
	return s
}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

type fakeSession struct {
	d    *smtpd
	conn *smtp.Conn
	step step
	// resetTrap counts down the resets after a message in rset421 mode: the
	// first is the server's own after DATA, the second the client's RSET.
	resetTrap int
}

func smtpErr(code int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: msg}
}

func (s *fakeSession) Mail(string, *smtp.MailOptions) error {
	s.step = s.d.next()
	return nil
}

func (s *fakeSession) Rcpt(string, *smtp.RcptOptions) error {
	switch s.step {
	case rcpt451:
		return smtpErr(451, "mailbox busy, try again later")
	case rcpt550:
		return smtpErr(550, "no such user here")
	}
	return nil
}

func (s *fakeSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch s.step {
	case data451:
		return smtpErr(451, "local error in processing")
	case data554:
		return smtpErr(554, "message rejected as spam")
	case dropAfterData:
		s.d.mu.Lock()
		s.d.dropped++
		s.d.mu.Unlock()
		return errors.Join(s.conn.Conn().Close(), errors.New("dropped"))
	case rset421:
		s.resetTrap = 2
	}
	s.d.mu.Lock()
	s.d.received = append(s.d.received, data)
	s.d.mu.Unlock()
	return nil
}

func (s *fakeSession) Reset() {
	if s.resetTrap == 0 {
		return
	}
	if s.resetTrap--; s.resetTrap == 0 {
		// go-smtp always answers RSET with 250, so the 421 is written to
		// the raw connection, which is then closed, as a server going down
		// would.
		_, _ = io.WriteString(s.conn.Conn(), "421 4.3.2 Service shutting down\r\n")
		_ = s.conn.Conn().Close()
	}
}

func (s *fakeSession) Logout() error { return nil }
