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
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
	if code := exitStatus(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr), os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// exitStatus reports run's error on stderr, as one "leadbox: ..." line,
// and returns the process's exit status: 0 without an error, 2 for bad
// input on the command line (a usageError, as the contract asks of the
// user and token commands), 1 for anything else.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "leadbox:", err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError is a command refused for what was typed (an unknown role, a
// missing flag, a name that does not exist or already does), as opposed
// to a failure of the database or the settings: scripts can tell the two
// apart by the exit status (2 and 1). Its text is one line, printed after
// "leadbox: ".
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// badInput returns a usageError.
func badInput(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}

// parseArgs parses a sub-command's flags wherever they stand among its
// arguments (`user add EMAIL --role ROLE` as well as `user add --role ROLE
// EMAIL`; the flag package alone stops at the first argument) and returns
// the other arguments. After "--" everything is an argument. A bad flag
// is a usageError naming the command and its usage.
func parseArgs(fs *flag.FlagSet, args []string, usage string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, badInput("%s: %v (usage: %s)", fs.Name(), err, usage)
		}
		left := fs.Args()
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), nil
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest, args = append(rest, left[0]), left[1:]
	}
}

const usage = `Usage: leadbox [command]

Commands:
  serve                  run the HTTP server and the mail sender (the default)
  check-config           validate the LEADBOX_* settings and print them, secrets redacted
  consent EMAIL          print a person's whole consent history (the proof)
  outbox [--limit N | --all]
                         counts by state and the oldest pending message's age, then the
                         oldest emails and webhooks waiting, in flight or given up on
                         (50 by default)
  outbox cancelled [--limit N | --all]
                         the same for those cancelled (after an opt-out), with the reason
  outbox retry ID        send a failed or cancelled email or webhook again
  outbox cancel ID       do not send a pending email or webhook
  webhook secret         print a new LEADBOX_WEBHOOK_SECRET
  send-test-email TO     send one email through the configured transport now
  spam                   count submissions dropped as spam, by reason
  optout EMAIL           record an operator's opt-out for a person who asked
  backup FILE            write a consistent copy of the database to a new file, while serving
  check-db [--full]      check the database file for damage, read-only (exit 1 when damaged)
  user add EMAIL --role ROLE
                         add a user of the inbox (role admin, sales or marketing);
                         the password is the first line of stdin, 12 characters or more
  user list              list users: email, role, created, last sign-in
  user remove EMAIL      remove a user and end their sessions
  token create --role ROLE --name NAME
                         make an API token and print it (only its hash is kept)
  token list             list API tokens: name, role, created, last used
  token revoke NAME      revoke an API token, at once
  audit verify           check the audit log's hash chain (exit 1 when broken)
  purge [--dry-run]      erase now what LEADBOX_RETENTION and LEADBOX_IP_RETENTION say was
                         kept long enough (serve does it hourly) and print the counts
  healthcheck            exit 0 when the local server's /readyz answers 200 (for containers)
  help                   show this text

Settings are read from LEADBOX_* environment variables; see docs/settings.md.
Exit status: 0 on success, 2 when a user, token, audit, outbox, backup,
check-db, purge or webhook command is given bad input (the reason on one line), 1 on other
errors.
`

// run is the whole program behind main, with its inputs passed in so that
// tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
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
	case "user":
		return userCmd(ctx, getenv, rest, stdin, stdout, time.Now())
	case "token":
		return tokenCmd(ctx, getenv, rest, stdout, time.Now())
	case "audit":
		return auditCmd(ctx, getenv, rest, stdout)
	case "check-db":
		return checkDBCmd(ctx, getenv, rest, stdout)
	case "backup":
		return backupCmd(ctx, getenv, rest, stdout)
	case "webhook":
		return webhookCmd(rest, stdout)
	case "purge":
		return purgeCmd(ctx, getenv, rest, stdout, time.Now().UTC())
	case "consent", "optout", "outbox", "spam":
		open := withReadOnlyStore
		if cmd == "optout" || (cmd == "outbox" && !outboxListing(rest)) {
			open = withStore
		}
		return open(ctx, getenv, func(cfg config.Config, store models.Store) error {
			switch cmd {
			case "consent":
				return consentCmd(ctx, cfg, store, rest, stdout)
			case "optout":
				return optOutCmd(ctx, store, rest, stdout)
			case "spam":
				return spamCmd(ctx, store, rest, stdout, time.Now())
			}
			return outboxCmd(ctx, store, rest, stdout)
		})
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// outboxListing reports whether `outbox` with args only lists (no
// sub-command, or `cancelled`, with flags anywhere), which opens the
// database read-only; its other sub-commands (retry, cancel) write.
func outboxListing(args []string) bool {
	return len(args) == 0 || args[0] == "cancelled" || strings.HasPrefix(args[0], "-")
}

// withReadOnlyStore is withStore for a sub-command that only reads (see
// openReadOnly).
func withReadOnlyStore(ctx context.Context, getenv func(string) string, f func(config.Config, models.Store) error) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	store, err := openReadOnly(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	return f(cfg, store)
}

// withStore loads the settings and opens the existing database for a
// sub-command (see openExisting).
func withStore(ctx context.Context, getenv func(string) string, f func(config.Config, models.Store) error) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	store, err := openExisting(ctx, cfg.Database, storeOptions(cfg)...)
	if err != nil {
		return err
	}
	defer store.Close()
	return f(cfg, store)
}
