package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
)

// SendTest sends one short message to `to` through the transport cfg
// configures, directly rather than through the outbox, so that an operator
// sees at once whether the SMTP settings work. It returns a sentence saying
// where the message went; an error names the SMTP reply code when there is
// one.
func SendTest(ctx context.Context, cfg config.Config, to *mail.Address) (string, error) {
	// No log: the answer names the file written, and a command's output
	// is read by a person.
	t, err := NewTransport(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", fmt.Errorf("send test email: %w", err)
	}
	msg := testMessage(cfg, to, time.Now())
	sess, err := t.Open(ctx)
	if err != nil {
		return "", fmt.Errorf("send test email: %w", err)
	}
	err = sess.Send(msg, Label{Kind: KindTest})
	closeErr := sess.Close()
	if err != nil && !msg.IsDelivered() {
		if code := smtpCode(err); code != 0 {
			return "", fmt.Errorf("send test email: the SMTP server answered %d: %s", code, describe(err))
		}
		return "", fmt.Errorf("send test email: %s", describe(err))
	}
	if fs, ok := sess.(*fileSession); ok {
		return fmt.Sprintf("wrote the test email to %s (no SMTP host set)", fs.last), nil
	}
	line := fmt.Sprintf("sent the test email to %s through %s", to.Address, t)
	if r := msg.ServerResponse(); r != "" {
		line += "; the server answered: " + r
	}
	if err = errors.Join(err, closeErr); err != nil {
		line += fmt.Sprintf(" (error after the server accepted it, ignored: %s)", describe(err))
	}
	return line, nil
}

func testMessage(cfg config.Config, to *mail.Address, now time.Time) *gomail.Msg {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(cfg.MailFrom)
	msg.ToMailAddress(&mail.Address{Address: to.Address})
	msg.SetDateWithValue(now)
	msg.SetMessageIDWithValue("test-" + models.NewToken(10) + "@" + domainOf(cfg.MailFrom.Address))
	msg.Subject("Leadbox test email")
	msg.SetBodyString(gomail.TypeTextPlain, fmt.Sprintf(
		"This is a test email from Leadbox for %s.\n\nIf you can read it, Leadbox can send email.\n", cfg.Company))
	// Signed like every other email, so the operator can check the DKIM
	// result in the received message's Authentication-Results.
	dkimFrom(cfg).sign(msg)
	return msg
}
