// Package smtptest provides a real SMTP server on the loopback interface for
// tests, in the spirit of net/http/httptest.
//
// The server speaks SMTP through github.com/emersion/go-smtp, so clients
// under test (go-mail, and through it the outbox worker) exercise their real
// network code. A test scripts the fate of each message, from a clean 250
// to the awkward failures that decide whether mail is lost or duplicated: a
// 4xx or 5xx at RCPT TO or at the end of DATA, a connection dropped after
// the final ".", and a 421 to the RSET that follows an accepted message. It
// can stop the server and start it again on the same port, to play an
// outage, and reads back every accepted message byte for byte.
//
// The server listens on 127.0.0.1 only, never on another interface: a test
// must not offer an open relay to the network it runs on.
package smtptest

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Fate is what the server does with one message, that is one MAIL FROM
// transaction.
type Fate int

// The fates a script can give a message. Messages past the end of the
// script are accepted.
const (
	// Accept answers 250 at every step.
	Accept Fate = iota
	// TempFailRcpt answers 451 to RCPT TO: try again later.
	TempFailRcpt
	// PermFailRcpt answers 550 to RCPT TO: no such user.
	PermFailRcpt
	// TempFailData answers 451 after the final "." of DATA.
	TempFailData
	// PermFailData answers 554 after the final "." of DATA.
	PermFailData
	// DropAfterData reads the whole message and closes the connection
	// without a reply (RFC 5321 §3.8: the client cannot know whether the
	// message was delivered). The message is not recorded as received.
	DropAfterData
	// ResetAfterAccept accepts the message (it is recorded as received),
	// then answers the client's next RSET with 421 and closes the
	// connection, as a server going down would. A client that treats that
	// error as "not delivered" sends the message twice.
	ResetAfterAccept
)

var fateNames = [...]string{"Accept", "TempFailRcpt", "PermFailRcpt", "TempFailData", "PermFailData", "DropAfterData", "ResetAfterAccept"}

// String returns the fate's name, for test failure messages.
func (f Fate) String() string {
	if f >= 0 && int(f) < len(fateNames) {
		return fateNames[f]
	}
	return "Fate(" + strconv.Itoa(int(f)) + ")"
}

// ioTimeout bounds every read and write of the server, so a client that
// hangs cannot hold a test for longer than this.
const ioTimeout = 10 * time.Second

// Server is an SMTP server on 127.0.0.1 for one test. Its methods are safe
// for concurrent use, except Start and Stop, which belong to the test
// goroutine.
type Server struct {
	tb   testing.TB
	addr string // host:port; the port stays the same across Stop and Start

	srv       *smtp.Server
	ln        net.Listener
	serveDone chan struct{}

	mu       sync.Mutex
	script   []Fate
	refused  map[string]bool // recipients answered 550, lower-cased
	received [][]byte
	conns    int
	// arrived is closed, and replaced, whenever a message is received, so
	// waiters wake without polling.
	arrived chan struct{}
}

// NewServer starts a server on a free port of 127.0.0.1. script gives the
// fates of the first messages, in order; later messages are accepted. The
// server stops when the test ends.
func NewServer(tb testing.TB, script ...Fate) *Server {
	tb.Helper()
	s := NewUnstartedServer(tb, script...)
	s.Start()
	return s
}

// NewUnstartedServer returns a server that does not listen yet: until
// Start, connections to its address are refused, as they are when a real
// mail server is down. The port is chosen now, so the address can go into
// the configuration of the program under test before the server starts.
func NewUnstartedServer(tb testing.TB, script ...Fate) *Server {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: reserve a port: %v", err)
	}
	s := &Server{
		tb:      tb,
		addr:    l.Addr().String(),
		script:  append([]Fate(nil), script...),
		arrived: make(chan struct{}),
	}
	if err := l.Close(); err != nil {
		tb.Fatalf("smtptest: release the reserved port: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Refuse makes the server answer 550 to RCPT TO:<addr> from now on, as for
// a mailbox that no longer exists, whatever the script says. The other
// recipients of the same message are accepted, as RFC 5321 §3.3 allows.
func (s *Server) Refuse(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]bool{}
	}
	s.refused[strings.ToLower(addr)] = true
}

func (s *Server) isRefused(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[strings.ToLower(addr)]
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Host returns "127.0.0.1".
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.addr)
	return h
}

// Port returns the server's port, the same across Stop and Start.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Start makes the server listen and answer. Starting a running server is a
// test bug and fails the test.
func (s *Server) Start() {
	s.tb.Helper()
	if s.srv != nil {
		s.tb.Fatalf("smtptest: Start on a running server")
	}
	var l net.Listener
	var err error
	// The port was free a moment ago (reserved, or released by Stop), but
	// the kernel may take a moment to let go of it; nothing else should
	// claim it, since ephemeral ports are handed out at random.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if l, err = net.Listen("tcp", s.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		s.tb.Fatalf("smtptest: listen on %s: %v", s.addr, err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = ioTimeout
	srv.WriteTimeout = ioTimeout
	srv.ErrorLog = log.New(io.Discard, "", 0) // a closed connection is the point of some fates
	s.srv, s.ln, s.serveDone = srv, l, make(chan struct{})
	go func(done chan<- struct{}) {
		defer close(done)
		_ = srv.Serve(countingListener{l, s})
	}(s.serveDone)
}

// Stop closes the listener and every open connection, and returns once
// the server no longer accepts connections. Clients then get "connection
// refused" until Start. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	// go-smtp's Close misses a listener that Serve has not registered yet;
	// closing it here too makes Stop right after Start safe.
	_ = s.ln.Close()
	<-s.serveDone
	s.srv, s.ln, s.serveDone = nil, nil, nil
}

// Restart stops the server and starts it again on the same port.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.Start()
}

// Messages returns a copy of every message the server accepted, in the
// order they arrived, exactly as received after DATA (headers and body,
// CRLF line endings, dot-stuffing undone).
func (s *Server) Messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.received))
	for i, m := range s.received {
		out[i] = append([]byte(nil), m...)
	}
	return out
}

// Connections returns how many connections the server has accepted since
// it was created, over all its starts.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// WaitForMessages waits until the server has accepted at least n messages
// and returns them, or fails the test once timeout has passed. Call it from
// the test's goroutine.
func (s *Server) WaitForMessages(n int, timeout time.Duration) [][]byte {
	s.tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, arrived := len(s.received), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-arrived:
		case <-timer.C:
			s.tb.Fatalf("smtptest: %d messages received within %v, want at least %d", got, timeout, n)
			return nil
		}
	}
}

// next pops the fate of the next message off the script.
func (s *Server) next() Fate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		return Accept
	}
	f := s.script[0]
	s.script = s.script[1:]
	return f
}

func (s *Server) receive(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, data)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// countingListener counts accepted connections, so a test can tell that a
// burst of messages went over one connection.
type countingListener struct {
	net.Listener
	s *Server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns++
		l.s.mu.Unlock()
	}
	return c, err
}

// session is one SMTP connection. go-smtp calls its methods from the
// connection's goroutine only.
type session struct {
	s    *Server
	conn *smtp.Conn
	fate Fate
	// resetTrap counts down the resets after a ResetAfterAccept message:
	// go-smtp resets the session itself after DATA, then the client sends
	// its RSET, the one to answer with 421.
	resetTrap int
}

func replyErr(code int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: msg}
}

func (ss *session) Mail(string, *smtp.MailOptions) error {
	ss.fate = ss.s.next()
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.isRefused(to) {
		return replyErr(550, "no such user here")
	}
	switch ss.fate {
	case TempFailRcpt:
		return replyErr(451, "mailbox busy, try again later")
	case PermFailRcpt:
		return replyErr(550, "no such user here")
	}
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch ss.fate {
	case TempFailData:
		return replyErr(451, "local error in processing")
	case PermFailData:
		return replyErr(554, "message rejected as spam")
	case DropAfterData:
		return errors.Join(ss.conn.Conn().Close(), errors.New("smtptest: connection dropped after DATA"))
	case ResetAfterAccept:
		ss.resetTrap = 2
	}
	ss.s.receive(data)
	return nil
}

func (ss *session) Reset() {
	if ss.resetTrap == 0 {
		return
	}
	if ss.resetTrap--; ss.resetTrap == 0 {
		// go-smtp always answers RSET with 250, so the 421 goes straight to
		// the connection, which is then closed before that 250 is written.
		_, _ = fmt.Fprint(ss.conn.Conn(), "421 4.3.2 Service shutting down\r\n")
		_ = ss.conn.Conn().Close()
	}
}

func (ss *session) Logout() error { return nil }
