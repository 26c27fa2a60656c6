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
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // LEADBOX_TIMEZONE must work in minimal container images.
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "leadbox:", err)
		os.Exit(1)
	}
}

const usage = `Usage: leadbox [command]

Commands:
  serve                  run the HTTP server and the mail sender (the default)
  check-config           validate the LEADBOX_* settings and print them, secrets redacted
  help                   show this text

Settings are read from LEADBOX_* environment variables; see README.md.
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
	}
	_ = rest
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
