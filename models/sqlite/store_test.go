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

// newStore opens a new SQLite file in a temp dir.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, _ := newStoreAt(t)
	return s
}

// newStoreAt is newStore, also returning the database's path for reopen.
func newStoreAt(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leads.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// reopen closes s and opens the database at path again, as a restart does.
func reopen(t *testing.T, s *Store, path string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

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

// newLead returns the records of one submission, ready for CreateLead.
func newLead(t *testing.T, s *Store, email string) (*models.Lead, *models.ConsentEvent, []models.OutboxMessage) {
	t.Helper()
	ct, err := s.ConsentTextVersion(context.Background(), "Email me offers.")
	if err != nil {
		t.Fatalf("ConsentTextVersion: %v", err)
	}
	now := time.Now().UTC()
	lead := &models.Lead{
		PublicID: models.NewToken(16), CreatedAt: now, Name: "Ann", Email: email,
		Message: "Hello", OptOutToken: models.NewToken(20),
	}
	ev := &models.ConsentEvent{
		Subject: models.NormalizeEmail(email), Purpose: models.PurposeMarketingEmail, At: now,
		Action: models.ActionGiven, Method: models.MethodForm, IP: "192.0.2.1", ConsentTextID: &ct.ID,
	}
	outbox := []models.OutboxMessage{
		{Kind: models.KindSalesNotification, CreatedAt: now},
		{Kind: models.KindConsentConfirmation, CreatedAt: now},
	}
	return lead, ev, outbox
}

// rowCounts is how many leads, consent events and outbox rows exist.
func rowCounts(t *testing.T, s *Store) [3]int64 {
	t.Helper()
	var c [3]int64
	for i, m := range []any{&models.Lead{}, &models.ConsentEvent{}, &models.OutboxMessage{}} {
		if err := s.DB().Model(m).Count(&c[i]).Error; err != nil {
			t.Fatalf("count: %v", err)
		}
	}
	return c
}

func TestCreateLead(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	lead, ev, outbox := newLead(t, s, "Ann@Example.com")
	if err := s.CreateLead(ctx, lead, ev, outbox); err != nil {
		t.Fatalf("CreateLead: %v", err)
	}
	if got := rowCounts(t, s); got != [3]int64{1, 1, 2} {
		t.Errorf("rows (leads, events, outbox) %v, want [1 1 2]", got)
	}
	got, err := s.LeadByPublicID(ctx, lead.PublicID)
	if err != nil {
		t.Fatalf("LeadByPublicID: %v", err)
	}
	if got.Consent == nil || got.Consent.Action != models.ActionGiven || got.Consent.ConsentText == nil ||
		got.Consent.ConsentText.Text != "Email me offers." || *got.Consent.LeadID != got.ID {
		t.Errorf("read back consent %+v, want the given event with its wording", got.Consent)
	}
	msgs, err := s.OutboxByStatus(ctx, models.StatusPending)
	if err != nil {
		t.Fatalf("OutboxByStatus: %v", err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d pending outbox messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if m.LeadID != got.ID || m.MessageID == "" || m.QueuedAt.IsZero() || m.NextAttemptAt.IsZero() {
			t.Errorf("outbox %s: lead %d, message id %q, queued %v, due %v; want this lead's, with an id, queued and due",
				m.Kind, m.LeadID, m.MessageID, m.QueuedAt, m.NextAttemptAt)
		}
	}
	if _, err := s.LeadByPublicID(ctx, "nope"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("LeadByPublicID(unknown) error %v, want ErrNotFound", err)
	}
}

// TestLeadConsentIsItsSubmissions: a lead's confirmation and an opt-out
// through its link are recorded with its id too, yet reading the lead (for
// an answer, or with an outbox message for its email) gives the consent
// event of its submission, with the wording shown.
func TestLeadConsentIsItsSubmissions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	lead, ev, outbox := newLead(t, s, "Ann@Example.com")
	if err := s.CreateLead(ctx, lead, ev, outbox); err != nil {
		t.Fatalf("CreateLead: %v", err)
	}
	if _, err := s.Confirm(ctx, *lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: models.NormalizeEmail(lead.Email), At: time.Now().UTC(),
		Method: models.MethodOptOutPage, LeadID: &lead.ID}); err != nil {
		t.Fatalf("Withdraw: %v", err)
	}
	want := func(from string, c *models.ConsentEvent) {
		t.Helper()
		if c == nil || c.ID != ev.ID || c.Action != models.ActionGiven || c.Method != models.MethodForm ||
			c.ConsentText == nil || c.ConsentText.Text != "Email me offers." {
			t.Errorf("%s: consent %+v, want the submission's event %d (given, form) with its wording", from, c, ev.ID)
		}
	}
	got, err := s.LeadByID(ctx, lead.ID)
	if err != nil {
		t.Fatalf("LeadByID: %v", err)
	}
	want("LeadByID", got.Consent)
	msgs, err := s.ClaimDue(ctx, time.Now().Add(time.Hour), 10, time.Now().Add(time.Hour+time.Minute))
	if err != nil || len(msgs) == 0 {
		t.Fatalf("ClaimDue: %d messages, error %v; want the sales notification", len(msgs), err)
	}
	for _, m := range msgs {
		if m.Lead == nil {
			t.Fatalf("outbox %s: no lead loaded", m.Kind)
		}
		want("ClaimDue "+m.Kind, m.Lead.Consent)
	}
}

// TestCreateLeadAllOrNothing breaks each step of CreateLead in turn: a
// failure leaves no lead, no consent event and no outbox row behind.
func TestCreateLeadAllOrNothing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		spoil func(t *testing.T, s *Store, lead *models.Lead, ev *models.ConsentEvent, outbox []models.OutboxMessage)
	}{
		{"duplicate public id (lead fails)", func(t *testing.T, s *Store, lead *models.Lead, _ *models.ConsentEvent, _ []models.OutboxMessage) {
			first, fev, fout := newLead(t, s, "first@example.com")
			if err := s.CreateLead(ctx, first, fev, fout); err != nil {
				t.Fatalf("first CreateLead: %v", err)
			}
			lead.PublicID = first.PublicID
		}},
		{"unknown consent text (event fails)", func(_ *testing.T, _ *Store, _ *models.Lead, ev *models.ConsentEvent, _ []models.OutboxMessage) {
			missing := int64(987654)
			ev.ConsentTextID = &missing
		}},
		{"outbox insert fails", func(t *testing.T, s *Store, _ *models.Lead, _ *models.ConsentEvent, outbox []models.OutboxMessage) {
			// A test-only trigger stands in for a full disk or a bug.
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

// TestConsentEventsAppendOnly: the database itself refuses to edit or
// delete consent proof, whatever the code does.
func TestConsentEventsAppendOnly(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	lead, ev, outbox := newLead(t, s, "ann@example.com")
	if err := s.CreateLead(ctx, lead, ev, outbox); err != nil {
		t.Fatalf("CreateLead: %v", err)
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"SQL update", func() error {
			return s.w.WithContext(ctx).Exec(`UPDATE consent_events SET action = ? WHERE id = ?`, models.ActionWithdrawn, ev.ID).Error
		}},
		{"gorm update", func() error {
			return s.w.WithContext(ctx).Model(&models.ConsentEvent{}).Where("id = ?", ev.ID).Update("subject", "x@example.com").Error
		}},
		{"SQL delete", func() error {
			return s.w.WithContext(ctx).Exec(`DELETE FROM consent_events WHERE id = ?`, ev.ID).Error
		}},
		{"gorm delete", func() error {
			return s.w.WithContext(ctx).Delete(&models.ConsentEvent{}, ev.ID).Error
		}},
	}
	for _, tt := range tests {
		err := tt.run()
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error %v, want the append-only trigger's", tt.name, err)
		}
	}
	var got models.ConsentEvent
	if err := s.DB().WithContext(ctx).Take(&got, ev.ID).Error; err != nil {
		t.Fatalf("read event: %v", err)
	}
	if got.Action != models.ActionGiven || got.Subject != "ann@example.com" {
		t.Errorf("event after refused edits: action %q, subject %q; want unchanged", got.Action, got.Subject)
	}
	// Appending still works.
	w := *ev
	w.ID, w.Action, w.Method, w.At = 0, models.ActionWithdrawn, models.MethodOneClick, time.Now().UTC()
	if err := s.w.WithContext(ctx).Omit("ConsentText").Create(&w).Error; err != nil {
		t.Errorf("append a withdrawal: %v", err)
	}
}

func TestConsentTextVersion(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a1, err := s.ConsentTextVersion(ctx, "Wording A")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.ConsentTextVersion(ctx, "Wording A")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.ConsentTextVersion(ctx, "Wording A ") // one byte more is another wording
	if err != nil {
		t.Fatal(err)
	}
	if a1.ID != a2.ID || a1.ID == 0 {
		t.Errorf("same wording got ids %d and %d, want one non-zero id", a1.ID, a2.ID)
	}
	if b.ID == a1.ID {
		t.Errorf("a different wording reused id %d", b.ID)
	}
	if a1.Hash != models.HashConsentText("Wording A") || a1.Text != "Wording A" {
		t.Errorf("stored %q with hash %s, want %q with hash %s", a1.Text, a1.Hash, "Wording A", models.HashConsentText("Wording A"))
	}
	if got := models.HashConsentText("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashConsentText(abc) = %s, want the SHA-256 of abc", got)
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
		if err := s.DB().Raw("SELECT value FROM settings WHERE name = 'storage_probe'").Row().Scan(&v); err != nil {
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
