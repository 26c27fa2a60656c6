package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/models"
)

// TestOutboxListsAPageAtATime: a backlog larger than a page is summed up
// first and listed oldest first, 50 by default, as many as asked, or all,
// a page at a time; bad flags exit 2.
func TestOutboxListsAPageAtATime(t *testing.T) {
	ctx := context.Background()
	db, _ := seededDatabase(t, 40) // 60 emails: a sales email each, a confirmation for half
	getenv := databaseEnv(db)
	list := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"outbox"}, args...), getenv, nil, &out, &out)
		return out.String(), err
	}
	// Every listed message names its kind once.
	rows := func(out string) int {
		return strings.Count(out, models.KindSalesNotification) + strings.Count(out, models.KindConsentConfirmation)
	}

	out, err := list()
	if err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasPrefix(first, "pending 60, sending 0, failed 0, cancelled 0, sent 0; the oldest pending email was queued") {
		t.Errorf("summary line %q", first)
	}
	if n := rows(out); n != 50 || !strings.Contains(out, "(the oldest 50 of 60 shown; --limit N or --all for more)") {
		t.Errorf("default listing: %d rows, want 50 and a line saying 10 more exist:\n%s", n, out)
	}
	if out, _ := list("--limit", "7"); rows(out) != 7 || !strings.Contains(out, "oldest 7 of 60") {
		t.Errorf("--limit 7: %d rows:\n%s", rows(out), out)
	}
	if out, _ := list("--all"); rows(out) != 60 || strings.Contains(out, "shown;") {
		t.Errorf("--all: %d rows, want 60 and no 'more' line", rows(out))
	}
	if out, _ := list("cancelled", "--limit", "3"); !strings.Contains(out, "no email or webhook was cancelled") {
		t.Errorf("cancelled: %q", out)
	}
	for _, bad := range [][]string{{"--limit", "0"}, {"--limit", "x"}, {"frobnicate"}, {"retry", "abc"}} {
		_, err := list(bad...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("outbox %v: %v, want a usage error (exit 2)", bad, err)
		}
	}
}
