package models

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Data-subject rights (GDPR articles 15, 17 and 21) and retention
// (article 5(1)(e)): what is held about an address, its erasure, a
// suppression that outlives erasure, and the purge that erases by itself
// what has been kept long enough.

// AddressHashSecret names the installation's secret (Store.Secret) that
// keys AddressHash.
const AddressHashSecret = "address_hash"

// AddressHash is what Leadbox keeps of an address once it may keep nothing
// else: HMAC-SHA256, keyed with the installation's secret, of the address's
// normal form (NormalizeEmail), in lowercase hex. Without the key the hash
// cannot be tested against a list of addresses, so it identifies nobody to
// whoever reads it (the audit log, a backup); with it, the same address
// gives the same hash, so an address that opted out and was erased stays
// opted out.
func AddressHash(key []byte, subject string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil))
}

// AddressHasher computes AddressHash with one key, reusing its HMAC
// states: every submission hashes its address (to find it on the
// suppression list), and a fresh HMAC per call cost five allocations.
// Safe for concurrent use.
type AddressHasher struct{ pool sync.Pool }

// NewAddressHasher returns a hasher for key.
func NewAddressHasher(key []byte) *AddressHasher {
	h := &AddressHasher{}
	h.pool.New = func() any { return hmac.New(sha256.New, key) }
	return h
}

// Hash is AddressHash(key, subject).
func (h *AddressHasher) Hash(subject string) string {
	m := h.pool.Get().(hash.Hash)
	defer h.pool.Put(m)
	m.Reset()
	m.Write([]byte(subject))
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], m.Sum(sum[:0]))
	return string(out[:])
}

// SubjectTarget names an address in an audit entry by its AddressHash,
// never by the address.
func SubjectTarget(hash string) string { return "subject:" + hash }

// Audit actions of data-subject requests and retention.
const (
	AuditSubjectAccess   = "subject.access"
	AuditSubjectErase    = "subject.erase"
	AuditSubjectSuppress = "subject.suppress"
	AuditRetentionPurge  = "retention.purge"
)

// Methods of the consent events that data-subject requests write.
const (
	// MethodSuppression: an operator recorded a request made by phone or
	// letter (POST /api/v1/suppressions).
	MethodSuppression = "suppression"
	// MethodPrivacyPage: the person pressed "stop marketing" on their
	// privacy page.
	MethodPrivacyPage = "privacy_page"
	// MethodSuppressionList: a withdrawal known only by the address's
	// keyed hash (a suppression of an address with no leads, or one that
	// was erased after opting out), written into the ledger when the
	// address submits a form again, before that submission's own event.
	MethodSuppressionList = "suppression_list"
)

// KindPrivacyLink is the email that brings a person the signed link to
// their privacy page.
const KindPrivacyLink = "privacy_link"

// SubjectData is everything held about one address (GDPR article 15).
type SubjectData struct {
	// Subject is the address in its normal form.
	Subject string
	// Leads are the address's leads, oldest first, each with the whole
	// consent ledger of the address, its emails and its history.
	Leads []LeadDetail
	// Suppressed: the address is on the suppression list (a suppression
	// was recorded and no consent was given after it).
	Suppressed bool
}

// Suppression is what a suppression did.
type Suppression struct {
	// Listed: the address went on the suppression list (false: it was
	// on it already, with no consent since).
	Listed bool
	// Withdrawn: a withdrawal was appended to the address's ledger (it
	// had leads, and its latest decision was not a withdrawal already).
	Withdrawn bool
}

// Erasure is what an erasure did.
type Erasure struct {
	Leads           int // leads whose personal data was erased
	CancelledEmails int // emails to or about them that were still waiting
}

// Retention is how long personal data is kept; zero keeps it for ever.
type Retention struct {
	// Inquiry: a lead's inquiry data, after the lead's last change. An
	// address whose marketing consent stands keeps its email, name and
	// consent records until the consent is withdrawn plus this period.
	Inquiry time.Duration
	// IP: IP addresses and user agents, except in the consent records of
	// a consent that still stands.
	IP time.Duration
	// DoubleOptIn: a consent stands only once confirmed by email.
	DoubleOptIn bool
}

// PurgeReport counts what one retention purge erased (or, dry, would).
type PurgeReport struct {
	// Inquiries: leads whose inquiry data (message, phone, company,
	// page, UTM, notes) was erased while their person's consent stands.
	Inquiries int64
	// Leads: leads erased whole, as an erasure request would.
	Leads int64
	// People: addresses erased whole (all their leads).
	People int64
	// IPs: consent records whose IP address and user agent were dropped.
	IPs int64
	// Batches: write transactions the purge took.
	Batches int64
	// LongestBatch is the longest time one batch held the writer, and
	// LongBatches how many held it longer than PurgeWriterLimit.
	LongestBatch time.Duration
	LongBatches  int64
}

// PurgeWriterLimit is how long a purge aims to hold the writer at a time,
// submissions waiting behind it.
const PurgeWriterLimit = 50 * time.Millisecond

// SubjectStore answers data-subject requests and runs retention. Subjects
// are normalised addresses (NormalizeEmail). Each change is one
// transaction with its audit entry, which names o.Actor and the address's
// keyed hash, never the address.
type SubjectStore interface {
	// SubjectAccess returns everything held about subject; an address
	// nothing is held about gives empty data, not an error.
	SubjectAccess(ctx context.Context, subject string, doubleOptIn bool) (SubjectData, error)
	// AuditSubject appends the audit entry of a request about subject
	// (an access export) without changing anything else.
	AuditSubject(ctx context.Context, action, subject string, o Origin) error
	// EraseSubject erases every piece of personal data of subject's
	// leads, cancels their waiting emails and keeps the address's keyed
	// hash with its latest decision; erasing an unknown address does
	// nothing and returns zeros.
	EraseSubject(ctx context.Context, subject string, o Origin) (Erasure, error)
	// Suppress puts subject on the suppression list (method says how the
	// request came: MethodSuppression or MethodPrivacyPage), withdraws its
	// marketing consent and cancels its waiting confirmation emails.
	Suppress(ctx context.Context, subject, method string, o Origin) (Suppression, error)
	// QueuePrivacyLink queues the email with the privacy-page link to
	// subject's newest lead, unless nothing is held about subject or
	// MaxPrivacyLinks were queued for it within PrivacyLinkTTL.
	QueuePrivacyLink(ctx context.Context, subject string, at time.Time) (queued bool, err error)
	// ErasedSince reports whether subject was erased after t, which
	// voids every privacy link issued before.
	ErasedSince(ctx context.Context, subject string, t time.Time) (bool, error)
	// Purge erases what r says has been kept long enough at now, in
	// batches that each hold the writer briefly; dry counts without
	// changing anything.
	Purge(ctx context.Context, now time.Time, r Retention, dry bool) (PurgeReport, error)
	// TryLease takes the lease called name for holder until until, if
	// nobody else holds it at now: so that of several processes one runs
	// a periodic task. Taking one's own lease again extends it.
	TryLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
}

// ErrLeadErased refuses a note on an erased lead: a note about the person
// would be personal data again, on a row kept only for counts.
var ErrLeadErased = errors.New("the lead's personal data was erased")

// PrivacyLinkTTL is how long a privacy-page link works.
const PrivacyLinkTTL = 24 * time.Hour

// MaxPrivacyLinks caps the privacy-link emails queued for one address
// within PrivacyLinkTTL: the request page is open to anyone, and must not
// become a way to flood someone's mailbox.
const MaxPrivacyLinks = 3

// PrivacyLinkSecret names the installation's secret that signs privacy
// links.
const PrivacyLinkSecret = "privacy_link"

// PrivacyToken is the secret part of a privacy-page link sent to the lead
// publicID at issued: the lead's public id, the time, and an HMAC of both
// under key, for this purpose only (another signed token of Leadbox's,
// for another purpose, never verifies as one). It names a lead, never an
// address, so an address is never in a URL; the link stops working when
// it expires (PrivacyLinkTTL) and when the lead is erased (nothing is
// left to find by its id).
func PrivacyToken(key []byte, publicID string, issued time.Time) string {
	unix := strconv.FormatInt(issued.Unix(), 10)
	return publicID + "." + unix + "." + privacyMAC(key, publicID, unix)
}

// ParsePrivacyToken checks token and returns the lead it was sent to and
// when; ErrNotFound when it was not made with key, is malformed, or
// expired at now. Every failure is the same error, so that a page can
// answer every bad link alike.
func ParsePrivacyToken(key []byte, token string, now time.Time) (publicID string, issued time.Time, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || len(token) > 200 {
		return "", time.Time{}, ErrNotFound
	}
	if !hmac.Equal([]byte(parts[2]), []byte(privacyMAC(key, parts[0], parts[1]))) {
		return "", time.Time{}, ErrNotFound
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", time.Time{}, ErrNotFound
	}
	issued = time.Unix(unix, 0).UTC()
	if now.Before(issued.Add(-time.Minute)) || !now.Before(issued.Add(PrivacyLinkTTL)) {
		return "", time.Time{}, ErrNotFound
	}
	return parts[0], issued, nil
}

func privacyMAC(key []byte, publicID, unix string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("leadbox privacy link v1\n" + publicID + "\n" + unix))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
