package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// pragmas reads the settings that matter from one connection.
type pragmas struct {
	journalMode                                      string
	synchronous, busyTimeout, foreignKeys, queryOnly int
}

func readPragmas(t *testing.T, ctx context.Context, c *sql.Conn) pragmas {
	t.Helper()
	var p pragmas
	for _, q := range []struct {
		pragma string
		dst    any
	}{
		{"journal_mode", &p.journalMode},
		{"synchronous", &p.synchronous},
		{"busy_timeout", &p.busyTimeout},
		{"foreign_keys", &p.foreignKeys},
		{"query_only", &p.queryOnly},
	} {
		if err := c.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.dst); err != nil {
			t.Fatalf("PRAGMA %s: %v", q.pragma, err)
		}
	}
	return p
}

// pinAll holds n connections of a pool at once, so each one is a different
// connection, and returns them.
func pinAll(t *testing.T, ctx context.Context, db *sql.DB, n int) []*sql.Conn {
	t.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns[i] = c
	}
	return conns
}

// TestPragmas checks every pooled connection, not just the first: most
// pragmas are per connection.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)

	w, err := s.w.DB()
	if err != nil {
		t.Fatalf("writer: %v", err)
	}
	if got := w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
	wantWriter := pragmas{journalMode: "wal", synchronous: 2, busyTimeout: 10000, foreignKeys: 1, queryOnly: 0}
	for i, c := range pinAll(t, ctx, w, 1) {
		if got := readPragmas(t, ctx, c); got != wantWriter {
			t.Errorf("writer connection %d: %+v, want %+v", i, got, wantWriter)
		}
		var limit int64
		if err := c.QueryRowContext(ctx, "PRAGMA journal_size_limit").Scan(&limit); err != nil || limit != walSizeLimit {
			t.Errorf("writer connection %d: journal_size_limit %d, %v; want %d", i, limit, err, walSizeLimit)
		}
		_ = c.Close()
	}

	r, err := s.DB().DB()
	if err != nil {
		t.Fatalf("read pool: %v", err)
	}
	n := r.Stats().MaxOpenConnections
	if n < 1 {
		t.Fatalf("read pool allows %d connections, want a bounded pool", n)
	}
	for i, c := range pinAll(t, ctx, r, n) {
		got := readPragmas(t, ctx, c)
		if got.journalMode != "wal" || got.busyTimeout != 10000 || got.foreignKeys != 1 || got.queryOnly != 1 {
			t.Errorf("reader connection %d of %d: %+v, want journal_mode wal, busy_timeout 10000, foreign_keys 1, query_only 1", i, n, got)
		}
	}
}

func TestReaderRefusesWrites(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tests := []struct{ name, sql string }{
		{"insert", `INSERT INTO consent_texts (hash, text, created_at) VALUES ('x', 'y', CURRENT_TIMESTAMP)`},
		{"create table", `CREATE TABLE sneaky (id INTEGER)`},
		{"delete", `DELETE FROM leads`},
	}
	for _, tt := range tests {
		if err := s.DB().WithContext(ctx).Exec(tt.sql).Error; err == nil {
			t.Errorf("%s through the read pool succeeded, want an error", tt.name)
		}
	}
	if err := s.DB().WithContext(ctx).Create(&models.ConsentText{Hash: "h", Text: "t", CreatedAt: time.Now()}).Error; err == nil {
		t.Error("gorm Create through the read pool succeeded, want an error")
	}
}

// TestCreateLeadAllOrNothing: an outbox row that cannot be written (a
// full disk, a bug) takes its lead and consent event with it. The
// conformance suite breaks the other steps; only SQLite can stand a
// trigger in for this one so simply.
func TestCreateLeadAllOrNothing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		spoil func(t *testing.T, s *Store, lead *models.Lead, ev *models.ConsentEvent, outbox []models.OutboxMessage)
	}{
		{"outbox insert fails", func(t *testing.T, s *Store, _ *models.Lead, _ *models.ConsentEvent, outbox []models.OutboxMessage) {
			if err := s.w.Exec(`CREATE TRIGGER outbox_boom BEFORE INSERT ON outbox WHEN NEW.kind = 'boom'
				BEGIN SELECT RAISE(ABORT, 'boom'); END`).Error; err != nil {
				t.Fatal(err)
			}
			outbox[1].Kind = "boom"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			lead, ev, outbox := newLead(t, s, "ann@example.com")
			tt.spoil(t, s, lead, ev, outbox)
			before := rowCounts(t, s)
			if err := s.CreateLead(ctx, lead, ev, outbox); err == nil {
				t.Fatal("CreateLead succeeded, want an error")
			}
			if after := rowCounts(t, s); after != before {
				t.Errorf("rows (leads, events, outbox) %v after a failed CreateLead, want unchanged %v", after, before)
			}
			var n int64
			if err := s.DB().Model(&models.ConsentEvent{}).Where("subject = ?", "ann@example.com").Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d consent events left for the failed lead, want 0", n)
			}
			// The writer is usable afterwards: the transaction was rolled back.
			lead2, ev2, out2 := newLead(t, s, "bob@example.com")
			if err := s.CreateLead(ctx, lead2, ev2, out2); err != nil {
				t.Errorf("CreateLead after a failed one: %v", err)
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"3.51.2", "3.51.3", true},
		{"3.51.3", "3.51.3", false},
		{"3.51.4", "3.51.3", false},
		{"3.9.0", "3.51.3", true},
		{"3.100.0", "3.51.3", false},
		{"4.0.0", "3.51.3", false},
		{"3.51", "3.51.3", true},
		{"3.51.3.1", "3.51.3", false},
		{"3.51.3", "3.51.3.0", false},
		{"2.99.99", "3", true},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestOpenRefusesQueryInPath(t *testing.T) {
	for _, p := range []string{"leads.db?mode=memory", "leads.db#x"} {
		if _, err := Open(context.Background(), filepath.Join(t.TempDir(), p)); err == nil {
			t.Errorf("Open(%q) succeeded, want an error", p)
		}
	}
}

// TestReadPoolIsReadyForConcurrentUse: the first reads of a freshly opened
// store, at the same time and through relationships (as the outbox worker
// and a request do just after start), are safe. GORM works schemas out on
// first use and that races; under -race (as in CI) this test caught it in
// every run before Open prepared the read pool's schemas.
func TestReadPoolIsReadyForConcurrentUse(t *testing.T) {
	for i := range 20 {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), strconv.Itoa(i)+".db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			var m models.OutboxMessage
			_ = s.DB().Preload("Lead.Consent.ConsentText").Take(&m).Error
		})
		wg.Go(func() {
			if _, err := s.ConsentHistory(t.Context(), "ann@example.com"); err != nil {
				t.Errorf("ConsentHistory: %v", err)
			}
		})
		wg.Go(func() {
			var l models.Lead
			_ = s.DB().Preload("Consent").Take(&l).Error
		})
		wg.Wait()
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestPingReportsWhenLeadsCannotBeStored: a database that can be read but
// not written (here: at its size limit, as on a full disk) is not ready,
// and is ready again once a lead's worth of writing succeeds.
func TestPingReportsWhenLeadsCannotBeStored(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping of a healthy database: %v", err)
	}
	limit := func(pages int64) {
		t.Helper()
		var got int64
		if err := s.w.Raw(fmt.Sprintf("PRAGMA max_page_count = %d", pages)).Row().Scan(&got); err != nil {
			t.Fatalf("max_page_count: %v", err)
		}
	}
	var pages int64
	if err := s.w.Raw("PRAGMA page_count").Row().Scan(&pages); err != nil {
		t.Fatal(err)
	}
	limit(pages)
	lead, ev, out := newLead(t, s, "ann@example.com")
	lead.Message = strings.Repeat("A long message. ", 500)
	if err := s.CreateLead(ctx, lead, ev, out); err == nil || !isStorageFailure(err) {
		t.Fatalf("CreateLead in a full database: %v, want a storage failure", err)
	}
	for range 2 { // the probe itself must not make it ready
		if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "leads cannot be stored") {
			t.Errorf("Ping after a lead could not be stored: %v, want an error", err)
		}
	}
	limit(1 << 30)
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once space is back: %v, want nil", err)
	}
	probe := func() []byte {
		var v []byte
		if err := s.DB().Raw("SELECT value FROM settings WHERE name LIKE 'storage_probe%'").Row().Scan(&v); err != nil {
			t.Fatalf("read the probe: %v", err)
		}
		return v
	}
	before := probe()
	if err := s.Ping(ctx); err != nil || !bytes.Equal(probe(), before) {
		t.Errorf("Ping of a recovered database: %v, and it wrote a probe again; want nil and no write", err)
	}
	again, ev2, out2 := newLead(t, s, "ann@example.com")
	if err := s.CreateLead(ctx, again, ev2, out2); err != nil {
		t.Errorf("CreateLead once space is back: %v", err)
	}
	// A submission's own problem (here a public id already taken) is not
	// a database that cannot keep leads.
	dup, ev3, out3 := newLead(t, s, "bob@example.com")
	dup.PublicID = again.PublicID
	if err := s.CreateLead(ctx, dup, ev3, out3); err == nil || isStorageFailure(err) {
		t.Fatalf("CreateLead with a taken public id: %v, want a constraint error", err)
	}
	before = probe()
	if err := s.Ping(ctx); err != nil || !bytes.Equal(probe(), before) {
		t.Errorf("Ping after a constraint error: %v, or it wrote a probe; want nil and no write", err)
	}
}

// TestDeletedOrReplacedFile: a database file deleted under a running
// server leaves its connections writing to the unlinked file, which the
// next start will not see; one replaced (a restore while running) is not
// the file written either. No lead is acknowledged then, and readiness
// says so at once.
func TestDeletedOrReplacedFile(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			s, path := newStoreAt(t)
			first, ev, out := newLead(t, s, "ann@example.com")
			if err := s.CreateLead(ctx, first, ev, out); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if how == "replaced" {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "deleted or replaced") {
				t.Errorf("Ping with the database file %s: %v, want an error", how, err)
			}
			lead, ev2, out2 := newLead(t, s, "bob@example.com")
			if err := s.CreateLead(ctx, lead, ev2, out2); err == nil || !strings.Contains(err.Error(), "deleted or replaced") {
				t.Errorf("CreateLead with the database file %s: %v, want an error", how, err)
			}
		})
	}
}

// TestDatabaseFile: every spelling of the database's name leads to one
// file, so its lock and identity checks see one database.
func TestDatabaseFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "leads.db")
	if err := os.WriteFile(real, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	want, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{real, link, "file:" + real, "file://" + real, "file://localhost" + real} {
		if got := DatabaseFile(name); got != want {
			t.Errorf("DatabaseFile(%q) = %q, want %q", name, got, want)
		}
	}
	if got := DatabaseFile("file:relative.db"); got != "relative.db" {
		t.Errorf("DatabaseFile(file:relative.db) = %q", got)
	}
}

// TestOpenForCommands: a store opened for an operator's command reads and
// writes what commands do, without the writer of new leads (whose start
// loads indexes of recent leads), and refuses a submission by name.
func TestOpenForCommands(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	lead, ev, out := newLead(t, s, "ann@example.com")
	if _, err := s.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	c, err := OpenForCommands(ctx, path)
	if err != nil {
		t.Fatalf("OpenForCommands: %v", err)
	}
	defer c.Close()
	if c.commits != nil {
		t.Error("the writer of new leads was started for a command")
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if got, err := c.LeadByPublicID(ctx, lead.PublicID); err != nil || got.ID != lead.ID {
		t.Errorf("LeadByPublicID = %d, %v", got.ID, err)
	}
	if done, err := c.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOperator}); err != nil || !done {
		t.Errorf("Withdraw = %v, %v; want an operator's opt-out recorded", done, err)
	}
	again, ev2, out2 := newLead(t, c, "bob@example.com")
	if _, err := c.CreateLeadOnce(ctx, again, ev2, out2, models.Guards{}); !errors.Is(err, errNotForSubmissions) {
		t.Errorf("CreateLeadOnce on a store for commands: %v, want errNotForSubmissions", err)
	}
	if c.FormBusy() {
		t.Error("FormBusy on a store for commands")
	}
}
