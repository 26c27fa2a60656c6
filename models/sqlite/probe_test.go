package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// limitPages caps the database at pages (as a full disk would), on the
// writer's one connection.
func limitPages(t *testing.T, s *Store, pages int64) {
	t.Helper()
	var got int64
	if err := s.w.Raw(fmt.Sprintf("PRAGMA max_page_count = %d", pages)).Row().Scan(&got); err != nil {
		t.Fatalf("max_page_count: %v", err)
	}
}

func pageCount(t *testing.T, s *Store) int64 {
	t.Helper()
	var pages int64
	if err := s.w.Raw("PRAGMA page_count").Row().Scan(&pages); err != nil {
		t.Fatal(err)
	}
	return pages
}

// TestPingProbesAnIdleDatabase: a disk that fills up while nobody submits
// makes the database not ready at the next check once the last good
// write is older than the probe interval, before any lead fails; a
// successful commit alone does not make it ready again, a probe does.
func TestPingProbesAnIdleDatabase(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	lead, ev, out := newLead(t, s, "ann@example.com")
	if err := s.CreateLead(ctx, lead, ev, out); err != nil {
		t.Fatal(err)
	}
	s.commits.probeEvery = time.Hour // the commit above is recent, whatever the machine's speed
	limitPages(t, s, pageCount(t, s))
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping right after a commit, disk full: %v; want nil (no probe due)", err)
	}

	s.commits.stored.Store(time.Now().Add(-2 * time.Hour).UnixNano()) // idle for longer than the interval
	for range 2 {
		if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "leads cannot be stored") {
			t.Errorf("Ping of an idle database on a full disk: %v, want leads cannot be stored", err)
		}
	}
	if !s.commits.cannotStore.Load() {
		t.Error("the failed probe did not mark the database unable to store leads")
	}

	limitPages(t, s, 1<<30)
	again, ev2, out2 := newLead(t, s, "bob@example.com")
	if err := s.CreateLead(ctx, again, ev2, out2); err != nil {
		t.Fatalf("CreateLead once space is back: %v", err)
	}
	if !s.commits.cannotStore.Load() {
		t.Error("a commit cleared the failure; only a probe should")
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once space is back: %v, want nil", err)
	}
	if s.commits.cannotStore.Load() {
		t.Error("a successful probe left the database marked unable to store leads")
	}
}

// TestDamageMetWhileIteratingRows: a damaged page met while reading rows
// one by one, after the query started well (here the leaf of the leads
// table with the oldest leads, met by a listing newest first), marks the
// store damaged, as a query's error does.
func TestDamageMetWhileIteratingRows(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	for i := range 200 {
		lead, ev, out := newLead(t, s, fmt.Sprintf("p%d@example.com", i))
		lead.Message = strings.Repeat("A message long enough to fill pages. ", 5)
		if err := s.CreateLead(ctx, lead, ev, out); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	damageFirstLeaf(t, path, "leads")
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Leads(ctx, models.LeadFilter{}, 0, 10, false); err != nil {
		t.Fatalf("the newest leads, away from the damage: %v", err)
	}
	if err := ro.Ping(ctx); err != nil {
		t.Fatalf("Ping before the damage was met: %v", err)
	}
	err = ro.EachLead(ctx, models.LeadFilter{}, false, func(models.LeadItem) error { return nil })
	if err == nil {
		t.Fatal("reading every lead over a damaged page succeeded")
	}
	if err := ro.Ping(ctx); err == nil || !strings.Contains(err.Error(), "check-db") {
		t.Errorf("Ping after the damage was met while iterating: %v, want damaged, saying what to run", err)
	}
}

// damageFirstLeaf overwrites the cells of the first (oldest rows') leaf
// page of table in the closed database file path: the table's root must
// be an interior page, whose first cell starts with its left child's page
// number (SQLite's file format, "B-tree Pages").
func damageFirstLeaf(t *testing.T, path, table string) {
	t.Helper()
	conn, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	var root int64
	err = conn.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = ?", table).Scan(&root)
	_ = conn.Close()
	if err != nil {
		t.Fatalf("root page of %s: %v", table, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	if _, err := f.ReadAt(page, (root-1)*4096); err != nil {
		t.Fatal(err)
	}
	if page[0] != 0x05 {
		t.Fatalf("the root of %s is page type %#x, not an interior table page: store more rows", table, page[0])
	}
	cell := binary.BigEndian.Uint16(page[12:14])
	leaf := int64(binary.BigEndian.Uint32(page[cell : cell+4]))
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, 4096-100), (leaf-1)*4096+100); err != nil {
		t.Fatal(err)
	}
}
