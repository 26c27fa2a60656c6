package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// Data-subject requests: access, erasure, suppression, the privacy link.
// An erasure runs alone in the writer goroutine (groupCommitter.exclusive),
// so that the in-memory indexes forget the address in the same breath as
// the database, and then checkpoints the write-ahead log, so that the
// erased text is gone from the database's files and not only from its
// tables (secure_delete zeroes what a transaction frees; the old pages in
// the log go with the checkpoint).

// leadsOfSQL lists an address's leads through the consent ledger, whose
// subject is indexed: every lead has the consent event of its submission.
const leadsOfSQL = `SELECT DISTINCT lead_id FROM consent_events WHERE subject = ? AND lead_id IS NOT NULL`

// SubjectAccess returns everything held about subject.
func (s *Store) SubjectAccess(ctx context.Context, subject string, doubleOptIn bool) (models.SubjectData, error) {
	d := models.SubjectData{Subject: subject}
	if subject == "" {
		return d, nil
	}
	db := s.r.WithContext(ctx)
	var ids []int64
	if err := db.Raw(leadsOfSQL+" ORDER BY lead_id", subject).Scan(&ids).Error; err != nil {
		return d, fmt.Errorf("subject access: %w", err)
	}
	consent, err := s.ConsentHistory(ctx, subject)
	if err != nil {
		return d, fmt.Errorf("subject access: %w", err)
	}
	marketing := models.MarketingOf(consent, doubleOptIn)
	for _, id := range ids {
		lead, err := s.LeadByID(ctx, id)
		if err != nil {
			return d, fmt.Errorf("subject access: %w", err)
		}
		ld := models.LeadDetail{LeadItem: models.LeadItem{Lead: lead, Marketing: marketing}, Consent: consent}
		if err := db.Where("lead_id = ? AND "+kindIsEmail, id).Order("id").Find(&ld.Emails).Error; err != nil {
			return d, fmt.Errorf("subject access: %w", err)
		}
		if err := db.Where("lead_id = ?", id).Order("id").Find(&ld.History).Error; err != nil {
			return d, fmt.Errorf("subject access: %w", err)
		}
		d.Leads = append(d.Leads, ld)
	}
	sup, err := s.suppression(db, s.addresses.Hash(subject))
	if err != nil {
		return d, fmt.Errorf("subject access: %w", err)
	}
	d.Suppressed = sup.SuppressedAt != nil && (len(consent) == 0 || marketing.State == models.MarketingWithdrawn)
	return d, nil
}

// suppressionRow is a row of suppressions (see privacySchema).
type suppressionRow struct {
	AddressHash  string
	Decision     string
	DecidedAt    *time.Time
	SuppressedAt *time.Time
	WithdrawnAt  *time.Time
	ErasedAt     *time.Time
}

// suppression reads the row of hash; the zero row when there is none.
func (s *Store) suppression(db *gorm.DB, hash string) (suppressionRow, error) {
	var row suppressionRow
	err := db.Raw(`SELECT address_hash, decision, decided_at, suppressed_at, withdrawn_at, erased_at
		FROM suppressions WHERE address_hash = ?`, hash).
		Scan(&row).Error
	return row, err
}

// saveSuppression writes row (by its hash), inserting or replacing it.
func saveSuppression(tx *gorm.DB, row suppressionRow) error {
	return tx.Exec(`INSERT INTO suppressions (address_hash, decision, decided_at, suppressed_at, withdrawn_at, erased_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (address_hash) DO UPDATE SET decision = excluded.decision, decided_at = excluded.decided_at,
		suppressed_at = excluded.suppressed_at, withdrawn_at = excluded.withdrawn_at, erased_at = excluded.erased_at`,
		row.AddressHash, row.Decision, utcOrNil(row.DecidedAt), utcOrNil(row.SuppressedAt), utcOrNil(row.WithdrawnAt),
		utcOrNil(row.ErasedAt)).Error
}

// AuditSubject appends the audit entry of a request about subject.
func (s *Store) AuditSubject(ctx context.Context, action, subject string, o models.Origin) error {
	e := o.Entry(action, models.SubjectTarget(s.addresses.Hash(subject)))
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return appendAudit(tx, &e) })
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// ErasedSince reports whether subject was erased after t.
func (s *Store) ErasedSince(ctx context.Context, subject string, t time.Time) (bool, error) {
	row, err := s.suppression(s.r.WithContext(ctx), s.addresses.Hash(subject))
	if err != nil {
		return false, fmt.Errorf("look for an erasure: %w", err)
	}
	return row.ErasedAt != nil && row.ErasedAt.After(t), nil
}

// EraseSubject erases subject's personal data in one transaction, with
// its audit entry, and then checkpoints the write-ahead log.
func (s *Store) EraseSubject(ctx context.Context, subject string, o models.Origin) (models.Erasure, error) {
	var res models.Erasure
	err := s.exclusive(ctx, func(tx *gorm.DB) (forgetting, error) {
		r, f, err := s.eraseIn(tx, subject, o.At)
		if err != nil {
			return f, err
		}
		res = r
		e := o.Entry(models.AuditSubjectErase, models.SubjectTarget(s.addresses.Hash(subject)))
		return f, appendAudit(tx, &e)
	})
	if err != nil {
		return models.Erasure{}, fmt.Errorf("erase subject: %w", err)
	}
	s.checkpoint(ctx)
	return res, nil
}

// exclusive runs fn in one write transaction, alone in the writer
// goroutine when this store has one (see groupCommitter.exclusive), and
// lets the in-memory indexes forget what fn says.
func (s *Store) exclusive(ctx context.Context, fn func(tx *gorm.DB) (forgetting, error)) error {
	run := func() (forgetting, error) {
		var f forgetting
		err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var err error
			f, err = fn(tx)
			return err
		})
		return f, err
	}
	if s.commits == nil {
		_, err := run()
		return err
	}
	return s.commits.exclusive(ctx, run)
}

// checkpointWait bounds how long checkpoint waits for readers and for the
// write lock. It holds the writer's only connection meanwhile, so every
// submission waits as long: with the connection's own busy timeout (10 s)
// a reader holding an old snapshot (Litestream's long read transaction,
// `leadbox backup` copying a busy database) stalled submissions for the
// full 10 s at every erasure.
const checkpointWait = 200 * time.Millisecond

// checkpoint copies the write-ahead log into the database and truncates
// it, so that the pages an erasure replaced are no longer in the log. A
// reader holding an old snapshot can keep it from completing; it gives up
// after checkpointWait, and the next checkpoint (SQLite's automatic one
// after 1,000 pages, Litestream's, or the next erasure) finishes the work,
// so a failure here is not the erasure's.
func (s *Store) checkpoint(ctx context.Context) {
	db, err := s.w.DB()
	if err != nil {
		return
	}
	// Through database/sql, not GORM, which would keep the statement
	// prepared (see open); on one connection, whose busy timeout is
	// lowered for the checkpoint alone.
	conn, err := db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", checkpointWait.Milliseconds())); err != nil {
		return
	}
	_, _ = conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	if _, err := conn.ExecContext(context.Background(), "PRAGMA busy_timeout = 10000"); err != nil {
		// A connection left with the short timeout would fail writes
		// that should wait: let database/sql discard it.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// eraseIn erases subject inside tx: every piece of personal data of its
// leads (their rows, search text, notes, consent events and emails' error
// texts) is blanked, their waiting emails are cancelled, their tokens are
// voided, and the address's keyed hash keeps what must outlive it: a
// withdrawal, and the time of the erasure. It returns what the in-memory
// indexes must forget.
func (s *Store) eraseIn(tx *gorm.DB, subject string, now time.Time) (models.Erasure, forgetting, error) {
	var res models.Erasure
	var f forgetting
	if subject == "" {
		return res, f, nil
	}
	hash := s.addresses.Hash(subject)
	var ids []int64
	if err := tx.Raw(leadsOfSQL, subject).Scan(&ids).Error; err != nil {
		return res, f, err
	}
	events, err := eventsIn(tx, subject)
	if err != nil {
		return res, f, err
	}
	row, err := s.suppression(tx, hash)
	if err != nil {
		return res, f, err
	}
	if len(ids) == 0 && row.AddressHash == "" {
		return res, f, nil // nothing is held, and nothing is kept of the request
	}
	if len(ids) > 0 {
		if f, err = s.submissionKeys(tx, subject, ids); err != nil {
			return res, f, err
		}
		if res, err = blankLeads(tx, ids, now); err != nil {
			return res, f, err
		}
		if err := s.queueErased(tx, ids, now); err != nil {
			return res, f, err
		}
	}
	if err := blankLedger(tx, "erasure", "subject = ?", subject); err != nil {
		return res, f, err
	}
	// What outlives the address: a withdrawal that was the latest
	// decision (so the address stays opted out should it come back), and
	// the erasure's time. A consent that stood is not kept: its proof is
	// gone with the rest, and a consent that cannot be proven is none.
	row.AddressHash, row.ErasedAt = hash, utcPtr(now)
	if d, ok := latestDecision(events); ok {
		row.Decision, row.DecidedAt = d.Action, utcPtr(d.At)
	} else if row.Decision == "" {
		row.Decision = models.ActionNotGiven
	}
	if m := models.MarketingOf(events, false); m.State == models.MarketingWithdrawn {
		row.WithdrawnAt = utcPtr(m.Since)
	} else if len(events) > 0 {
		row.WithdrawnAt, row.SuppressedAt = nil, nil // a later consent overrode the suppression
	}
	if err := saveSuppression(tx, row); err != nil {
		return res, f, err
	}
	f.subjects = append(f.subjects, subject)
	return res, f, nil
}

// latestDecision is the latest of events that decided something (given,
// confirmed or withdrawn; a box left unticked decides nothing).
func latestDecision(events []models.ConsentEvent) (models.ConsentEvent, bool) {
	for i := len(events) - 1; i >= 0; i-- {
		switch events[i].Action {
		case models.ActionGiven, models.ActionConfirmed, models.ActionWithdrawn:
			return events[i], true
		}
	}
	return models.ConsentEvent{}, false
}

// submissionKeys returns the duplicate-detection keys of the leads ids of
// subject, for the in-memory index to forget.
func (s *Store) submissionKeys(tx *gorm.DB, subject string, ids []int64) (forgetting, error) {
	var f forgetting
	rows, err := tx.Raw(`SELECT c.action, l.message FROM leads l
		JOIN consent_events c ON c.lead_id = l.id AND c.method = ? WHERE l.id IN ?`, models.MethodForm, ids).Rows()
	if err != nil {
		return f, err
	}
	defer rows.Close()
	for rows.Next() {
		var action, message string
		if err := s.damageOf(rows.Scan(&action, &message)); err != nil {
			return f, err
		}
		f.keys = append(f.keys, keyOf(subject, action, message))
	}
	return f, s.damageOf(rows.Err())
}

// blankLeads erases the personal data of the leads ids: the rows keep
// their id, public id, time and status (for counts); the opt-out token is
// replaced by a random one, so an old link finds nothing; the search text
// goes; notes are emptied (status changes stay); the emails and webhooks
// still waiting are cancelled and every email's error text (which can quote the
// address) is emptied.
func blankLeads(tx *gorm.DB, ids []int64, now time.Time) (models.Erasure, error) {
	res := models.Erasure{Leads: len(ids)}
	// Emails and webhooks alike; only the emails are counted, as the
	// answer's cancelled_emails says.
	for _, lane := range []string{kindIsEmail, kindIsWebhook} {
		cancel := tx.Exec(`UPDATE outbox SET status = ?, last_error = 'erased', lease_until = NULL
			WHERE lead_id IN ? AND status IN ? AND `+lane,
			models.StatusCancelled, ids, []string{models.StatusPending, models.StatusSending})
		if cancel.Error != nil {
			return res, cancel.Error
		}
		if lane == kindIsEmail {
			res.CancelledEmails = int(cancel.RowsAffected)
		}
	}
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE outbox SET last_error = '' WHERE lead_id IN ? AND last_error NOT IN ('', 'erased')`, []any{ids}},
		{`UPDATE leads SET name = '', email = '', email_key = '', phone = '', company = '', message = '',
			page_url = '', utm_source = '', utm_medium = '', utm_campaign = '', utm_term = '', utm_content = '',
			opt_out_token = 'erased-' || lower(hex(randomblob(16))), confirm_token = NULL, confirm_expires_at = NULL,
			erased_at = coalesce(erased_at, ?) WHERE id IN ?`, []any{now.UTC(), ids}},
		{`DELETE FROM lead_search WHERE lead_id IN ?`, []any{ids}},
		{`UPDATE lead_history SET note = '' WHERE lead_id IN ? AND note != ''`, []any{ids}},
	} {
		if err := tx.Exec(stmt.sql, stmt.args...).Error; err != nil {
			return res, err
		}
	}
	return res, nil
}

// blankLedger blanks the personal data (subject, IP, user agent, page) of
// the consent events matching where, the one change the ledger's trigger
// lets through, and only while erasing holds a row: reason says which
// path took it, and the row is gone again before the transaction commits.
func blankLedger(tx *gorm.DB, reason, where string, args ...any) error {
	return blankLedgerColumns(tx, reason, "subject = '', ip = '', user_agent = '', page_url = ''", where, args...)
}

// blankLedgerColumns is blankLedger for the columns set says.
func blankLedgerColumns(tx *gorm.DB, reason, set, where string, args ...any) error {
	if err := tx.Exec("INSERT INTO erasing (reason) VALUES (?)", reason).Error; err != nil {
		return err
	}
	if err := tx.Exec("UPDATE consent_events SET "+set+" WHERE "+where, args...).Error; err != nil {
		return err
	}
	return tx.Exec("DELETE FROM erasing").Error
}

// Suppress puts subject on the suppression list and withdraws its
// consent, with the audit entry, in one transaction.
func (s *Store) Suppress(ctx context.Context, subject, method string, o models.Origin) (res models.Suppression, err error) {
	if subject == "" {
		return res, fmt.Errorf("suppress: no address")
	}
	hash := s.addresses.Hash(subject)
	at := o.At.UTC()
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		events, err := eventsIn(tx, subject)
		if err != nil {
			return err
		}
		row, err := s.suppression(tx, hash)
		if err != nil {
			return err
		}
		known := len(events) > 0
		withdrawn := models.MarketingOf(events, false).State == models.MarketingWithdrawn
		if row.SuppressedAt != nil && (withdrawn || !known) {
			return nil // suppressed already, and no consent since
		}
		res.Listed = true
		row.AddressHash, row.SuppressedAt = hash, &at
		row.Decision, row.DecidedAt = models.ActionWithdrawn, &at
		if known {
			// The address's ledger holds the decision; the hash only says
			// it was suppressed.
			row.WithdrawnAt = nil
			if !withdrawn {
				ev := models.ConsentEvent{Subject: subject, Purpose: models.PurposeMarketingEmail, At: at,
					Action: models.ActionWithdrawn, Method: method}
				if err := tx.Omit("ConsentText").Create(&ev).Error; err != nil {
					return err
				}
				res.Withdrawn = true
				if err := s.queueConsentEvent(tx, models.EventConsentWithdrawn, subject, nil, at); err != nil {
					return err
				}
			}
			if err := tx.Exec(cancelConfirmationsSQL, models.StatusCancelled, models.StatusPending, subject).Error; err != nil {
				return err
			}
		} else {
			row.WithdrawnAt = &at
		}
		if err := saveSuppression(tx, row); err != nil {
			return err
		}
		e := o.Entry(models.AuditSubjectSuppress, models.SubjectTarget(hash))
		return appendAudit(tx, &e)
	})
	if err != nil {
		return models.Suppression{}, fmt.Errorf("suppress: %w", err)
	}
	return res, nil
}

// QueuePrivacyLink queues the privacy-link email to subject's newest lead.
func (s *Store) QueuePrivacyLink(ctx context.Context, subject string, at time.Time) (queued bool, err error) {
	if subject == "" {
		return false, nil
	}
	at = at.UTC()
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var newest sql.NullInt64
		if err := tx.Raw(`SELECT max(c.lead_id) FROM consent_events c JOIN leads l ON l.id = c.lead_id
			WHERE c.subject = ? AND l.erased_at IS NULL`, subject).Scan(&newest).Error; err != nil {
			return err
		}
		if !newest.Valid {
			return nil
		}
		var sent int64
		if err := tx.Raw(`SELECT count(*) FROM outbox WHERE kind = ? AND created_at >= ?
			AND lead_id IN (`+leadsOfSQL+`)`, models.KindPrivacyLink, at.Add(-models.PrivacyLinkTTL), subject).
			Scan(&sent).Error; err != nil {
			return err
		}
		if sent >= models.MaxPrivacyLinks {
			return nil
		}
		m := models.OutboxMessage{LeadID: newest.Int64, Kind: models.KindPrivacyLink, Status: models.StatusPending,
			CreatedAt: at, NextAttemptAt: at, QueuedAt: at, MessageID: models.NewToken(16)}
		if err := tx.Omit("Lead").Create(&m).Error; err != nil {
			return err
		}
		queued = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("queue privacy link: %w", err)
	}
	return queued, nil
}

// TryLease takes the lease name for holder until until, unless another
// holder's lease runs past now.
func (s *Store) TryLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	res := s.w.WithContext(ctx).Exec(`INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.holder = excluded.holder OR leases.until <= ?`, name, holder, until.UTC(), now.UTC())
	if res.Error != nil {
		return false, fmt.Errorf("take lease %s: %w", name, res.Error)
	}
	return res.RowsAffected > 0, nil
}

func utcPtr(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}
