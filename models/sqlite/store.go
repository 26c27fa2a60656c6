// Package sqlite is Leadbox's SQLite storage engine: one file, one writer
// process (the serve lock), new leads committed in groups by a single
// writer goroutine, reads through a separate pool. The in-memory indexes of
// recent submissions and queued confirmation emails are its fast path for
// the guards every engine applies (models.Guards); the database stays the
// truth.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/leadbox/leadbox/models"
)

// minSQLiteVersion is the first SQLite release without the WAL-reset bug
// that can lose committed pages when connections write and checkpoint
// concurrently (https://www.sqlite.org/wal.html#walresetbug).
const minSQLiteVersion = "3.51.3"

// Store reads and writes Leadbox's records. Writes go through one
// connection and reads through a separate pool: SQLite allows one writer at
// a time, and a single pool pinned to one connection would queue every read
// behind every write.
type Store struct {
	w *gorm.DB
	r *gorm.DB
	// commits funnels lead creation from all requests into one writer that
	// commits them in groups (see groupcommit.go).
	commits *groupCommitter
	// damaged is set when a query met a malformed page (SQLite's
	// SQLITE_CORRUPT or SQLITE_NOTADB): readiness then fails for good,
	// saying what to run, instead of some requests failing unnoticed (an
	// opt-out whose index page is bad).
	damaged   atomic.Bool
	closeOnce sync.Once
	// earlier reads the lead a duplicate repeats (earlierLeadSQL),
	// prepared once on the read pool: a replayed submission should cost
	// less than a new one.
	earlier *sql.Stmt
	// addresses computes models.AddressHash with the installation's
	// secret, read once at open; the writer of new leads shares it.
	addresses *models.AddressHasher
	// webhooks are the URLs the events this store commits are sent to
	// (see WithWebhooks); fixed at open.
	webhooks []string
}

// writerPragmas are set per connection through the DSN (most pragmas are
// per connection, so a one-off Exec would only reach one pooled connection).
//
//   - journal_mode=WAL: readers never block the writer and vice versa.
//   - synchronous=FULL: a commit is fsynced to the WAL before it returns, so
//     an acknowledged lead survives power loss and OS crashes, not only a
//     crash of this process (NORMAL would risk the last commits).
//   - busy_timeout=10000: wait up to 10 s for a lock held by another process
//     (a CLI sub-command) instead of failing with "database is locked".
//   - _txlock=immediate: transactions take the write lock at BEGIN, because
//     upgrading a read transaction to a write one fails with SQLITE_BUSY
//     without honouring busy_timeout.
//   - foreign_keys=on: SQLite leaves them off unless asked, per connection.
//   - secure_delete=on: what a write frees (an erased lead's text, a row
//     rewritten shorter) is overwritten with zeros, instead of lingering in
//     free pages and free space inside pages where a copy of the file
//     would still show it. Only the writer frees anything.
const writerPragmas = "_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_txlock=immediate&_foreign_keys=on&_secure_delete=on"

// walSizeLimit is the size the write-ahead log is truncated to after a
// checkpoint (see open).
const walSizeLimit = 64 << 20

// readerPragmas: the read pool refuses writes (_query_only), so a bug can't
// bypass the single writer.
const readerPragmas = "_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_query_only=true"

// Open opens (creating if needed) the SQLite database at path, checks the
// SQLite version, brings the schema up to date, and starts the writer of
// new leads with its in-memory indexes: what `leadbox serve` needs.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	return open(ctx, path, openOptions{submissions: true}, opts...)
}

// OpenForCommands is Open without the writer of new leads: an operator's
// command (consent, optout, outbox, users, tokens ...) never stores a
// submission, and loading the indexes of recent leads and confirmation
// emails, which the writer needs, took seconds on a large database. Such a
// store refuses CreateLeadOnce.
func OpenForCommands(ctx context.Context, path string, opts ...Option) (*Store, error) {
	return open(ctx, path, openOptions{}, opts...)
}

// errNotForSubmissions is CreateLeadOnce on a store opened for commands.
var errNotForSubmissions = errors.New("this store was opened for commands, not for submissions")

// openOptions say what a store is opened for.
type openOptions struct {
	// submissions starts the writer of new leads (Open).
	submissions bool
	// holdIndexes, for tests, holds the load of the writer's in-memory
	// indexes until it is closed, to see the writer serve while cold.
	holdIndexes <-chan struct{}
}

func open(ctx context.Context, path string, how openOptions, opts ...Option) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open database %q: the path must not contain ? or #", path)
	}
	w, err := openPool(ctx, path, writerPragmas, 1)
	if err != nil {
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	s := &Store{w: w}
	for _, o := range opts {
		o(s)
	}
	wdb, _ := w.DB() // openPool checked it
	// After a checkpoint, truncate the write-ahead log back to at most
	// walSizeLimit: a burst, or a long read such as a backup, grows it to
	// hundreds of megabytes, and without a limit it keeps that size on
	// disk until the process stops. A pragma of the connection, not of the
	// DSN (the driver has no parameter for it), so it is set on the
	// writer's one connection, which lives as long as the pool.
	// Through database/sql, not GORM: GORM would keep the statement
	// prepared, and a pragma that answers with a row stays "in progress"
	// there, which makes VACUUM INTO (backup) refuse to run.
	if _, err := wdb.ExecContext(ctx, fmt.Sprintf("PRAGMA journal_size_limit = %d", walSizeLimit)); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	if err := s.checkVersion(ctx); err != nil {
		_ = wdb.Close()
		return nil, err
	}
	if err := migrate(ctx, w, migrations); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("migrate database %q: %w", path, err)
	}
	if s.r, err = openPool(ctx, path, readerPragmas, 4); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("open database %q for reading: %w", path, err)
	}
	for _, pool := range []*gorm.DB{s.w, s.r} {
		if err := s.watchForDamage(pool); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("open database %q: %w", path, err)
		}
	}
	key, err := s.Secret(ctx, models.AddressHashSecret)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	s.addresses = models.NewAddressHasher(key)
	if !how.submissions {
		return s, nil
	}
	rdb, _ := s.r.DB() // openPool checked it
	if s.earlier, err = rdb.PrepareContext(ctx, earlierLeadSQL); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	if s.commits, err = startGroupCommitter(ctx, wdb, rdb, path, s.addresses, s.noteDamage, how.holdIndexes); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	return s, nil
}

// openPool opens a pool of at most conns connections to path with the
// given pragmas, and connects once. The writer's first connection creates
// the file and switches it to WAL before any reader opens it (sql.DB
// connects lazily otherwise).
func openPool(ctx context.Context, path, pragmas string, conns int) (*gorm.DB, error) {
	g, err := gorm.Open(sqlite.Open(path+"?"+pragmas), &gorm.Config{
		// SQL logs would carry personal data; errors are returned and
		// logged once by the caller instead.
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC() },
		PrepareStmt:    true,
		TranslateError: true,
	})
	if err != nil {
		return nil, err
	}
	db, err := g.DB()
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	// GORM works a model's schema out, relationships included, the first
	// time a pool uses it, and two goroutines doing that at once race (the
	// outbox worker and a request, just after start): do it now, before
	// anyone else can.
	for _, m := range tables {
		if err := (&gorm.Statement{DB: g}).Parse(m); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return g, nil
}

// DatabaseFile returns the file a LEADBOX_DATABASE value names, for what
// works on the file itself (locks, identity, existence): SQLite's file:
// URIs (file:/data/x.db, file:///data/x.db, file:x.db) name plain files
// too (Open refuses their query parameters), and a symlink names its
// target once the target exists.
func DatabaseFile(path string) string {
	if rest, ok := strings.CutPrefix(path, "file:"); ok {
		if authority, ok := strings.CutPrefix(rest, "//"); ok { // file://[localhost]/path
			rest = "/" + authority[strings.IndexByte(authority, '/')+1:]
		}
		path = rest
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return path
}

// Close closes both connection pools.
func (s *Store) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		if s.commits != nil {
			s.commits.stop()
		}
		if s.earlier != nil {
			_ = s.earlier.Close()
		}
	})
	for i, g := range []*gorm.DB{s.r, s.w} {
		if g == nil || (i == 1 && s.w == s.r) { // read-only: one pool
			continue
		}
		if db, err := g.DB(); err == nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// Ping reports whether the database can keep leads: its file is there,
// it answers a query, no query met a damaged page, and a write of a
// lead's size succeeds. That write (a probe) is made only when no commit
// or probe succeeded in the last probeInterval, or after a lead could
// not be stored for want of storage (a full disk, a read-only file): a
// busy database is not written to by checks, an idle one once in a
// while, and one that failed is ready again only once a probe succeeds.
func (s *Store) Ping(ctx context.Context) error {
	if s.damaged.Load() {
		return fmt.Errorf("ping database: %w", errDamaged)
	}
	// Open connections keep working on a file deleted under them, and
	// answer from their caches, until the process ends and the leads with
	// it: ask the file system.
	if s.commits == nil { // opened for commands: a query is all there is to check
		var tables int
		if err := s.r.WithContext(ctx).Raw("SELECT count(*) FROM sqlite_schema").Scan(&tables).Error; err != nil {
			return fmt.Errorf("ping database: %w", err)
		}
		return nil
	}
	if err := s.commits.fileGone(); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	var tables int
	if err := s.r.WithContext(ctx).Raw("SELECT count(*) FROM sqlite_schema").Scan(&tables).Error; err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return s.probe(ctx)
}

// probeInterval is how long readiness trusts the last successful write
// (see Ping): a probe's fsync every 10 s of idleness costs nothing, and a
// load balancer learns of a full disk within its next checks.
const probeInterval = 10 * time.Second

// probe writes a probe when one is due (see Ping).
func (s *Store) probe(ctx context.Context) error {
	g := s.commits
	g.probing.Lock()
	defer g.probing.Unlock()
	if !g.cannotStore.Load() && time.Since(time.Unix(0, g.stored.Load())) < g.probeEvery {
		return nil
	}
	probe := make([]byte, probeSize)
	_, _ = rand.Read(probe) // random, so no page of it can be shared or compressed away
	// A new row before the last one is deleted, not the last one
	// overwritten: an overwrite fits in the pages it had, where a lead
	// needs new ones, so on a full disk it would succeed where a lead
	// fails. The pages the last probe frees are free for the next one, and
	// for a lead, alike.
	name := "storage_probe." + strconv.FormatInt(time.Now().UnixNano(), 10)
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO settings (name, value) VALUES (?, ?)`, name, probe).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM settings WHERE name >= 'storage_probe' AND name < 'storage_probe/' AND name <> ?`, name).Error
	})
	if err != nil {
		if isStorageFailure(err) {
			g.cannotStore.Store(true)
		}
		return fmt.Errorf("ping database: leads cannot be stored: %w", err)
	}
	g.stored.Store(time.Now().UnixNano())
	g.cannotStore.Store(false)
	return nil
}

// probeSize is about what a lead with its consent event and emails takes
// in the write-ahead log: a probe that fits where a lead would not proves
// nothing.
const probeSize = 8 << 10

func (s *Store) checkVersion(ctx context.Context) error {
	var v string
	if err := s.w.WithContext(ctx).Raw("SELECT sqlite_version()").Scan(&v).Error; err != nil {
		return fmt.Errorf("read SQLite version: %w", err)
	}
	if versionLess(v, minSQLiteVersion) {
		return fmt.Errorf("SQLite %s is linked in, but %s or later is required (WAL-reset bug)", v, minSQLiteVersion)
	}
	return nil
}

// versionLess compares dotted version numbers numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// tables are the models stored. The read pool parses them before use
// (see Open); the schema itself is made by the migrations.
var tables = []any{&models.ConsentText{}, &models.Lead{}, &models.ConsentEvent{}, &models.OutboxMessage{}, &SpamTally{}, &Setting{},
	&models.User{}, &models.APIToken{}, &models.Session{}, &signInFailure{}, &models.AuditEntry{}, &models.HistoryEntry{}}

// ConsentTextVersion returns the stored version of a consent wording,
// adding it the first time it is seen.
func (s *Store) ConsentTextVersion(ctx context.Context, text string) (models.ConsentText, error) {
	ct := models.ConsentText{Hash: models.HashConsentText(text), Text: text}
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("hash = ?", ct.Hash).Take(&ct).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return tx.Create(&ct).Error
		}
		return err
	})
	if err != nil {
		return models.ConsentText{}, fmt.Errorf("store consent text version: %w", err)
	}
	return ct, nil
}

// CreateLead commits a lead, its consent event and its outbox messages in one
// transaction: once it returns nil, all of them survive a crash, and none of
// them exists without the others.
func (s *Store) CreateLead(ctx context.Context, lead *models.Lead, consent *models.ConsentEvent, outbox []models.OutboxMessage) error {
	_, err := s.CreateLeadOnce(ctx, lead, consent, outbox, models.Guards{})
	return err
}

// CreateLeadOnce is CreateLead with guards (see Guards).
func (s *Store) CreateLeadOnce(ctx context.Context, lead *models.Lead, consent *models.ConsentEvent, outbox []models.OutboxMessage, guards models.Guards) (models.Created, error) {
	if s.commits == nil {
		return models.Created{}, fmt.Errorf("create lead: %w", errNotForSubmissions)
	}
	r := s.commits.do(ctx, lead, consent, s.withLeadCreated(outbox, lead.CreatedAt), guards)
	copy(outbox, r.outbox) // the caller's rows, with their ids
	if r.err != nil && (isStorageFailure(r.err) || errors.Is(r.err, errFileGone)) {
		return models.Created{}, fmt.Errorf("create lead: %w: %w", models.ErrUnavailable, r.err)
	}
	if r.err != nil {
		return models.Created{}, fmt.Errorf("create lead: %w", r.err)
	}
	if r.earlier == 0 {
		return models.Created{ConfirmationDropped: r.dropped, RecalledWithdrawal: r.recalled}, nil
	}
	if r.known.publicID != "" {
		// Answered from memory: the earlier lead's consent choice is this
		// one's (it is part of what makes them the same submission).
		action := consent.Action
		*lead = models.Lead{ID: r.known.id, PublicID: r.known.publicID, CreatedAt: time.Unix(0, r.known.at).UTC(),
			Consent: &models.ConsentEvent{Action: action}}
		return models.Created{Duplicate: true}, nil
	}
	var err error
	if *lead, err = s.earlierLead(ctx, r.earlier); err != nil {
		return models.Created{}, fmt.Errorf("create lead: read the earlier lead: %w", err)
	}
	return models.Created{Duplicate: true}, nil
}

// earlierLeadSQL reads a lead and its submission's consent event.
const earlierLeadSQL = `SELECT ` + leadColumns + `, c.id, c.subject, c.purpose, c.at, c.action, c.method,
	c.lead_id, c.ip, c.user_agent, c.page_url, c.consent_text_id
	FROM leads l JOIN consent_events c ON c.lead_id = l.id AND c.method = ? WHERE l.id = ?`

// earlierLead reads the lead a duplicate repeats, with its submission's
// consent event (but not the event's wording, which nobody answering a
// duplicate reads), in one query scanned by hand. LeadByID, through
// GORM's two preloads, made a replayed submission dearer than a new one
// (3 queries and 406 allocations against the new lead's 128): a bot
// replaying one address should be the cheapest request. Through
// database/sql, not GORM, for the same reason as the writer's statements.
func (s *Store) earlierLead(ctx context.Context, id int64) (models.Lead, error) {
	var l models.Lead
	var c models.ConsentEvent
	row := s.earlier.QueryRowContext(ctx, models.MethodForm, id)
	err := row.Scan(append(leadFields(&l),
		&c.ID, &c.Subject, &c.Purpose, &c.At, &c.Action, &c.Method, &c.LeadID, &c.IP, &c.UserAgent, &c.PageURL, &c.ConsentTextID)...)
	if errors.Is(err, sql.ErrNoRows) {
		return models.Lead{}, models.ErrNotFound
	}
	if err != nil {
		return models.Lead{}, s.damageOf(err)
	}
	l.Consent = &c
	return l, nil
}

// EarlierSubmission returns the latest lead of the same submission (the
// same person, consent choice and message) made at or after since, as
// duplicate detection judges it, or ErrNotFound. It reads, and is for a
// request that cannot reach the writer's own check: a browser retry whose
// single-use CAPTCHA answer was spent by the first post.
func (s *Store) EarlierSubmission(ctx context.Context, subject, action, message string, since time.Time) (models.Lead, error) {
	var id int64
	err := s.r.WithContext(ctx).Raw(earlierSubmissionSQL, subject, models.PurposeMarketingEmail, models.MethodForm, action,
		message, since.UTC()).Row().Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return models.Lead{}, models.ErrNotFound
	}
	if err != nil {
		return models.Lead{}, fmt.Errorf("look for an earlier submission: %w", err)
	}
	return s.LeadByID(ctx, id)
}

// earlierSubmissionSQL is the writer's duplicate rule as a query: the same
// submission, unless it gave consent and the person withdrew since (then a
// new one is new consent; see groupCommitter.insert).
const earlierSubmissionSQL = `SELECT l.id FROM consent_events c JOIN leads l ON l.id = c.lead_id
	WHERE c.subject = ? AND c.purpose = ? AND c.method = ? AND c.action = ? AND l.message = ? AND l.created_at >= ?
	AND NOT (c.action = '` + models.ActionGiven + `' AND ` + withdrawnSinceSQL + `)
	ORDER BY l.id DESC LIMIT 1`

// FormBusy reports whether submissions are queuing up behind the single
// writer (a campaign or a bot wave), so background work can yield to them.
func (s *Store) FormBusy() bool { return s.commits != nil && s.commits.busy() }

// LeadByPublicID returns a lead with its submission's consent event.
func (s *Store) LeadByPublicID(ctx context.Context, publicID string) (models.Lead, error) {
	return s.leadWhere(ctx, "public_id = ?", publicID)
}

// LeadByID returns a lead with its submission's consent event.
func (s *Store) LeadByID(ctx context.Context, id int64) (models.Lead, error) {
	return s.leadWhere(ctx, "id = ?", id)
}

func (s *Store) leadWhere(ctx context.Context, query string, arg any) (models.Lead, error) {
	var l models.Lead
	err := withSubmissionConsent(s.r.WithContext(ctx), "Consent").Where(query, arg).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.Lead{}, models.ErrNotFound
	}
	if err != nil {
		return models.Lead{}, fmt.Errorf("read lead: %w", err)
	}
	return l, nil
}

// withSubmissionConsent preloads, at path ("Consent" of a lead, "Lead.Consent"
// of an outbox message), the consent event recorded with the lead's
// submission, and its wording. Later events about the same lead carry its
// id too (the confirmation, an opt-out through its link); without the
// condition, GORM's has-one would fill in whichever of them it read last.
func withSubmissionConsent(db *gorm.DB, path string) *gorm.DB {
	return db.Preload(path, "method = ?", models.MethodForm).Preload(path + ".ConsentText")
}

// ConsentHistory returns every consent event about a normalised address,
// oldest first, with the wording each one refers to. Oldest means first
// appended (by id): the order that decides a person's state everywhere,
// whatever clock wrote each event's time.
func (s *Store) ConsentHistory(ctx context.Context, subject string) ([]models.ConsentEvent, error) {
	var evs []models.ConsentEvent
	if subject == "" { // an erased lead's: its events are anonymous now
		return evs, nil
	}
	err := s.r.WithContext(ctx).Preload("ConsentText").
		Where("subject = ? AND purpose = ?", subject, models.PurposeMarketingEmail).
		Order("id").Find(&evs).Error
	if err != nil {
		return nil, fmt.Errorf("read consent history: %w", err)
	}
	return evs, nil
}

// DB exposes the read pool for tests and sub-commands that inspect rows.
func (s *Store) DB() *gorm.DB { return s.r }

// errDamaged is readiness's answer once a query met a malformed page.
var errDamaged = errors.New(`the database is damaged (a query met a malformed page): stop the server and run leadbox check-db --full; see docs/operations.md, "A damaged database"`)

// watchForDamage marks the store damaged when any GORM query on pool fails
// with SQLite's malformed-page errors.
func (s *Store) watchForDamage(pool *gorm.DB) error {
	note := func(db *gorm.DB) { s.noteDamage(db.Error) }
	cb := pool.Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register("leadbox:damage", note),
		cb.Row().After("gorm:row").Register("leadbox:damage", note),
		cb.Raw().After("gorm:raw").Register("leadbox:damage", note),
		cb.Create().After("gorm:create").Register("leadbox:damage", note),
		cb.Update().After("gorm:update").Register("leadbox:damage", note),
		cb.Delete().After("gorm:delete").Register("leadbox:damage", note),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// damageOf notes err (see noteDamage) and returns it: for the errors of
// reading rows one by one (Scan, rows.Err), which GORM's callbacks, run
// when the query starts, never see. A damaged page met in the middle of
// an export is as damaged as one met by a query.
func (s *Store) damageOf(err error) error {
	s.noteDamage(err)
	return err
}

// noteDamage marks the store damaged when err is one of SQLite's
// malformed-page errors: for what reads rows without GORM's callbacks
// (the in-memory indexes' load, row by row iteration).
func (s *Store) noteDamage(err error) {
	var se sqlite3.Error
	if err != nil && errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB) {
		s.damaged.Store(true)
	}
}
