package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// migration is one numbered step of the schema. Each is applied once, in
// order, in one transaction with the row in schema_migrations that records
// it: a crash mid-way leaves the step either done and recorded or neither.
// A released step is never edited; a change of schema is a new step.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// migrations is the schema's history.
var migrations = []migration{
	{1, "baseline: leads, consent ledger, outbox, spam tallies, settings", baseline},
	{2, "access: users, API tokens, sessions, sign-in failures, audit log", accessSchema},
	{3, "inbox: a lead's status and history; outbox rows found by lead", inboxSchema},
	{4, "inbox search: each lead's text, folded, in a narrow table", searchSchema},
	{5, "fill in the person key of leads stored before it existed", fillEmailKeys},
	{6, "data-subject rights: erased leads, suppressions by keyed hash, leases, a ledger only erasure may blank", privacySchema},
	{7, "webhooks: outbox rows with an event, a target URL and ids-only data; their own claim index", webhookSchema},
}

// ErrSchemaTooNew means the database was migrated by a newer release than
// this one: running older code on it could write rows that the newer schema
// no longer means the same way.
var ErrSchemaTooNew = errors.New("the database's schema is newer than this release")

// migrate brings the schema up to the last of steps. The writer's
// connection opens every transaction with BEGIN IMMEDIATE (the DSN's
// _txlock), which takes SQLite's write lock at once: two processes starting
// on one new file take turns, and the second finds the steps done.
func migrate(ctx context.Context, db *gorm.DB, steps []migration) error {
	db = db.WithContext(ctx)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at DATETIME NOT NULL)`).Error; err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	latest := steps[len(steps)-1].version
	var current int
	if err := db.Raw("SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current).Error; err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return fmt.Errorf("%w: version %d, and this release knows up to %d; run the newer release, or restore the backup made before it",
			ErrSchemaTooNew, current, latest)
	}
	for _, m := range steps {
		if m.version <= current {
			continue
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			var done int64
			if err := tx.Raw("SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&done).Error; err != nil {
				return err
			}
			if done > 0 { // another process applied it while this one waited for the lock
				return nil
			}
			if err := m.up(tx); err != nil {
				return err
			}
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().UTC()).Error
		})
		if err != nil {
			return fmt.Errorf("schema migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// baseline is the schema as every release before versioned migrations left
// it. Those releases ran GORM's AutoMigrate at each start, which only ever
// added what was missing, so running it once more over frozen copies of
// their last models brings a database of any of them, or a new file, to
// the same schema. The copies are frozen: the live models may change, this
// step may not.
func baseline(tx *gorm.DB) error {
	if err := tx.AutoMigrate(&v1ConsentText{}, &v1Lead{}, &v1ConsentEvent{}, &v1Outbox{}, &v1SpamTally{}, &v1Setting{}); err != nil {
		return err
	}
	for _, stmt := range []string{
		// Partial indexes index only the rows that are looked up, which
		// GORM's tags cannot say. Every submission writes a lead and one or
		// two outbox rows, so an index entry saved per row is work saved on
		// the hottest write. The full indexes they replace (from early
		// releases) are dropped.
		//
		//   - A lead's confirm token is looked up by value (the confirm
		//     link), and only ticked submissions have one: NULLs need no
		//     entry. A query "confirm_token = ?" implies "IS NOT NULL", so
		//     SQLite uses it.
		//   - Outbox rows are looked up by lead only to cancel a person's
		//     waiting confirmation emails, and to count them for the
		//     confirmation limit; both queries name the kind literally so
		//     that SQLite can use the index.
		`DROP INDEX IF EXISTS idx_leads_confirm_token`,
		`CREATE UNIQUE INDEX IF NOT EXISTS idx_leads_confirm_token_set ON leads (confirm_token)
		 WHERE confirm_token IS NOT NULL`,
		`DROP INDEX IF EXISTS idx_outbox_lead_id`,
		`CREATE INDEX IF NOT EXISTS idx_outbox_confirmation_lead ON outbox (lead_id)
		 WHERE kind = '` + models.KindConsentConfirmation + `'`,
		// The consent ledger is append-only: proof that can be edited
		// proves nothing. The database itself refuses edits, whatever the
		// code does.
		`CREATE TRIGGER IF NOT EXISTS consent_events_no_update BEFORE UPDATE ON consent_events
		 BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END`,
		`CREATE TRIGGER IF NOT EXISTS consent_events_no_delete BEFORE DELETE ON consent_events
		 BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END`,
	} {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	return nil
}

// accessSchema adds who may use the inbox and the API, and the audit log
// of what they do. Written out as SQL, not by AutoMigrate, so that this
// step says exactly what it creates and never changes with the models.
func accessSchema(tx *gorm.DB) error {
	for _, stmt := range []string{
		`CREATE TABLE users (
			id INTEGER PRIMARY KEY,
			email TEXT NOT NULL UNIQUE,
			role TEXT NOT NULL,
			password_hash TEXT NOT NULL,
			created_at DATETIME NOT NULL,
			last_sign_in_at DATETIME)`,
		`CREATE TABLE api_tokens (
			id INTEGER PRIMARY KEY,
			name TEXT NOT NULL UNIQUE,
			role TEXT NOT NULL,
			hash TEXT NOT NULL UNIQUE,
			created_at DATETIME NOT NULL,
			last_used_at DATETIME)`,
		// A removed user's sessions go with the user, by the database's
		// own rule, whatever the code that removes the user forgets.
		`CREATE TABLE sessions (
			id TEXT PRIMARY KEY,
			user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			created_at DATETIME NOT NULL,
			last_seen_at DATETIME NOT NULL)`,
		`CREATE INDEX idx_sessions_user ON sessions (user_id)`,
		// One row per failed sign-in and key ("account:..." or "ip:..."),
		// counted over a sliding window; rows older than the window are
		// deleted as new ones arrive, so the table stays small.
		`CREATE TABLE sign_in_failures (
			id INTEGER PRIMARY KEY,
			key TEXT NOT NULL,
			at DATETIME NOT NULL)`,
		`CREATE INDEX idx_sign_in_failures_key_at ON sign_in_failures (key, at)`,
		// Ids are assigned by the writer (the last + 1), because each is
		// part of its entry's hash.
		`CREATE TABLE audit_log (
			id INTEGER PRIMARY KEY,
			at DATETIME NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			target TEXT NOT NULL,
			ip TEXT NOT NULL,
			prev_hash TEXT NOT NULL,
			hash TEXT NOT NULL)`,
		// The audit log is append-only, like the consent ledger: the
		// database refuses edits, whatever the code does. Someone with
		// the file can drop these triggers; the hash chain then shows
		// what they changed (leadbox audit verify).
		`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
		 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
		`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
		 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
	} {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	return nil
}

// The models of the last release before versioned migrations, frozen for
// baseline.

type v1ConsentText struct {
	ID        int64     `gorm:"primaryKey"`
	Hash      string    `gorm:"size:64;not null;uniqueIndex:idx_consent_texts_hash"`
	Text      string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null"`
}

func (v1ConsentText) TableName() string { return "consent_texts" }

type v1Lead struct {
	ID               int64     `gorm:"primaryKey"`
	PublicID         string    `gorm:"size:40;not null;uniqueIndex:idx_leads_public_id"`
	CreatedAt        time.Time `gorm:"not null"`
	Name             string    `gorm:"not null"`
	Email            string    `gorm:"not null"`
	EmailKey         string    `gorm:"not null;default:''"`
	Phone            string    `gorm:"not null;default:''"`
	Company          string    `gorm:"not null;default:''"`
	Message          string    `gorm:"not null"`
	PageURL          string    `gorm:"not null;default:''"`
	UTMSource        string    `gorm:"column:utm_source;not null;default:''"`
	UTMMedium        string    `gorm:"column:utm_medium;not null;default:''"`
	UTMCampaign      string    `gorm:"column:utm_campaign;not null;default:''"`
	UTMTerm          string    `gorm:"column:utm_term;not null;default:''"`
	UTMContent       string    `gorm:"column:utm_content;not null;default:''"`
	OptOutToken      string    `gorm:"size:64;not null;uniqueIndex:idx_leads_opt_out_token"`
	ConfirmToken     *string   `gorm:"size:64"`
	ConfirmExpiresAt *time.Time
	Consent          *v1ConsentEvent `gorm:"foreignKey:LeadID"`
}

func (v1Lead) TableName() string { return "leads" }

type v1ConsentEvent struct {
	ID            int64     `gorm:"primaryKey"`
	Subject       string    `gorm:"not null;index:idx_consent_subject,priority:1"`
	Purpose       string    `gorm:"not null;index:idx_consent_subject,priority:2"`
	At            time.Time `gorm:"not null"`
	Action        string    `gorm:"not null"`
	Method        string    `gorm:"not null"`
	LeadID        *int64    `gorm:"index:idx_consent_events_lead_id"`
	IP            string    `gorm:"not null;default:''"`
	UserAgent     string    `gorm:"not null;default:''"`
	PageURL       string    `gorm:"not null;default:''"`
	ConsentTextID *int64
	ConsentText   *v1ConsentText `gorm:"foreignKey:ConsentTextID"`
}

func (v1ConsentEvent) TableName() string { return "consent_events" }

type v1Outbox struct {
	ID            int64     `gorm:"primaryKey"`
	LeadID        int64     `gorm:"not null"`
	Lead          *v1Lead   `gorm:"constraint:OnDelete:CASCADE"`
	Kind          string    `gorm:"not null"`
	Recipient     string    `gorm:"not null;default:''"`
	Status        string    `gorm:"not null;index:idx_outbox_due,priority:1"`
	CreatedAt     time.Time `gorm:"not null"`
	NextAttemptAt time.Time `gorm:"not null;index:idx_outbox_due,priority:2"`
	LeaseUntil    *time.Time
	QueuedAt      time.Time `gorm:"not null"`
	Attempts      int       `gorm:"not null;default:0"`
	LastError     string    `gorm:"not null;default:''"`
	SentAt        *time.Time
	MessageID     string `gorm:"not null"`
}

func (v1Outbox) TableName() string { return "outbox" }

type v1SpamTally struct {
	Hour   time.Time `gorm:"primaryKey"`
	Reason string    `gorm:"primaryKey"`
	Count  int64     `gorm:"not null"`
}

func (v1SpamTally) TableName() string { return "spam_tallies" }

type v1Setting struct {
	Name  string `gorm:"primaryKey"`
	Value []byte `gorm:"not null"`
}

func (v1Setting) TableName() string { return "settings" }

// inboxSchema gives leads the status sales sets and the history of its
// changes and notes. The status index serves the inbox's status filter
// newest first (status, then row id); every new lead adds its entry at
// the right edge of the "new" range, which costs the writer little.
//
// A lead's page lists all its emails, so the outbox is now indexed by lead
// for every kind: the partial index on confirmation emails is replaced by
// a full one, which serves its queries too (they name the kind besides).
func inboxSchema(tx *gorm.DB) error {
	for _, stmt := range []string{
		`ALTER TABLE leads ADD COLUMN status TEXT NOT NULL DEFAULT 'new'`,
		`CREATE INDEX idx_leads_status ON leads (status, id)`,
		`CREATE TABLE lead_history (
			id INTEGER PRIMARY KEY,
			lead_id INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
			at DATETIME NOT NULL,
			actor TEXT NOT NULL,
			status TEXT NOT NULL DEFAULT '',
			note TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX idx_lead_history_lead ON lead_history (lead_id)`,
		`CREATE INDEX idx_outbox_lead ON outbox (lead_id)`,
		`DROP INDEX idx_outbox_confirmation_lead`,
	} {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	return nil
}

// searchSchema keeps each lead's searchable text (searchText) in a table
// of its own: a search for a substring cannot use an index, and scanning
// these short rows instead of the wide leads rows is what keeps a search
// that matches nothing within the inbox's budget on a million leads. The
// text is folded by Go (full Unicode case folding, which SQLite's lower()
// does not do), so the leads already stored are folded here, in batches.
func searchSchema(tx *gorm.DB) error {
	if err := tx.Exec(`CREATE TABLE lead_search (
		lead_id INTEGER PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
		text TEXT NOT NULL)`).Error; err != nil {
		return err
	}
	var after int64
	for {
		var batch []models.Lead
		if err := tx.Select("id, name, email, company, message").Where("id > ?", after).
			Order("id").Limit(searchBatch).Find(&batch).Error; err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		// One statement per batch: GORM binds a statement to the
		// transaction for every Exec and keeps each until the commit, so
		// a row at a time held a million of them in memory.
		values := make([]string, len(batch))
		args := make([]any, 0, 2*len(batch))
		for i := range batch {
			values[i] = "(?, ?)"
			args = append(args, batch[i].ID, searchText(&batch[i]))
		}
		if err := tx.Exec("INSERT INTO lead_search (lead_id, text) VALUES "+strings.Join(values, ", "), args...).Error; err != nil {
			return err
		}
		after = batch[len(batch)-1].ID
	}
}

// searchBatch is how many leads searchSchema folds per statement (two
// variables each, well under SQLite's limit of 32766).
const searchBatch = 1000

// fillEmailKeys gives the leads of the earliest releases, stored before
// leads.email_key existed (the baseline added it empty), the key of their
// person (models.NormalizeEmail, which SQL cannot compute), so that the
// inbox finds their marketing state. A batch is one statement.
func fillEmailKeys(tx *gorm.DB) error {
	for {
		var batch []models.Lead
		if err := tx.Select("id, email").Where("email_key = ''").Order("id").Limit(searchBatch).Find(&batch).Error; err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		values := make([]string, len(batch))
		args := make([]any, 0, 2*len(batch))
		for i, l := range batch {
			values[i] = "(?, ?)"
			args = append(args, l.ID, models.NormalizeEmail(l.Email))
		}
		err := tx.Exec(`WITH v (id, k) AS (VALUES `+strings.Join(values, ", ")+`)
			UPDATE leads SET email_key = (SELECT k FROM v WHERE v.id = leads.id) WHERE id IN (SELECT id FROM v)`, args...).Error
		if err != nil {
			return err
		}
	}
}

// privacySchema adds what erasure and retention need (see privacy.go and
// retention.go):
//
//   - leads.erased_at marks a lead whose personal data was erased: what
//     is left (id, time, form, status) identifies nobody and stays for
//     counts.
//   - suppressions keeps an address by its keyed hash alone
//     (models.AddressHash): its latest consent decision as last known
//     (given, confirmed, withdrawn, or not_given) and when, since when it
//     is suppressed (a request by phone or letter, or from the privacy
//     page), a withdrawal the ledger does not hold (the address had no
//     leads, or they were erased), and when it was last erased (which
//     voids older privacy links).
//   - leases lets one of several processes run a periodic task.
//   - The consent ledger stays append-only, with one exception the
//     database itself keeps narrow: inside a transaction that has a row in
//     erasing (which only erasure and retention write, and delete again
//     before they commit), an update may blank an event's personal data
//     (subject, IP, user agent, page) and change nothing else. What was
//     decided, when and how, stays; deletes stay refused.
//   - idx_consent_withdrawals finds the withdrawals of a period (retention
//     erases an address that withdrew long enough ago); partial, so the
//     submissions' events cost it nothing.
func privacySchema(tx *gorm.DB) error {
	for _, stmt := range []string{
		`ALTER TABLE leads ADD COLUMN erased_at DATETIME`,
		`CREATE TABLE suppressions (
			address_hash TEXT PRIMARY KEY,
			decision TEXT NOT NULL DEFAULT '',
			decided_at DATETIME,
			suppressed_at DATETIME,
			withdrawn_at DATETIME,
			erased_at DATETIME)`,
		`CREATE TABLE leases (
			name TEXT PRIMARY KEY,
			holder TEXT NOT NULL,
			until DATETIME NOT NULL)`,
		`CREATE TABLE erasing (reason TEXT NOT NULL)`,
		`DROP TRIGGER consent_events_no_update`,
		`CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
		 WHEN NOT (EXISTS (SELECT 1 FROM erasing)
			AND NEW.id = OLD.id AND NEW.purpose = OLD.purpose AND NEW.at = OLD.at
			AND NEW.action = OLD.action AND NEW.method = OLD.method
			AND NEW.lead_id IS OLD.lead_id AND NEW.consent_text_id IS OLD.consent_text_id
			AND NEW.subject IN (OLD.subject, '') AND NEW.ip IN (OLD.ip, '')
			AND NEW.user_agent IN (OLD.user_agent, '') AND NEW.page_url IN (OLD.page_url, ''))
		 BEGIN SELECT RAISE(ABORT, 'consent events are append-only: only an erasure may blank their personal data'); END`,
		`CREATE INDEX idx_consent_withdrawals ON consent_events (at) WHERE action = '` + models.ActionWithdrawn + `'`,
	} {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	return nil
}

// webhookSchema lets the outbox hold webhooks (models.KindWebhook): the
// event type, the receiver's URL, and the data of an event that cannot be
// composed from its lead when sent (subject.erased's lead ids). Webhooks
// are claimed by a lane of their own (see outbox.go); the partial index
// serves that lane's claims and next-due look-up in order without walking
// the emails, and costs an email's insert nothing.
func webhookSchema(tx *gorm.DB) error {
	for _, stmt := range []string{
		`ALTER TABLE outbox ADD COLUMN event TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE outbox ADD COLUMN target TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE outbox ADD COLUMN data TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX idx_outbox_webhooks_due ON outbox (status, next_attempt_at) WHERE ` + kindIsWebhook,
	} {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	return nil
}
