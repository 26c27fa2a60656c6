package smtptest_test

import (
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/internal/smtptest"
)

const message = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"

// send delivers one message over c and returns the SMTP reply code of the
// step that failed (0 when none did) and the name of that step.
func send(t *testing.T, c *smtp.Client) (code int, step string) {
	t.Helper()
	fail := func(step string, err error) (int, string) {
		var te *textproto.Error
		if errors.As(err, &te) {
			return te.Code, step
		}
		return -1, step // not an SMTP reply: the connection broke
	}
	if err := c.Mail("a@example.com"); err != nil {
		return fail("MAIL", err)
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		return fail("RCPT", err)
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write([]byte(message)); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("end of DATA", err)
	}
	return 0, ""
}

func dial(t *testing.T, s *smtptest.Server) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestFates(t *testing.T) {
	tests := []struct {
		fate     smtptest.Fate
		wantCode int
		wantStep string
		wantMsgs int
	}{
		{smtptest.Accept, 0, "", 1},
		{smtptest.TempFailRcpt, 451, "RCPT", 0},
		{smtptest.PermFailRcpt, 550, "RCPT", 0},
		{smtptest.TempFailData, 451, "end of DATA", 0},
		{smtptest.PermFailData, 554, "end of DATA", 0},
		{smtptest.DropAfterData, -1, "end of DATA", 0},
		{smtptest.ResetAfterAccept, 0, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.fate.String(), func(t *testing.T) {
			s := smtptest.NewServer(t, tt.fate)
			c := dial(t, s)
			code, step := send(t, c)
			if code != tt.wantCode || step != tt.wantStep {
				t.Errorf("send = %d at %q, want %d at %q", code, step, tt.wantCode, tt.wantStep)
			}
			if got := len(s.Messages()); got != tt.wantMsgs {
				t.Errorf("server holds %d messages, want %d", got, tt.wantMsgs)
			}
			if tt.fate == smtptest.ResetAfterAccept {
				err := c.Reset()
				var te *textproto.Error
				if !errors.As(err, &te) || te.Code != 421 {
					t.Errorf("RSET after the accepted message = %v, want a 421 reply", err)
				}
			}
		})
	}
}

func TestScriptThenAccept(t *testing.T) {
	s := smtptest.NewServer(t, smtptest.TempFailRcpt)
	c := dial(t, s)
	if code, _ := send(t, c); code != 451 {
		t.Fatalf("first message: code %d, want 451", code)
	}
	if err := c.Reset(); err != nil {
		t.Fatalf("RSET: %v", err)
	}
	if code, step := send(t, c); code != 0 {
		t.Fatalf("second message: code %d at %s, want accepted once the script is used up", code, step)
	}
	got := s.WaitForMessages(1, time.Second)
	if len(got) != 1 || string(got[0]) != message {
		t.Errorf("received %q, want exactly %q", got, message)
	}
	if n := s.Connections(); n != 1 {
		t.Errorf("Connections = %d, want 1", n)
	}
}

func TestStopStartSamePort(t *testing.T) {
	s := smtptest.NewUnstartedServer(t)
	addr := s.Addr()
	if host := s.Host(); host != "127.0.0.1" {
		t.Errorf("Host = %q, want 127.0.0.1 (loopback only)", host)
	}
	if !strings.HasSuffix(addr, ":"+strconv.Itoa(s.Port())) {
		t.Errorf("Addr %q does not end in Port %d", addr, s.Port())
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatalf("dial before Start succeeded, want connection refused")
	}
	s.Start()
	send(t, dial(t, s))
	s.Stop()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatalf("dial after Stop succeeded, want connection refused")
	}
	s.Stop() // a second Stop does nothing
	s.Start()
	if s.Addr() != addr {
		t.Fatalf("Addr after Start = %s, want the same %s", s.Addr(), addr)
	}
	send(t, dial(t, s))
	s.Restart()
	send(t, dial(t, s))
	if got := len(s.WaitForMessages(3, time.Second)); got != 3 {
		t.Errorf("received %d messages over three starts, want 3", got)
	}
	if n := s.Connections(); n != 3 {
		t.Errorf("Connections = %d, want 3", n)
	}
}

func TestStopRightAfterStart(t *testing.T) {
	s := smtptest.NewUnstartedServer(t)
	for range 20 {
		s.Start()
		s.Stop() // must not hang, nor leave the port bound
	}
}

func TestWaitForMessagesWakesOnArrival(t *testing.T) {
	s := smtptest.NewServer(t)
	go func() {
		time.Sleep(50 * time.Millisecond) // let WaitForMessages block first
		// An error shows as the message WaitForMessages never sees.
		_ = smtp.SendMail(s.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(message))
	}()
	start := time.Now()
	s.WaitForMessages(1, 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WaitForMessages returned after %v, want soon after the message arrived", d)
	}
}

func TestFateString(t *testing.T) {
	if got := smtptest.ResetAfterAccept.String(); got != "ResetAfterAccept" {
		t.Errorf("String = %q", got)
	}
	if got := smtptest.Fate(99).String(); got != "Fate(99)" {
		t.Errorf("String = %q", got)
	}
}
