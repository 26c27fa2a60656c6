package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
	"github.com/leadbox/leadbox/models/storetest"
)

// TestCheckDB: `leadbox check-db` says ok for a sound file and names the
// damage of a broken one with exit 1, and never changes the file.
func TestCheckDB(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "leadbox.db")
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	sub := storetest.NewSubmission(t, store, "ann@example.com")
	if _, err := store.CreateLeadOnce(ctx, sub.Lead, sub.Consent, sub.Outbox, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	var root int64
	if err := store.DB().Raw("SELECT rootpage FROM sqlite_schema WHERE name = 'idx_leads_public_id'").Scan(&root).Error; err != nil {
		t.Fatal(err)
	}
	_ = store.Close()
	getenv := func(k string) string {
		if k == "LEADBOX_DATABASE" {
			return db
		}
		return ""
	}
	check := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"check-db"}, args...), getenv, nil, &out, &out)
		return out.String(), err
	}
	for _, args := range [][]string{nil, {"--full"}} {
		if out, err := check(args...); err != nil || !strings.HasPrefix(out, "database ok") {
			t.Errorf("check-db %v on a sound file: %q, %v", args, out, err)
		}
	}

	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The index's cells live at the end of its page.
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, 4096-100), (root-1)*4096+100); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	before, _ := os.ReadFile(db)
	out, err := check("--full")
	if err == nil || exitStatus(err, &bytes.Buffer{}) != 1 || !strings.HasPrefix(out, "database damaged") || !strings.Contains(out, "A damaged database") {
		t.Errorf("check-db on a damaged file: %q, %v; want the damage named, the way out, exit 1", out, err)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Error("check-db changed the damaged file")
	}
	var u usageError
	if _, err := check("extra"); !errors.As(err, &u) {
		t.Errorf("check-db extra: %v, want a usage error", err)
	}
}
