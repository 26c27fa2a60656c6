package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/mailer"
	"github.com/leadbox/leadbox/metrics"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/webhook"
)

// shutdownGrace is how long in-flight requests get to finish after SIGTERM.
const shutdownGrace = 20 * time.Second

// serve runs the HTTP server and the mail sender until ctx is cancelled,
// then shuts down gracefully: in-flight requests finish, then the sender,
// then the store closes, exit code 0.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	start := time.Now()

	store, closeStore, err := openServing(ctx, cfg.Database, storeOptions(cfg)...)
	if err != nil {
		return err
	}
	defer closeStore()
	consentText, err := store.ConsentTextVersion(ctx, cfg.ConsentText)
	if err != nil {
		return fmt.Errorf("LEADBOX_DATABASE: %w", err)
	}

	// Bind before serving, so a taken port fails start-up with a clear
	// error instead of a log line from a goroutine; and before building
	// what makes links, which must name the port bound (LEADBOX_LISTEN
	// may ask for any free one).
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("LEADBOX_LISTEN: %w", err)
	}
	defer ln.Close() // for the returns before Serve owns it
	cfg.Bound(ln.Addr())
	for _, n := range cfg.Notices() {
		log.Log(ctx, n.Level, n.Text, "setting", n.Setting)
	}

	privacyKey, err := store.Secret(ctx, models.PrivacyLinkSecret)
	if err != nil {
		return fmt.Errorf("LEADBOX_DATABASE: %w", err)
	}
	worker, err := mailer.New(cfg, store, privacyKey, log)
	if err != nil {
		return err
	}
	formKey, err := store.Secret(ctx, "form_stamp")
	if err != nil {
		return fmt.Errorf("LEADBOX_DATABASE: %w", err)
	}
	spam := models.NewSpamLog(store, cfg.SpamRetention)
	// Counted whether or not /metrics is served: the counting costs
	// nanoseconds, and one code path is simpler to trust than two.
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{
		Forms: []string{handlers.ContactForm}, Outbox: store, Log: log,
	})
	if err != nil {
		return err
	}
	worker.SetMetrics(m)
	// Webhooks have a worker of their own, so that a receiver that is
	// slow or down holds up only webhooks, never an email.
	hooks := webhook.New(store, webhook.Options{
		Key: cfg.WebhookKey(), DoubleOptIn: cfg.DoubleOptIn, Poll: cfg.OutboxPoll, Log: log, Metrics: m,
	})
	notify := worker.Wake
	// Without URLs there is no secret to sign with: webhooks queued while
	// there were some stay pending (`leadbox outbox` shows them) until
	// URLs and a secret are set again, or an operator cancels them.
	hooksRun := func(context.Context) error { return nil }
	served := m.CountConsent(store)
	if len(cfg.WebhookURLs) > 0 {
		served = wakeOnEvents{Store: served, wake: hooks.Wake}
		notify = func() { worker.Wake(); hooks.Wake() }
		hooksRun = hooks.Run
		log.Info(fmt.Sprintf("sending signed webhooks to %d URL(s)", len(cfg.WebhookURLs)))
	}
	gin.SetMode(gin.ReleaseMode)
	handler, err := handlers.NewServer(handlers.Deps{
		Config:      cfg,
		Store:       served,
		ConsentText: consentText,
		Notify:      notify,
		FormKey:     formKey,
		PrivacyKey:  privacyKey,
		Spam:        spam,
		Log:         log,
		Metrics:     m,
		MetricsPage: m.Handler(),
	})
	if err != nil {
		return err
	}
	log.Info("leadbox listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL.String(),
		"database", cfg.Database, "consent_text_version", consentText.Hash[:12])
	if len(cfg.MetricsNetworks) == 0 {
		log.Info("metrics are off (LEADBOX_METRICS_NETWORKS=off)")
	} else {
		log.Info("serving Prometheus metrics at /metrics", "networks", fmt.Sprint(cfg.MetricsNetworks))
	}

	return runUntilDone(ctx, log, newHTTPServer(handler, log), ln,
		background{"mail sender", worker.Run},
		background{"webhook sender", hooksRun},
		background{"spam tallies", func(ctx context.Context) error {
			spam.Run(ctx, 10*time.Second, func(err error) { log.Error("spam tallies", "err", err) })
			return nil
		}},
		background{"housekeeping", housekeeping(store, time.Hour, log)},
		background{"retention", retention(store, cfg, time.Minute, time.Hour, log)},
		background{"integrity check", integrityAtStart(cfg.Database, log)},
		background{"index load", indexesLoaded(store, start, log)})
}

// newHTTPServer wraps handler with the timeouts and limits a public
// server needs: a slow or endless client cannot hold a connection.
func newHTTPServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// background is work that runs beside the HTTP server until it is told to
// stop.
type background struct {
	name string
	run  func(context.Context) error
}

// runUntilDone serves on ln until ctx is cancelled or the server fails.
// The background work stops only after the HTTP server: a lead accepted
// during shutdown still gets its wake-up (and the poll finds it anyway
// after a restart).
func runUntilDone(ctx context.Context, log *slog.Logger, srv *http.Server, ln net.Listener, work ...background) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	workErrs := make([]chan error, len(work))
	for i, w := range work {
		workErrs[i] = make(chan error, 1)
		go func() { workErrs[i] <- w.run(workCtx) }()
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			serveErr = fmt.Errorf("shutdown: %w", err)
		} else if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("http server: %w", err)
		}
	}
	stopWork()
	for i, w := range work {
		if err := <-workErrs[i]; err != nil && serveErr == nil {
			serveErr = fmt.Errorf("%s: %w", w.name, err)
		}
	}
	if serveErr != nil {
		return serveErr
	}
	log.Info("stopped")
	return nil
}

// checkConfig validates the settings and prints them, secrets redacted.
func checkConfig(getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, cfg.String())
	// As comments, so the output stays a list of settings.
	for _, n := range cfg.Notices() {
		label := "note"
		if n.Level >= slog.LevelWarn {
			label = "warning"
		}
		fmt.Fprintf(stdout, "# %s: %s\n", label, n.Text)
	}
	return nil
}
