package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// TestBackupFileWhileWritten: a copy of a database that another connection
// writes all the time still completes (after its restarts it holds one
// snapshot), is consistent (the writer keeps two tables' counts equal in
// each transaction), is in DELETE journal mode, and leaves no temp file.
func TestBackupFileWhileWritten(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "src.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// About 12 MB: several steps of backupStepPages.
	for _, q := range []string{
		"CREATE TABLE a (id INTEGER PRIMARY KEY, pad BLOB)",
		"CREATE TABLE b (id INTEGER PRIMARY KEY)",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000) INSERT INTO a(pad) SELECT randomblob(4000) FROM n",
		"INSERT INTO b SELECT id FROM a",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			tx, err := db.Begin()
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := tx.Exec("INSERT INTO a(pad) VALUES (randomblob(4000))"); err != nil {
				t.Error(err)
			}
			if _, err := tx.Exec("INSERT INTO b SELECT max(id) FROM a"); err != nil {
				t.Error(err)
			}
			if err := tx.Commit(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	dst := filepath.Join(dir, "copy.db")
	err = BackupFile(context.Background(), path, dst)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("BackupFile: %v", err)
	}

	copied, err := sql.Open("sqlite3", "file:"+dst+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	var a, b int
	var mode string
	if err := copied.QueryRow("SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)").Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a != b || a < 3000 {
		t.Errorf("the copy has %d rows in a and %d in b, want the same, at least 3000", a, b)
	}
	if err := copied.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("the copy's journal mode: %q, %v; want delete", mode, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != "src.db" && n != "src.db-wal" && n != "src.db-shm" && n != "copy.db" {
			t.Errorf("left beside the copy: %s", n)
		}
	}
}

// TestEraseBesideLongReader: an erasure's checkpoint gives up after
// checkpointWait when a reader (Litestream, a backup) holds an old
// snapshot, instead of holding the writer for the busy timeout (10 s).
func TestEraseBesideLongReader(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	lead, ev, out := newLead(t, s, "ann@example.com")
	if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	reader, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	tx, err := reader.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM leads").Scan(&n); err != nil {
		t.Fatal(err)
	}
	lead, ev, out = newLead(t, s, "bob@example.com")
	if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.EraseSubject(ctx, "bob@example.com", models.Origin{At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the erasure took %v beside a long reader, want about %v", took, checkpointWait)
	}
	// The writer's connection waits again as long as before.
	tx.Rollback()
	lead, ev, out = newLead(t, s, "cy@example.com")
	if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
}
