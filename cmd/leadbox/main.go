// Command leadbox is the contact-form and lead-capture backend: it serves
// the form, stores leads with their consent records, and sends the emails.
//
// Usage:
//
//	leadbox [serve]          run the HTTP server and the mail sender
//	leadbox check-config     print the effective settings (secrets redacted)
//	leadbox help             list every sub-command
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // LEADBOX_TIMEZONE must work in minimal container images.

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown; a second one (Ctrl-C
	// again, or an orchestrator out of patience) ends the process at once.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "leadbox:", err)
		os.Exit(1)
	}
}

const usage = `Usage: leadbox [command]

Commands:
  serve                  run the HTTP server and the mail sender (the default)
  check-config           validate the LEADBOX_* settings and print them, secrets redacted
  consent EMAIL          print a person's whole consent history (the proof)
  outbox                 list emails waiting, in flight, or given up on
  outbox cancelled       list emails cancelled (after an opt-out), with the reason
  outbox retry ID        send a failed or cancelled email again
  send-test-email TO     send one email through the configured transport now
  spam                   count submissions dropped as spam, by reason
  optout EMAIL           record an operator's opt-out for a person who asked
  backup FILE            write a consistent copy of the database to a new file, while serving
  healthcheck            exit 0 when the local server's /readyz answers 200 (for containers)
  help                   show this text

Settings are read from LEADBOX_* environment variables; see docs/settings.md.
`

// run is the whole program behind main, with its inputs passed in so that
// tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "check-config":
		return checkConfig(getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "healthcheck":
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return healthcheck(ctx, cfg)
	case "send-test-email":
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return sendTestEmail(ctx, cfg, rest, stdout)
	case "consent", "optout", "outbox", "spam", "backup":
		return withStore(ctx, getenv, func(cfg config.Config, store models.Store) error {
			switch cmd {
			case "consent":
				return consentCmd(ctx, cfg, store, rest, stdout)
			case "optout":
				return optOutCmd(ctx, store, rest, stdout)
			case "spam":
				return spamCmd(ctx, store, rest, stdout, time.Now())
			case "backup":
				if len(rest) != 1 {
					return errors.New("usage: leadbox backup FILE")
				}
				b, ok := store.(backuper)
				if !ok {
					return errors.New("backup: this database has its own tools (pg_dump); see docs/operations.md")
				}
				if err := b.Backup(ctx, rest[0]); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "backed up to %s\n", rest[0])
				return nil
			}
			return outboxCmd(ctx, store, rest, stdout)
		})
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// backuper is an engine that can copy its database to a file while it
// serves (SQLite's VACUUM INTO); a database server has its own tools.
type backuper interface {
	Backup(ctx context.Context, path string) error
}

// withStore loads the settings and opens the existing database for a
// sub-command (see openExisting).
func withStore(ctx context.Context, getenv func(string) string, f func(config.Config, models.Store) error) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	store, err := openExisting(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	return f(cfg, store)
}
