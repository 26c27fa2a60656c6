package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
)

// retentionLease names the lease that lets one process at a time purge.
const retentionLease = "retention"

// retentionOf is the retention the settings ask for.
func retentionOf(cfg config.Config) models.Retention {
	return models.Retention{Inquiry: cfg.Retention, IP: cfg.IPRetention, DoubleOptIn: cfg.DoubleOptIn}
}

// retentionStore is what purging needs of storage.
type retentionStore interface {
	Purge(ctx context.Context, now time.Time, r models.Retention, dry bool) (models.PurgeReport, error)
	TryLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
}

// purgeOnce runs one purge under the retention lease, held for at most
// hold: false when another process holds it. The lease is given back at
// the end (renewed to now).
func purgeOnce(ctx context.Context, store retentionStore, r models.Retention, now time.Time, hold time.Duration, holder string) (models.PurgeReport, bool, error) {
	ok, err := store.TryLease(ctx, retentionLease, holder, now, now.Add(hold))
	if err != nil || !ok {
		return models.PurgeReport{}, false, err
	}
	rep, err := store.Purge(ctx, now, r, false)
	end := time.Now().UTC()
	if _, lerr := store.TryLease(context.WithoutCancel(ctx), retentionLease, holder, end, end); err == nil {
		err = lerr
	}
	return rep, true, err
}

// purgeCmd is `leadbox purge [--dry-run]`: it erases now what the hourly
// retention of `leadbox serve` would, and prints what as counts. A dry run
// counts and changes nothing.
func purgeCmd(ctx context.Context, getenv func(string) string, args []string, stdout io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dry := fs.Bool("dry-run", false, "count what would be erased, change nothing")
	const use = "leadbox purge [--dry-run]"
	rest, err := parseArgs(fs, args, use)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badInput("purge: unexpected %q (usage: %s)", rest[0], use)
	}
	return withStore(ctx, getenv, func(cfg config.Config, store models.Store) error {
		r := retentionOf(cfg)
		if r.Inquiry == 0 && r.IP == 0 {
			_, err := fmt.Fprintln(stdout, "retention is off (LEADBOX_RETENTION=0 and LEADBOX_IP_RETENTION=0): nothing is ever purged")
			return err
		}
		var rep models.PurgeReport
		if *dry {
			if rep, err = store.Purge(ctx, now, r, true); err != nil {
				return err
			}
		} else {
			var ok bool
			rep, ok, err = purgeOnce(ctx, store, r, now, 30*time.Minute, fmt.Sprintf("leadbox purge (%s)", models.NewToken(5)))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("purge: another process is purging now (leadbox serve's hourly retention); try again in a few minutes")
			}
		}
		_, err = fmt.Fprintln(stdout, describePurge(rep, *dry, cfg))
		return err
	})
}

// describePurge says what a purge did (or, dry, would do), in counts.
func describePurge(rep models.PurgeReport, dry bool, cfg config.Config) string {
	verb := "erased"
	if dry {
		verb = "would erase"
	}
	s := fmt.Sprintf("%s %d leads of %d people whole, the inquiry data of %d leads whose consent stands, and the IP addresses of %d consent records",
		verb, rep.Leads, rep.People, rep.Inquiries, rep.IPs)
	s += fmt.Sprintf(" (LEADBOX_RETENTION=%s, LEADBOX_IP_RETENTION=%s)", config.FormatRetention(cfg.Retention), config.FormatRetention(cfg.IPRetention))
	if !dry && rep.Batches > 0 {
		s += fmt.Sprintf("; %d write transactions, the longest %s, %d over %s", rep.Batches,
			rep.LongestBatch.Round(time.Millisecond/10), rep.LongBatches, models.PurgeWriterLimit)
	}
	return s
}

// retention purges every interval, in the process that holds the
// retention lease, what has been kept long enough: the first time after
// first (a minute after start, in serve), so that a server restarted often
// still purges.
func retention(store retentionStore, cfg config.Config, first, every time.Duration, log *slog.Logger) func(context.Context) error {
	r := retentionOf(cfg)
	holder := fmt.Sprintf("leadbox serve (%s)", models.NewToken(5))
	return func(ctx context.Context) error {
		if r.Inquiry == 0 && r.IP == 0 {
			<-ctx.Done()
			return nil
		}
		wait := time.NewTimer(first)
		defer wait.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-wait.C:
			}
			start := time.Now()
			rep, ran, err := purgeOnce(ctx, store, r, start.UTC(), every, holder)
			switch {
			case err != nil && ctx.Err() != nil:
				log.Info("retention: purge stopped by the shutdown; the next run goes on from there",
					"leads", rep.Leads, "people", rep.People, "inquiries", rep.Inquiries, "ips", rep.IPs)
				return nil
			case err != nil:
				log.Error("retention: purge failed", "err", err)
			case ran && rep.Leads+rep.Inquiries+rep.IPs > 0:
				log.Info("retention: purged", "leads", rep.Leads, "people", rep.People, "inquiries", rep.Inquiries,
					"ips", rep.IPs, "took", time.Since(start).Round(time.Millisecond).String(),
					"longest_write", rep.LongestBatch.Round(time.Millisecond/10).String())
			}
			wait.Reset(every)
		}
	}
}
