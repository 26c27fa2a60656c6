package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/leadbox/leadbox/models"
)

const outboxUsage = "usage: leadbox outbox             list pending, sending and failed emails\n" +
	"       leadbox outbox cancelled   list emails cancelled, with the reason\n" +
	"       leadbox outbox retry ID    send a failed or cancelled email again"

// outboxCmd is `leadbox outbox [cancelled | retry ID]`: what the mail
// sender still has to do or gave up on, what it was told not to send (a
// confirmation email after an opt-out), and a way to put a message back in
// line once the cause is fixed.
func outboxCmd(ctx context.Context, store models.Store, args []string, stdout io.Writer) error {
	switch {
	case len(args) == 0:
		return outboxList(ctx, store, stdout,
			"the outbox is empty: nothing pending, sending or failed",
			models.StatusPending, models.StatusSending, models.StatusFailed)
	case len(args) == 1 && args[0] == "cancelled":
		return outboxList(ctx, store, stdout, "no email was cancelled", models.StatusCancelled)
	case len(args) == 2 && args[0] == "retry":
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("outbox retry: %q is not a message id\n%s", args[1], outboxUsage)
		}
		if err := store.Requeue(ctx, id, time.Now().UTC()); err != nil {
			return fmt.Errorf("outbox retry: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "message %d is queued again; a running server sends it within its poll interval\n", id)
		return err
	default:
		return errors.New(outboxUsage)
	}
}

// outboxList prints the messages in the given states, or none when there
// are none.
func outboxList(ctx context.Context, store models.Store, stdout io.Writer, none string, statuses ...string) error {
	msgs, err := store.OutboxByStatus(ctx, statuses...)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if len(msgs) == 0 {
		_, err := fmt.Fprintln(stdout, none)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTO\tSTATUS\tATTEMPTS\tNEXT TRY (UTC)\tQUEUED AT (UTC)\tLAST ERROR OR REASON")
	for _, m := range msgs {
		next := "-"
		if m.Status == models.StatusPending {
			next = m.NextAttemptAt.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			m.ID, m.Kind, outboxRecipient(m), m.Status, m.Attempts, next,
			m.QueuedAt.UTC().Format(time.DateTime), outboxOneLine(m.LastError, 80))
	}
	return tw.Flush()
}

// outboxRecipient names who a message goes to without printing a lead's
// address in full: a terminal and its scroll-back are not the place for it.
func outboxRecipient(m models.OutboxMessage) string {
	if m.Kind == models.KindSalesNotification {
		// A colleague's address, not a lead's: shown in full.
		if a, err := mail.ParseAddress(m.Recipient); err == nil {
			return a.Address
		}
		return "sales"
	}
	if m.Lead == nil {
		return "?"
	}
	local, domain, ok := strings.Cut(m.Lead.Email, "@")
	if !ok || local == "" {
		return "***"
	}
	first, _ := utf8.DecodeRuneInString(local)
	return string(first) + "***@" + domain
}

// outboxOneLine keeps a long SMTP reply from breaking the table.
func outboxOneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}
