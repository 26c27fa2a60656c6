package models

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AuditEntry is one entry of the audit log: who did what to which record,
// when and from where. Entries form a hash chain (see Seal): an entry
// changed or deleted in the database breaks it, and VerifyAudit finds
// where.
//
// An entry names records by id (see the Target functions), never by a
// lead's name or address: the log is append-only and cannot be erased,
// so it must not hold a lead's personal data. Actor is a token's name or,
// as the contract says, a staff user's email.
type AuditEntry struct {
	// ID numbers the entries 1, 2, 3... in order; the store assigns it
	// when it appends the entry, and it is part of what is hashed.
	ID     int64     `gorm:"primaryKey"`
	At     time.Time `gorm:"not null"`
	Actor  string    `gorm:"not null"`
	Action string    `gorm:"not null"`
	Target string    `gorm:"not null"`
	IP     string    `gorm:"column:ip;not null"`
	// PrevHash is the Hash of the entry before, or AuditGenesis for the
	// first.
	PrevHash string `gorm:"not null"`
	// Hash is the lowercase hex SHA-256 of PrevHash followed by the
	// entry's canonical encoding.
	Hash string `gorm:"not null"`
}

// TableName keeps the table name readable.
func (AuditEntry) TableName() string { return "audit_log" }

// AuditGenesis is the PrevHash of the first entry.
const AuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Audit actions of access management. The HTTP layer adds its own (a lead
// read, a status change, an export) in the same style: noun.verb.
const (
	AuditUserAdd     = "user.add"
	AuditUserRemove  = "user.remove"
	AuditTokenCreate = "token.create"
	AuditTokenRevoke = "token.revoke"
)

// UserTarget names a user in an audit entry by id.
func UserTarget(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// TokenTarget names an API token in an audit entry by its name, the name
// its own requests are logged under as the actor.
func TokenTarget(name string) string { return "token:" + name }

// LeadTarget names a lead in an audit entry by its public id, never by
// anything the lead typed.
func LeadTarget(publicID string) string { return "lead:" + publicID }

// Origin is who makes a change, from where and when: what the change's
// audit entry records besides the action and the target. Stores that
// change access (users, tokens) take one and append the entry in the
// change's own transaction.
type Origin struct {
	Actor string
	IP    string
	At    time.Time
}

// Entry returns the audit entry of an action on target made by o.
func (o Origin) Entry(action, target string) AuditEntry {
	return AuditEntry{At: o.At, Actor: o.Actor, Action: action, Target: target, IP: o.IP}
}

// Seal makes e the entry that follows prev (nil for the first): it numbers
// it, links it to prev's hash and computes its own. Times are kept to the
// microsecond, what every engine stores exactly, so that the hash of an
// entry read back is the hash of the entry written.
func (e *AuditEntry) Seal(prev *AuditEntry) {
	e.ID, e.PrevHash = 1, AuditGenesis
	if prev != nil {
		e.ID, e.PrevHash = prev.ID+1, prev.Hash
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Hash = e.computeHash()
}

// computeHash is SHA-256(PrevHash || canonical encoding) in lowercase hex.
func (e AuditEntry) computeHash() string {
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(e.canonical())
	return hex.EncodeToString(h.Sum(nil))
}

// canonical is the entry's fields, each as its length in bytes, a colon
// and the bytes, so that no two different entries encode alike ("ab","c"
// and "a","bc" differ), behind a version tag that a later encoding would
// change.
func (e AuditEntry) canonical() []byte {
	var b strings.Builder
	b.WriteString("leadbox-audit-v1\n")
	for _, f := range []string{
		strconv.FormatInt(e.ID, 10),
		e.At.UTC().Format(time.RFC3339Nano),
		e.Actor, e.Action, e.Target, e.IP,
	} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// AuditCheck is the result of verifying the audit log.
type AuditCheck struct {
	// Entries is how many entries were checked.
	Entries int64
	// FirstBad is the id of the first entry that does not match, 0 when
	// the chain is intact.
	FirstBad int64
	// Problem says what is wrong with FirstBad.
	Problem string
}

// Intact reports whether every entry matched.
func (c AuditCheck) Intact() bool { return c.FirstBad == 0 }

// AuditVerifier checks the audit log entry by entry, oldest first, so that
// an engine can stream the log through it without holding it in memory.
// The zero value is ready for the first entry.
type AuditVerifier struct {
	prev  *AuditEntry
	check AuditCheck
}

// Add checks the next entry and reports whether the chain is still
// intact; after the first bad entry it ignores the rest.
func (v *AuditVerifier) Add(e AuditEntry) bool {
	if !v.check.Intact() {
		return false
	}
	v.check.Entries++
	wantID, wantPrev := int64(1), AuditGenesis
	if v.prev != nil {
		wantID, wantPrev = v.prev.ID+1, v.prev.Hash
	}
	switch {
	case e.PrevHash != wantPrev && e.ID != wantID:
		v.fail(e.ID, fmt.Sprintf("entries before it are missing (expected entry %d next)", wantID))
	case e.PrevHash != wantPrev:
		v.fail(e.ID, "its prev_hash is not the hash of the entry before it (an entry before it was changed or deleted)")
	case e.ID != wantID:
		v.fail(e.ID, fmt.Sprintf("it is numbered %d but follows entry %d", e.ID, wantID-1))
	case e.Hash != e.computeHash():
		v.fail(e.ID, "its content does not match its hash (the entry was changed)")
	}
	v.prev = &e
	return v.check.Intact()
}

func (v *AuditVerifier) fail(id int64, problem string) {
	v.check.FirstBad, v.check.Problem = id, problem
}

// End checks, once every entry was added, that the log ends where its
// recorded head says: a hash chain alone cannot show that its newest
// entries were deleted, since what is left is still a chain. headID is 0
// when no head was recorded.
func (v *AuditVerifier) End(headID int64, headHash string) {
	if !v.check.Intact() {
		return
	}
	var lastID int64
	if v.prev != nil {
		lastID = v.prev.ID
	}
	switch {
	case lastID < headID:
		v.fail(lastID+1, fmt.Sprintf("the log ends at entry %d, but entries up to %d were written (the newest were deleted)", lastID, headID))
	case lastID > headID:
		v.fail(headID+1, fmt.Sprintf("entries after %d were not written by Leadbox (the log's recorded end is %d)", headID, headID))
	case lastID > 0 && v.prev.Hash != headHash:
		v.fail(lastID, "it is not the entry recorded as the log's end (the end was rewritten)")
	}
}

// Result returns what the entries added so far show.
func (v *AuditVerifier) Result() AuditCheck { return v.check }
