package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// AddUser stores u and sets u.ID, with its audit entry, in one transaction.
func (s *Store) AddUser(ctx context.Context, u *models.User, o models.Origin) error {
	u.CreatedAt = u.CreatedAt.UTC()
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
			return err
		}
		e := o.Entry(models.AuditUserAdd, models.UserTarget(u.ID))
		return appendAudit(tx, &e)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("add user: a user with that email %w", models.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	return nil
}

// Users lists every user, by email.
func (s *Store) Users(ctx context.Context) ([]models.User, error) {
	var us []models.User
	if err := s.r.WithContext(ctx).Order("email").Find(&us).Error; err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UserByEmail returns the user of a normalised email.
func (s *Store) UserByEmail(ctx context.Context, email string) (models.User, error) {
	var u models.User
	err := s.r.WithContext(ctx).Where("email = ?", email).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.User{}, models.ErrNotFound
	}
	if err != nil {
		return models.User{}, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// RemoveUser deletes a user, with the audit entry; the user's sessions go
// with it (the sessions table's ON DELETE CASCADE).
func (s *Store) RemoveUser(ctx context.Context, email string, o models.Origin) error {
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u models.User
		if err := tx.Where("email = ?", email).Take(&u).Error; err != nil {
			return err
		}
		if err := tx.Delete(&u).Error; err != nil {
			return err
		}
		e := o.Entry(models.AuditUserRemove, models.UserTarget(u.ID))
		return appendAudit(tx, &e)
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("remove user: %w", models.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("remove user: %w", err)
	}
	return nil
}

// CreateToken stores t and sets t.ID, with the audit entry.
func (s *Store) CreateToken(ctx context.Context, t *models.APIToken, o models.Origin) error {
	t.CreatedAt = t.CreatedAt.UTC()
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(t).Error; err != nil {
			return err
		}
		e := o.Entry(models.AuditTokenCreate, models.TokenTarget(t.Name))
		return appendAudit(tx, &e)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("create token: a token with that name %w", models.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// Tokens lists every token, by name.
func (s *Store) Tokens(ctx context.Context) ([]models.APIToken, error) {
	var ts []models.APIToken
	if err := s.r.WithContext(ctx).Order("name").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// TokenByHash returns the token whose SHA-256 is hash. It reads the
// database every time (no cache), so a token revoked by another process
// is refused at once.
func (s *Store) TokenByHash(ctx context.Context, hash string) (models.APIToken, error) {
	var t models.APIToken
	err := s.r.WithContext(ctx).Where("hash = ?", hash).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.APIToken{}, models.ErrNotFound
	}
	if err != nil {
		return models.APIToken{}, fmt.Errorf("read token: %w", err)
	}
	return t, nil
}

// TouchToken records the token's last use.
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	err := s.w.WithContext(ctx).Model(&models.APIToken{}).Where("id = ?", id).Update("last_used_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	return nil
}

// RevokeToken deletes the token called name, with the audit entry.
func (s *Store) RevokeToken(ctx context.Context, name string, o models.Origin) error {
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("name = ?", name).Delete(&models.APIToken{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return models.ErrNotFound
		}
		e := o.Entry(models.AuditTokenRevoke, models.TokenTarget(name))
		return appendAudit(tx, &e)
	})
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// CreateSession stores a new session and records the sign-in as the
// user's last.
func (s *Store) CreateSession(ctx context.Context, sess models.Session) error {
	sess.CreatedAt, sess.LastSeenAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC()
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&sess).Error; err != nil {
			return err
		}
		return tx.Model(&models.User{}).Where("id = ?", sess.UserID).Update("last_sign_in_at", sess.CreatedAt).Error
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByID returns a session that has not expired at now, and its user.
func (s *Store) SessionByID(ctx context.Context, id string, now time.Time) (models.Session, models.User, error) {
	var sess models.Session
	var u models.User
	err := s.r.WithContext(ctx).Where("id = ?", id).Take(&sess).Error
	if err == nil {
		err = s.r.WithContext(ctx).Where("id = ?", sess.UserID).Take(&u).Error
	}
	if errors.Is(err, gorm.ErrRecordNotFound) || err == nil && sess.ExpiredAt(now) {
		return models.Session{}, models.User{}, models.ErrNotFound
	}
	if err != nil {
		return models.Session{}, models.User{}, fmt.Errorf("read session: %w", err)
	}
	return sess, u, nil
}

// TouchSession moves a live session's last-seen time to now.
func (s *Store) TouchSession(ctx context.Context, id string, now time.Time) error {
	idle, absolute := models.SessionCutoffs(now.UTC())
	res := s.w.WithContext(ctx).Model(&models.Session{}).
		Where("id = ? AND last_seen_at > ? AND created_at > ?", id, idle, absolute).
		Update("last_seen_at", now.UTC())
	if res.Error != nil {
		return fmt.Errorf("touch session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("touch session: %w", models.ErrNotFound)
	}
	return nil
}

// EndSession deletes a session.
func (s *Store) EndSession(ctx context.Context, id string) error {
	if err := s.w.WithContext(ctx).Where("id = ?", id).Delete(&models.Session{}).Error; err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// PurgeSessions deletes the sessions expired at now.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) (int64, error) {
	idle, absolute := models.SessionCutoffs(now.UTC())
	res := s.w.WithContext(ctx).Where("last_seen_at <= ? OR created_at <= ?", idle, absolute).Delete(&models.Session{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// signInFailure is one failed sign-in under one key. It is kept for
// models.SignInWindow only.
type signInFailure struct {
	ID  int64     `gorm:"primaryKey"`
	Key string    `gorm:"not null"`
	At  time.Time `gorm:"not null"`
}

func (signInFailure) TableName() string { return "sign_in_failures" }

// ReserveSignIn counts and records an attempt in one write transaction:
// the writer's transactions begin IMMEDIATE (the DSN's _txlock), so no
// other attempt, in this process or another, counts between the two.
func (s *Store) ReserveSignIn(ctx context.Context, at time.Time, keys ...string) (reserved []int64, allowed bool, err error) {
	at = at.UTC()
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("at <= ?", at.Add(-models.SignInWindow)).Delete(&signInFailure{}).Error; err != nil {
			return err
		}
		for _, k := range keys {
			var n int64
			if err := tx.Model(&signInFailure{}).Where("key = ? AND at > ?", k, at.Add(-models.SignInWindow)).Count(&n).Error; err != nil {
				return err
			}
			if n >= models.MaxSignInFailures {
				return nil // allowed stays false; nothing is recorded
			}
		}
		allowed = true
		if len(keys) == 0 {
			return nil
		}
		rows := make([]signInFailure, len(keys))
		for i, k := range keys {
			rows[i] = signInFailure{Key: k, At: at}
		}
		if err := tx.Create(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			reserved = append(reserved, r.ID)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("count sign-in attempts: %w", err)
	}
	return reserved, allowed, nil
}

// ForgetSignIn deletes the failures reserved for an attempt that was right.
func (s *Store) ForgetSignIn(ctx context.Context, reserved []int64) error {
	if len(reserved) == 0 {
		return nil
	}
	if err := s.w.WithContext(ctx).Where("id IN ?", reserved).Delete(&signInFailure{}).Error; err != nil {
		return fmt.Errorf("forget a right sign-in: %w", err)
	}
	return nil
}

// AppendAudit appends e to the audit log.
func (s *Store) AppendAudit(ctx context.Context, e *models.AuditEntry) error {
	if err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return appendAudit(tx, e) }); err != nil {
		return fmt.Errorf("append to the audit log: %w", err)
	}
	return nil
}

// appendAudit seals e after the last entry and inserts it, inside tx.
// Reading the last entry in the same write transaction is what keeps the
// chain from forking: the writer's transactions begin IMMEDIATE (the
// DSN's _txlock), so no other connection, in this process or another, can
// append between the read and the insert.
func appendAudit(tx *gorm.DB, e *models.AuditEntry) error {
	var last models.AuditEntry
	err := tx.Order("id DESC").Limit(1).Take(&last).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		e.Seal(nil)
	case err != nil:
		return fmt.Errorf("read the last audit entry: %w", err)
	default:
		e.Seal(&last)
	}
	if err := tx.Create(e).Error; err != nil {
		return err
	}
	// The head, in the same transaction: VerifyAudit finds the newest
	// entries deleted by comparing the log's end with it.
	head := fmt.Sprintf("%d:%s", e.ID, e.Hash)
	return tx.Exec(`INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, auditHeadSetting, []byte(head)).Error
}

// auditHeadSetting names the setting that records the audit log's newest
// entry, as "id:hash".
const auditHeadSetting = "audit_head"

// auditHead reads the recorded head of the audit log (0, "" when none).
func auditHead(db *gorm.DB) (int64, string, error) {
	var st Setting
	err := db.Where("name = ?", auditHeadSetting).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	idText, hash, ok := strings.Cut(string(st.Value), ":")
	id, perr := strconv.ParseInt(idText, 10, 64)
	if !ok || perr != nil {
		return 0, "", fmt.Errorf("the recorded head of the audit log is unreadable: %q", st.Value)
	}
	return id, hash, nil
}

// AuditLog returns up to limit entries below before, newest first.
func (s *Store) AuditLog(ctx context.Context, before int64, limit int) ([]models.AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := s.r.WithContext(ctx).Order("id DESC").Limit(limit)
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var es []models.AuditEntry
	if err := q.Find(&es).Error; err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return es, nil
}

// VerifyAudit streams the audit log, oldest first, through the chain
// check; memory does not grow with the log.
func (s *Store) VerifyAudit(ctx context.Context) (models.AuditCheck, error) {
	var v models.AuditVerifier
	// One read transaction, so that the head and the entries are the same
	// moment's, whatever is appended meanwhile.
	tx := s.r.WithContext(ctx).Begin()
	if tx.Error != nil {
		return models.AuditCheck{}, fmt.Errorf("verify the audit log: %w", tx.Error)
	}
	defer tx.Rollback()
	headID, headHash, err := auditHead(tx)
	if err != nil {
		return models.AuditCheck{}, fmt.Errorf("verify the audit log: %w", err)
	}
	db := tx
	rows, err := db.Model(&models.AuditEntry{}).Order("id").Rows()
	if err != nil {
		return models.AuditCheck{}, fmt.Errorf("verify the audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e models.AuditEntry
		if err := s.damageOf(db.ScanRows(rows, &e)); err != nil {
			return models.AuditCheck{}, fmt.Errorf("verify the audit log: %w", err)
		}
		if !v.Add(e) {
			break
		}
	}
	if err := s.damageOf(rows.Err()); err != nil {
		return models.AuditCheck{}, fmt.Errorf("verify the audit log: %w", err)
	}
	v.End(headID, headHash)
	return v.Result(), nil
}
