package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"testing"

	"github.com/leadbox/leadbox/models"
)

// TestCheckIntegrity: a sound file passes both checks; a file with a
// damaged index page is reported by both, and the check leaves the damaged
// file exactly as it was (no migration, no journal-mode switch, no write).
func TestCheckIntegrity(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		lead, ev, out := newLead(t, s, email)
		if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
			t.Fatal(err)
		}
	}
	var root int64
	if err := s.DB().Raw("SELECT rootpage FROM sqlite_schema WHERE name = 'idx_leads_opt_out_token'").Scan(&root).Error; err != nil || root == 0 {
		t.Fatalf("root page of an index: %d, %v", root, err)
	}
	if err := s.Close(); err != nil { // checkpoints: everything is in the main file
		t.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		if problems, err := CheckIntegrity(ctx, path, full); err != nil || len(problems) != 0 {
			t.Errorf("sound file, full=%v: %v, %v; want no problems", full, problems, err)
		}
	}

	// Damage the index's page, as a failing disk or a torn copy would.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 4096-100)
	_, _ = rand.Read(junk)
	if _, err := f.WriteAt(junk, (root-1)*4096+100); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	before := fileHash(t, path)
	for _, full := range []bool{false, true} {
		problems, err := CheckIntegrity(ctx, path, full)
		if err != nil || len(problems) == 0 {
			t.Errorf("damaged file, full=%v: %v, %v; want the damage reported", full, problems, err)
		}
	}
	if after := fileHash(t, path); !bytes.Equal(before, after) {
		t.Error("checking the damaged file changed it")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(path + suffix); err == nil && fi.Size() > 0 && suffix == "-wal" {
			t.Errorf("the check left a write-ahead log of %d bytes", fi.Size())
		}
	}
	if _, err := CheckIntegrity(ctx, path+".missing", false); err == nil {
		t.Error("a missing file was checked without an error")
	}
}

func fileHash(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// TestBackupFile: a copy of the database, made without changing the
// original, which refuses to overwrite a file.
func TestBackupFile(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	lead, ev, out := newLead(t, s, "ann@example.com")
	if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, path)
	dst := path + ".backup"
	if err := BackupFile(ctx, path, dst); err != nil {
		t.Fatalf("BackupFile: %v", err)
	}
	if after := fileHash(t, path); !bytes.Equal(before, after) {
		t.Error("backing up changed the original")
	}
	copied, err := Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	if got, err := copied.LeadByPublicID(ctx, lead.PublicID); err != nil || got.Name != lead.Name {
		t.Errorf("the backup's lead: %+v, %v", got, err)
	}
	if err := BackupFile(ctx, path, dst); err == nil {
		t.Error("a backup overwrote an existing file")
	}
}
