package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/internal/testlog"
	"github.com/leadbox/leadbox/models/sqlite"
	"github.com/leadbox/leadbox/models/storetest"
)

// agedDatabase makes a database with old leads made 800 days ago, the box
// unticked (so nothing keeps them), and fresh recent ones, through the
// real engine.
func agedDatabase(t *testing.T, old, fresh int) string {
	t.Helper()
	then := time.Now().UTC().Add(-800 * 24 * time.Hour)
	db, _ := seedLeads(t, old+fresh, func(i int, sub *storetest.Submission) {
		untick(sub)
		if i < old {
			at := then.Add(time.Duration(i) * time.Second)
			sub.Lead.CreatedAt, sub.Consent.At = at, at
		}
	})
	return db
}

// TestPurgeCommand: a dry run counts and changes nothing; the purge erases
// what the retention says and prints it; a second finds nothing; bad
// input exits 2.
func TestPurgeCommand(t *testing.T) {
	ctx := context.Background()
	db := agedDatabase(t, 12, 5)
	getenv := databaseEnv(db)
	purge := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"purge"}, args...), getenv, nil, &out, &out)
		return out.String(), err
	}
	erasedLeads := func() int64 {
		store, err := sqlite.OpenForCommands(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		var n int64
		if err := store.DB().Table("leads").Where("erased_at IS NOT NULL").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}

	out, err := purge("--dry-run")
	if err != nil || !strings.HasPrefix(out, "would erase 12 leads of 12 people whole, the inquiry data of 0 leads") {
		t.Errorf("dry run: %q, %v", out, err)
	}
	if n := erasedLeads(); n != 0 {
		t.Errorf("a dry run erased %d leads", n)
	}
	out, err = purge()
	if err != nil || !strings.HasPrefix(out, "erased 12 leads of 12 people whole") || !strings.Contains(out, "LEADBOX_RETENTION=730d, LEADBOX_IP_RETENTION=30d") {
		t.Errorf("purge: %q, %v", out, err)
	}
	if n := erasedLeads(); n != 12 {
		t.Errorf("%d leads erased, want the 12 old ones", n)
	}
	if out, err = purge(); err != nil || !strings.HasPrefix(out, "erased 0 leads of 0 people whole, the inquiry data of 0 leads") {
		t.Errorf("second purge: %q, %v", out, err)
	}
	var u usageError
	for _, args := range [][]string{{"--now"}, {"extra"}} {
		if _, err := purge(args...); !errors.As(err, &u) {
			t.Errorf("purge %v: %v, want a usage error (exit 2)", args, err)
		}
	}
	off := func(k string) string {
		switch k {
		case "LEADBOX_RETENTION", "LEADBOX_IP_RETENTION":
			return "0"
		}
		return getenv(k)
	}
	var buf bytes.Buffer
	if err := run(ctx, []string{"purge"}, off, nil, &buf, &buf); err != nil || !strings.Contains(buf.String(), "retention is off") {
		t.Errorf("purge with retention off: %q, %v", buf.String(), err)
	}
}

// TestRetentionRunsInOneProcess: the hourly retention purges in the
// process holding the lease; another process (a purge command) waits its
// turn instead of purging at the same time.
func TestRetentionRunsInOneProcess(t *testing.T) {
	ctx := context.Background()
	db := agedDatabase(t, 6, 1)
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	// Another process holds the lease for the next half hour.
	if ok, err := store.TryLease(ctx, retentionLease, "another process", now, now.Add(30*time.Minute)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	cfg, err := config.Load(databaseEnv(db))
	if err != nil {
		t.Fatal(err)
	}
	if _, ran, err := purgeOnce(ctx, store, retentionOf(cfg), now, time.Hour, "this process"); err != nil || ran {
		t.Errorf("purge while another holds the lease: ran %v, %v; want it skipped", ran, err)
	}
	// Its lease given back, the hourly task purges at its first tick.
	if _, err := store.TryLease(ctx, retentionLease, "another process", now, now); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- retention(store, cfg, 0, time.Hour, log)(ctx) }()
	waitUntil(t, "the hourly retention to purge", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "retention: purged")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "leads=6") || strings.Contains(logs.String(), "@example.com") {
		t.Errorf("retention's log line: %s", logs.String())
	}
}
