// Command smtpsink is the SMTP server of the benchmark: it listens on
// 127.0.0.1 only, accepts every message, keeps none, and counts them.
//
// It prints "smtp=ADDR http=ADDR" on stdout once both listeners are bound.
// GET http://ADDR/ answers {"messages":N,"first_ns":T,"last_ns":T}: how many
// messages were accepted and when the first and the last arrived (Unix
// nanoseconds, 0 before the first), so the benchmark can compute a delivery
// rate without sampling gaps at either end.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Loopback only: an SMTP server that accepts everything must never be
	// reachable from the network.
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}

	var c counter
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return session{&c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() { _ = srv.Serve(smtpLn) }()

	hs := &http.Server{Handler: http.HandlerFunc(c.serveHTTP), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(httpLn) }()

	fmt.Printf("smtp=%s http=%s\n", smtpLn.Addr(), httpLn.Addr())
	<-ctx.Done()
	_ = hs.Close()
	return srv.Close()
}

// counter counts accepted messages and remembers when the first and the
// last arrived.
type counter struct {
	mu          sync.Mutex
	n           int64
	first, last time.Time
}

func (c *counter) add() {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.first = now
	}
	c.n++
	c.last = now
}

func (c *counter) serveHTTP(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	v := struct {
		Messages int64 `json:"messages"`
		FirstNS  int64 `json:"first_ns"`
		LastNS   int64 `json:"last_ns"`
	}{Messages: c.n}
	if c.n > 0 {
		v.FirstNS, v.LastNS = c.first.UnixNano(), c.last.UnixNano()
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// session accepts every sender and recipient and discards the data.
type session struct{ c *counter }

func (session) Reset()                               {}
func (session) Logout() error                        { return nil }
func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.c.add()
	return nil
}
