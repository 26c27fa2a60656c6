// Command bare is the benchmark's upper bound: a Gin handler that parses and
// validates the same JSON lead as Leadbox's POST /contact (roughly the same
// rules) and answers 201 with a random id, storing nothing. Whatever Leadbox
// does beyond this (the database, the consent record, the outbox, its
// middleware) is what the benchmark's ratios measure.
//
// It listens on 127.0.0.1:0 and prints "listening on ADDR" on stdout.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

// lead is the JSON body, with Leadbox's limits on the required fields.
type lead struct {
	Name             string `json:"name" binding:"required,max=200"`
	Email            string `json:"email" binding:"required,max=254,email"`
	Phone            string `json:"phone" binding:"max=40"`
	Company          string `json:"company" binding:"max=200"`
	Message          string `json:"message" binding:"required,max=5000"`
	MarketingConsent bool   `json:"marketing_consent"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/contact", func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
		var l lead
		if err := c.ShouldBindJSON(&l); err != nil {
			c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "validation"})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"id": newID()})
	})
	return serve(ctx, r)
}

// newID returns 128 random bits, as Leadbox's public ids have.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serve runs h on a free loopback port until ctx is cancelled.
func serve(ctx context.Context, h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Printf("listening on %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
