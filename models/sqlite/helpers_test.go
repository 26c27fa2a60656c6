package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/storetest"
)

// The helpers the SQLite engine's tests share. Each test that needs
// anything but a new, empty database on default settings says so itself.

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
	waitLoaded(t, s)
	return s, path
}

// waitLoaded waits until the writer's in-memory indexes are loaded: the
// tests that look into them, or that tell memory from database answers,
// need them there.
func waitLoaded(t *testing.T, s *Store) {
	t.Helper()
	<-s.IndexesLoaded()
	if err := s.IndexLoadError(); err != nil {
		t.Fatalf("load the in-memory indexes: %v", err)
	}
}

// openCold opens the database at path with the load of the writer's
// in-memory indexes held until release is closed (never, if nil).
func openCold(t *testing.T, path string, release <-chan struct{}) *Store {
	t.Helper()
	if release == nil {
		release = make(chan struct{})
	}
	s, err := open(context.Background(), path, openOptions{submissions: true, holdIndexes: release})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
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
	waitLoaded(t, s)
	return s
}

// baselineFile makes a database file with the baseline schema only (the
// first migration), as releases before the later steps left it, then runs
// stmts on it, and returns its path.
func baselineFile(t *testing.T, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leads.db")
	db, err := gorm.Open(sqlite.Open(path+"?"+writerPragmas), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if err := migrate(context.Background(), db, migrations[:1]); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	for _, stmt := range stmts {
		if err := db.Exec(stmt).Error; err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return path
}

// newLead returns the records of one submission, ready for CreateLead.
func newLead(t *testing.T, s *Store, email string) (*models.Lead, *models.ConsentEvent, []models.OutboxMessage) {
	t.Helper()
	sub := storetest.NewSubmission(t, s, email)
	return sub.Lead, sub.Consent, sub.Outbox
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

// duplicate keeps the tests of duplicate detection short.
func duplicate(c models.Created, err error) (bool, error) { return c.Duplicate, err }

// limitOf is the guard of the default setting with at most n confirmation
// emails a day.
func limitOf(n int) models.Guards {
	return models.Guards{LimitConfirmations: true, MaxConfirmations: n}
}

// confirmationsQueued counts the confirmation emails in the outbox for an
// address, straight from the table.
func confirmationsQueued(t *testing.T, s *Store, email string) int64 {
	t.Helper()
	var n int64
	err := s.DB().Model(&models.OutboxMessage{}).
		Where("kind = ? AND lead_id IN (?)", models.KindConsentConfirmation,
			s.DB().Model(&models.Lead{}).Select("id").Where("email_key = ?", models.NormalizeEmail(email))).
		Count(&n).Error
	if err != nil {
		t.Fatalf("count confirmations: %v", err)
	}
	return n
}

// submitTicked commits a ticked submission of email with a new message
// under guards and reports whether its confirmation email was dropped.
func submitTicked(t *testing.T, s *Store, email string, at time.Time, g models.Guards) bool {
	t.Helper()
	lead, ev, out := newLead(t, s, email)
	lead.CreatedAt, ev.At = at, at
	lead.Message = "Message " + models.NewToken(4)
	c, err := s.CreateLeadOnce(context.Background(), lead, ev, out, g)
	if err != nil {
		t.Fatalf("CreateLeadOnce: %v", err)
	}
	if c.ConfirmationDropped != (out[1].ID == 0) {
		t.Errorf("ConfirmationDropped = %v but the confirmation's outbox id is %d", c.ConfirmationDropped, out[1].ID)
	}
	return c.ConfirmationDropped
}

// newReq is a submission as the writer receives it from do, for tests
// that hand the writer a group themselves.
func newReq(ctx context.Context, s *Store, lead *models.Lead, ev *models.ConsentEvent, out []models.OutboxMessage, g models.Guards) *createReq {
	r := &createReq{ctx: ctx, lead: lead, consent: ev, outbox: out, guards: g, result: make(chan struct{})}
	s.commits.prepare(r)
	return r
}
