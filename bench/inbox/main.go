// Command inbox measures the sales inbox's reads on an existing database
// (one bench/seed made): the first page of the lead list and of each kind
// of filter, a search for a common and for a rare word, and a full
// streaming of every lead (what leads.csv reads), with the process's peak
// memory. It reads through the real storage code, as the API does.
//
// Usage:
//
//	go run ./bench/inbox -db /tmp/big.db [-runs 200]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

func main() {
	db := flag.String("db", "", "database file (from bench/seed)")
	runs := flag.Int("runs", 200, "times each query runs")
	flag.Parse()
	if err := run(context.Background(), *db, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "inbox:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, path string, runs int) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()

	fmt.Println("| query | p50 | p99 | max | leads on the page |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	for _, q := range []struct {
		name string
		f    models.LeadFilter
	}{
		{"first page, no filter", models.LeadFilter{}},
		{"status new", models.LeadFilter{Status: models.LeadNew}},
		{"status won (none)", models.LeadFilter{Status: models.LeadWon}},
		{"marketing given (1 in 60)", models.LeadFilter{Marketing: models.MarketingGiven}},
		{"marketing withdrawn (1 in 200)", models.LeadFilter{Marketing: models.MarketingWithdrawn}},
		{"since a month ago", models.LeadFilter{Since: time.Now().AddDate(0, -1, 0)}},
		{"q: a common word (quote)", models.LeadFilter{Query: "quote"}},
		{"q: a rare word (zebra, 1 in 1000)", models.LeadFilter{Query: "zebra"}},
		{"q: no match", models.LeadFilter{Query: "no-such-words"}},
	} {
		var times []time.Duration
		n := 0
		for range runs {
			start := time.Now()
			items, err := store.Leads(ctx, q.f, 0, 50, true)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			times = append(times, time.Since(start))
			n = len(items)
			if times[len(times)-1] > 2*time.Second && len(times) >= 5 {
				break // a slow query's percentiles are clear after a few runs
			}
		}
		slices.Sort(times)
		fmt.Printf("| %s | %s | %s | %s | %d |\n", q.name, pct(times, 50), pct(times, 99), times[len(times)-1].Round(time.Microsecond*10), n)
	}

	start := time.Now()
	rows := 0
	err = store.EachLead(ctx, models.LeadFilter{}, true, func(models.LeadItem) error { rows++; return nil })
	if err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("\nEachLead over every lead: %d rows in %s, %.0f rows/s; peak RSS %s\n",
		rows, d.Round(time.Millisecond), float64(rows)/d.Seconds(), peakRSS())
	return nil
}

func pct(sorted []time.Duration, p int) string {
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)].Round(10 * time.Microsecond).String()
}

// peakRSS is the process's peak resident memory, from /proc (Linux).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
