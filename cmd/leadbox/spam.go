package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/leadbox/leadbox/models"
)

// spamCmd prints how many submissions were dropped, by reason, over the
// last day and the last week, so that a defence misfiring on real people
// shows up: `leadbox spam`.
func spamCmd(ctx context.Context, store models.Store, args []string, stdout io.Writer, now time.Time) error {
	if len(args) != 0 {
		return errors.New("usage: leadbox spam")
	}
	day, err := store.SpamCounts(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	week, err := store.SpamCounts(ctx, now.Add(-7*24*time.Hour))
	if err != nil {
		return err
	}
	if len(week) == 0 {
		fmt.Fprintln(stdout, "No submissions dropped as spam in the last 7 days.")
		return nil
	}
	last24 := map[string]int64{}
	for _, c := range day {
		last24[c.Reason] = c.Count
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REASON\tLAST 24 HOURS\tLAST 7 DAYS")
	for _, c := range week {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", c.Reason, last24[c.Reason], c.Count)
	}
	return tw.Flush()
}
