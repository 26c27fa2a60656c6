package main

import (
	"context"
	"flag"
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

const outboxUsage = "usage: leadbox outbox [--limit N | --all]             pending, sending and failed emails and webhooks, oldest first\n" +
	"       leadbox outbox cancelled [--limit N | --all]   emails and webhooks cancelled, with the reason\n" +
	"       leadbox outbox retry ID                        send a failed or cancelled email or webhook again\n" +
	"       leadbox outbox cancel ID                       do not send a pending email or webhook"

// outboxPageSize is how many messages the listing reads at a time, and
// shows by default.
const outboxPageSize = 50

// outboxCmd is `leadbox outbox [cancelled | retry ID]`: what the mail
// sender still has to do or gave up on, what it was told not to send (a
// confirmation email after an opt-out), and a way to put a message back in
// line once the cause is fixed. A listing starts with the counts by state
// and how long the oldest pending email has waited, then shows the oldest
// messages a page at a time, so that a backlog of any size answers at once.
func outboxCmd(ctx context.Context, store models.Store, args []string, stdout io.Writer) error {
	if len(args) == 2 && args[0] == "cancel" {
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || id <= 0 {
			return badInput("outbox cancel: %q is not a message id (usage: leadbox outbox cancel ID)", args[1])
		}
		if err := store.Cancel(ctx, id); err != nil {
			return fmt.Errorf("outbox cancel: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "message %d is cancelled; `leadbox outbox retry %d` queues it again\n", id, id)
		return err
	}
	if len(args) == 2 && args[0] == "retry" {
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || id <= 0 {
			return badInput("outbox retry: %q is not a message id (usage: leadbox outbox retry ID)", args[1])
		}
		if err := store.Requeue(ctx, id, time.Now().UTC()); err != nil {
			return fmt.Errorf("outbox retry: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "message %d is queued again; a running server sends it within its poll interval\n", id)
		return err
	}
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	limit := fs.Int("limit", outboxPageSize, "how many messages to show")
	all := fs.Bool("all", false, "show every message")
	pos, err := parseArgs(fs, args, outboxUsage)
	if err != nil {
		return err
	}
	if *limit < 1 {
		return badInput("outbox: --limit must be at least 1 (usage: %s)", outboxUsage)
	}
	if *all {
		*limit = 0
	}
	switch {
	case len(pos) == 0:
		return outboxList(ctx, store, stdout, *limit,
			"the outbox is empty: no email or webhook pending, sending or failed",
			models.StatusPending, models.StatusSending, models.StatusFailed)
	case len(pos) == 1 && pos[0] == "cancelled":
		return outboxList(ctx, store, stdout, *limit, "no email or webhook was cancelled", models.StatusCancelled)
	}
	return badInput("outbox: unknown arguments %q (%s)", pos, outboxUsage)
}

// outboxList prints the counts, then up to limit messages in the given
// states (every one for 0), oldest first, or none when there are none.
func outboxList(ctx context.Context, store models.Store, stdout io.Writer, limit int, none string, statuses ...string) error {
	counts, err := store.OutboxCounts(ctx)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	var total int64
	for _, st := range statuses {
		total += counts.ByStatus[st]
	}
	if total == 0 {
		_, err := fmt.Fprintln(stdout, none)
		return err
	}
	fmt.Fprintln(stdout, outboxSummary(counts, time.Now()))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTO\tSTATUS\tATTEMPTS\tNEXT TRY (UTC)\tQUEUED AT (UTC)\tLAST ERROR OR REASON")
	shown, after := 0, int64(0)
	for limit == 0 || shown < limit {
		size := outboxPageSize
		if limit > 0 {
			size = min(size, limit-shown)
		}
		page, err := store.OutboxPage(ctx, statuses, after, size)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		for _, m := range page {
			next := "-"
			if m.Status == models.StatusPending {
				next = m.NextAttemptAt.UTC().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
				m.ID, outboxKind(m), outboxRecipient(m), m.Status, m.Attempts, next,
				m.QueuedAt.UTC().Format(time.DateTime), outboxOneLine(m.LastError, 80))
		}
		shown += len(page)
		if len(page) < size {
			break
		}
		after = page[len(page)-1].ID
		if err := tw.Flush(); err != nil { // stream a long listing as it goes
			return err
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if more := total - int64(shown); more > 0 {
		_, err := fmt.Fprintf(stdout, "(the oldest %d of %d shown; --limit N or --all for more)\n", shown, total)
		return err
	}
	return nil
}

// outboxSummary is the listing's first line: the counts by state and how
// long the oldest pending email has waited, which is how far behind the
// mail is.
func outboxSummary(c models.OutboxCounts, now time.Time) string {
	var parts []string
	for _, st := range []string{models.StatusPending, models.StatusSending, models.StatusFailed, models.StatusCancelled, models.StatusSent} {
		parts = append(parts, fmt.Sprintf("%s %d", st, c.ByStatus[st]))
	}
	line := strings.Join(parts, ", ")
	if !c.OldestPending.IsZero() {
		line += fmt.Sprintf("; the oldest pending email was queued %s ago (%s UTC)",
			now.Sub(c.OldestPending).Round(time.Second), c.OldestPending.UTC().Format(time.DateTime))
	}
	return line
}

// outboxKind is the message's kind, and a webhook's event beside it.
func outboxKind(m models.OutboxMessage) string {
	if m.Kind == models.KindWebhook {
		return m.Kind + " " + m.Event
	}
	return m.Kind
}

// outboxRecipient names who a message goes to without printing a lead's
// address in full: a terminal and its scroll-back are not the place for it.
// A webhook goes to its URL, which holds nothing of the lead.
func outboxRecipient(m models.OutboxMessage) string {
	if m.Kind == models.KindWebhook {
		return m.Target
	}
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
