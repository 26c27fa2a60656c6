package models

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Guards are the checks a submission passes inside the single writer, in
// the transaction that commits it: no submission arriving at the same
// moment can slip past them. The zero value checks nothing.
type Guards struct {
	// DuplicateSince turns duplicate detection on: when the same person
	// sent the same message with the same consent choice at or after it
	// (a double click, a browser retrying a post), nothing is written.
	DuplicateSince time.Time
	// LimitConfirmations caps the confirmation emails queued for one
	// person (their normalised address) within ConfirmWindow at
	// MaxConfirmations. A submission over the cap is stored with its
	// consent event, without its confirmation email.
	LimitConfirmations bool
	MaxConfirmations   int
}

// Created tells what CreateLeadOnce did besides committing the submission.
type Created struct {
	// Duplicate: nothing was written, and *lead now identifies the
	// earlier lead: its ID, PublicID and CreatedAt, and its consent
	// event's Action (lead.Consent), which is what an answer needs. Its
	// other fields may be left empty, so that a replayed submission costs
	// no read: LeadByID has the rest.
	Duplicate bool
	// ConfirmationDropped: the confirmation email was over the limit and
	// not queued (its OutboxMessage keeps ID 0).
	ConfirmationDropped bool
	// RecalledWithdrawal: the address was on the suppression list, and
	// its withdrawal was written into the ledger before the submission's
	// own consent event (a second event).
	RecalledWithdrawal bool
}

// ConfirmWindow is the period over which Guards.MaxConfirmations counts a
// person's confirmation emails.
const ConfirmWindow = 24 * time.Hour

// Outcome is what became of one leased message. Record writes many at once:
// a worker sending a burst pays one commit for the lot, not one per email.
type Outcome struct {
	ID int64
	// Status is the new state: sent, failed, cancelled, or pending (to be
	// tried again at Next, or, with a zero Next, given back untried).
	Status string
	At     time.Time // when it was sent (sent only)
	Next   time.Time // the next attempt (pending only)
	Reason string    // the error or why it was cancelled
	// Attempted counts a delivery attempt.
	Attempted bool
}

// Mailbox drops a "+tag" from the local part of a normalised address:
// victim+1@, victim+2@ ... (RFC 5233 subaddresses, which most providers
// deliver to victim@) are one mailbox, for every limit that counts what
// reaches a person.
func Mailbox(subject string) string {
	at := strings.LastIndexByte(subject, '@')
	if at < 0 {
		return subject
	}
	if plus := strings.IndexByte(subject[:at], '+'); plus > 0 {
		return subject[:plus] + subject[at:]
	}
	return subject
}

// ErrUnavailable means the database cannot keep what it was given right
// now (a full disk, a read-only or vanished file): nothing was stored, and
// the same request may succeed once the operator has fixed the cause. The
// submission's answer says so (503 with Retry-After) rather than "internal
// error".
var ErrUnavailable = errors.New("storage unavailable")

// OutboxCounts is the outbox at a glance: how many messages are in each
// state, and when the oldest one still pending was queued (zero when none
// is): how far behind the mail is.
type OutboxCounts struct {
	ByStatus      map[string]int64
	OldestPending time.Time
}

// Store is what a storage engine provides: everything Leadbox keeps, with
// the same behaviour on every engine (models/storetest checks it). The
// packages that use storage declare the small part they need; this is the
// whole of it, for the program that wires an engine in and for the
// conformance suite.
type Store interface {
	// Ping reports whether the database can keep leads now.
	Ping(ctx context.Context) error
	Close() error

	// ConsentTextVersion returns the stored version of a consent
	// wording, adding it the first time it is seen.
	ConsentTextVersion(ctx context.Context, text string) (ConsentText, error)
	// CreateLeadOnce commits a lead, its consent event and its outbox
	// messages in one transaction, after guards (see Guards).
	CreateLeadOnce(ctx context.Context, lead *Lead, consent *ConsentEvent, outbox []OutboxMessage, guards Guards) (Created, error)
	// EarlierSubmission returns the latest lead of the same submission
	// made at or after since, as CreateLeadOnce's duplicate guard judges
	// it, or ErrNotFound.
	EarlierSubmission(ctx context.Context, subject, action, message string, since time.Time) (Lead, error)
	// FormBusy reports whether submissions are queuing up, so that
	// background work can yield to them.
	FormBusy() bool

	LeadByID(ctx context.Context, id int64) (Lead, error)
	LeadByPublicID(ctx context.Context, publicID string) (Lead, error)
	LeadByOptOutToken(ctx context.Context, token string) (Lead, error)
	LeadByConfirmToken(ctx context.Context, token string) (Lead, error)

	// ConsentHistory returns every consent event about a normalised
	// address, oldest first, with its wording.
	ConsentHistory(ctx context.Context, subject string) ([]ConsentEvent, error)
	MarketingStateOf(ctx context.Context, subject string, doubleOptIn bool) (MarketingState, error)
	// Withdraw records a withdrawal and cancels the person's waiting
	// marketing mail, in one transaction; idempotent.
	Withdraw(ctx context.Context, ev ConsentEvent) (done bool, err error)
	// Confirm records the double opt-in confirmation of lead's consent;
	// idempotent, ErrConfirmSuperseded after a later withdrawal.
	Confirm(ctx context.Context, lead Lead, ev ConsentEvent) (done bool, err error)

	// ClaimDue leases up to limit due emails until leaseUntil; it never
	// claims a webhook (KindWebhook), which ClaimDueWebhooks claims.
	ClaimDue(ctx context.Context, due time.Time, limit int, leaseUntil time.Time) ([]OutboxMessage, error)
	ClaimDueWebhooks(ctx context.Context, due time.Time, limit int, leaseUntil time.Time) ([]OutboxMessage, error)
	ExtendLease(ctx context.Context, ids []int64, until time.Time) error
	// NextDue and NextDueWebhook say when the next pending email, or
	// webhook, is due.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	NextDueWebhook(ctx context.Context) (at time.Time, ok bool, err error)
	// Cancel stops a pending message; ErrNotFound when none is pending
	// with that id.
	Cancel(ctx context.Context, id int64) error
	// Record writes outcomes of leased messages in one transaction.
	Record(ctx context.Context, outcomes []Outcome) error
	// Requeue puts a failed or cancelled message back in line.
	Requeue(ctx context.Context, id int64, now time.Time) error
	// OutboxPage lists up to limit messages in the given states after the
	// message with id after, oldest first, with their leads.
	OutboxPage(ctx context.Context, statuses []string, after int64, limit int) ([]OutboxMessage, error)
	// OutboxCounts counts the messages in each state, emails and webhooks,
	// and finds the oldest pending email.
	OutboxCounts(ctx context.Context) (OutboxCounts, error)

	InboxStore
	SubjectStore

	SpamTallies
	SpamCounts(ctx context.Context, since time.Time) ([]SpamCount, error)
	// Secret returns the random 32-byte secret called name, shared by
	// every process on the database, creating it on first use.
	Secret(ctx context.Context, name string) ([]byte, error)

	AccessStore
}

// AccessStore keeps who may use the inbox and the API, and what they did:
// users, API tokens, sessions, failed sign-ins and the audit log. It holds
// hashes only, never a password, token or session cookie. Times are
// passed in, so that callers (and tests) decide what "now" is; every
// process on the database sees the same state at once: a revoked token or
// a removed user is refused by the next request, whichever process serves
// it.
type AccessStore interface {
	// AddUser stores u (its Email already normalised) and sets u.ID,
	// with the audit entry of the addition in the same transaction.
	// ErrDuplicate when the email is taken.
	AddUser(ctx context.Context, u *User, o Origin) error
	// Users lists every user, by email.
	Users(ctx context.Context) ([]User, error)
	// UserByEmail returns the user of a normalised email, or ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// RemoveUser deletes the user of a normalised email and ends all of
	// the user's sessions, with the audit entry, in one transaction.
	// ErrNotFound when there is no such user.
	RemoveUser(ctx context.Context, email string, o Origin) error

	// CreateToken stores t (with the hash of the token, never the token)
	// and sets t.ID, with the audit entry. ErrDuplicate when the name is
	// taken.
	CreateToken(ctx context.Context, t *APIToken, o Origin) error
	// Tokens lists every token, by name.
	Tokens(ctx context.Context) ([]APIToken, error)
	// TokenByHash returns the token whose SHA-256 is hash, or
	// ErrNotFound (unknown or revoked).
	TokenByHash(ctx context.Context, hash string) (APIToken, error)
	// TouchToken records that the token was used at at. Callers may
	// skip it when the token was used moments ago: last use is shown to
	// operators, not enforced.
	TouchToken(ctx context.Context, id int64, at time.Time) error
	// RevokeToken deletes the token called name, with the audit entry;
	// ErrNotFound when there is none.
	RevokeToken(ctx context.Context, name string, o Origin) error

	// CreateSession stores a new session and records the sign-in as the
	// user's last, in one transaction.
	CreateSession(ctx context.Context, s Session) error
	// SessionByID returns the session with ID id (the hash of the
	// cookie) and its user, or ErrNotFound when there is none or it has
	// expired at now (see Session.ExpiredAt).
	SessionByID(ctx context.Context, id string, now time.Time) (Session, User, error)
	// TouchSession moves the session's last-seen time to now, unless it
	// has expired by then (ErrNotFound).
	TouchSession(ctx context.Context, id string, now time.Time) error
	// EndSession deletes a session (sign-out); ending one that is gone
	// is not an error.
	EndSession(ctx context.Context, id string) error
	// PurgeSessions deletes the sessions expired at now and returns how
	// many.
	PurgeSessions(ctx context.Context, now time.Time) (int64, error)

	// ReserveSignIn counts a sign-in attempt made at at as a failure under
	// each of keys (the account's and the client's) before its password
	// is checked, unless a key already has MaxSignInFailures within
	// SignInWindow: then allowed is false and nothing is recorded. Count
	// and record are one transaction, so attempts made at the same moment
	// cannot all pass the count. Failures older than the window are
	// forgotten.
	ReserveSignIn(ctx context.Context, at time.Time, keys ...string) (reserved []int64, allowed bool, err error)
	// ForgetSignIn deletes what ReserveSignIn recorded for an attempt that
	// turned out right.
	ForgetSignIn(ctx context.Context, reserved []int64) error

	// AppendAudit seals e as the next entry of the audit log (see
	// AuditEntry.Seal) and stores it. Appends are serialised, so two at
	// once cannot both follow the same entry.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// AuditLog returns up to limit entries with ids below before (0: from
	// the newest), newest first.
	AuditLog(ctx context.Context, before int64, limit int) ([]AuditEntry, error)
	// VerifyAudit checks the whole chain, oldest first.
	VerifyAudit(ctx context.Context) (AuditCheck, error)
}
