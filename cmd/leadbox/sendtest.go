package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/mailer"
)

// sendTestEmail is `leadbox send-test-email TO`: one message straight
// through the configured transport, bypassing the outbox, to check the SMTP
// settings.
func sendTestEmail(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	const usage = "usage: leadbox send-test-email TO (one plain address, such as you@example.com)"
	if len(args) != 1 {
		return errors.New(usage)
	}
	to, err := mail.ParseAddress(args[0])
	if err != nil || to.Name != "" {
		return fmt.Errorf("%q is not an email address; %s", args[0], usage)
	}
	line, err := mailer.SendTest(ctx, cfg, to)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, line)
	return err
}
