// Package models holds Leadbox's domain: leads, consent events and
// wordings, outbox messages, the rules computed from them (a person's
// marketing state, what a confirmation link may confirm), and Store, the
// contract every storage engine fulfils. It imports no database driver and
// nothing else of Leadbox; the engines live beneath it (models/sqlite), and
// models/storetest holds the conformance suite they all pass. The struct
// tags are GORM's: the engines map these types directly.
package models

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// Lead is one accepted form submission. The row id never leaves the server;
// PublicID is what clients and emails see.
type Lead struct {
	ID        int64     `gorm:"primaryKey"`
	PublicID  string    `gorm:"size:40;not null;uniqueIndex"`
	CreatedAt time.Time `gorm:"not null"`

	Name  string `gorm:"not null"`
	Email string `gorm:"not null"`
	// EmailKey is NormalizeEmail(Email): the person the lead belongs to.
	// Look-ups by person go through consent_events.subject, which holds
	// the same key and is indexed; one index on email addresses is enough.
	EmailKey string `gorm:"not null;default:''"`
	Phone    string `gorm:"not null;default:''"`
	Company  string `gorm:"not null;default:''"`
	Message  string `gorm:"not null"`

	// Attribution that sales and marketing ask for.
	PageURL     string `gorm:"not null;default:''"`
	UTMSource   string `gorm:"column:utm_source;not null;default:''"`
	UTMMedium   string `gorm:"column:utm_medium;not null;default:''"`
	UTMCampaign string `gorm:"column:utm_campaign;not null;default:''"`
	UTMTerm     string `gorm:"column:utm_term;not null;default:''"`
	UTMContent  string `gorm:"column:utm_content;not null;default:''"`

	// Status is where sales is with the lead (LeadStatuses); every lead
	// starts as LeadNew.
	Status string `gorm:"not null;default:'new'"`

	// ErasedAt is set when the lead's personal data was erased (a
	// data-subject request, or retention): every field a person typed or
	// brought is empty, the tokens are void, and the row is kept only for
	// counts.
	ErasedAt *time.Time

	// OptOutToken is the secret in the lead's opt-out link. It never expires:
	// a person must be able to leave from a years-old email.
	OptOutToken string `gorm:"size:64;not null;uniqueIndex"`
	// ConfirmToken is set when the lead ticked the marketing box and double
	// opt-in is on; it expires at ConfirmExpiresAt. Its unique index leaves
	// out the leads without one (see the sqlite engine's baseline migration).
	ConfirmToken     *string `gorm:"size:64"`
	ConfirmExpiresAt *time.Time

	// Consent is the consent event recorded with this lead's submission
	// (method form). The lead's later events (its confirmation, an opt-out
	// through its link) carry its id as well, so loads must pick this one
	// out (see withSubmissionConsent); the person's state comes from the
	// whole ledger (MarketingStateOf).
	Consent *ConsentEvent `gorm:"foreignKey:LeadID"`
}

// UTM returns the lead's UTM values that are set, by their short names
// (source, medium, campaign, term, content), as the API, the webhooks and
// the privacy page show them.
func (l *Lead) UTM() map[string]string {
	utm := map[string]string{}
	for k, v := range map[string]string{
		"source": l.UTMSource, "medium": l.UTMMedium, "campaign": l.UTMCampaign,
		"term": l.UTMTerm, "content": l.UTMContent,
	} {
		if v != "" {
			utm[k] = v
		}
	}
	return utm
}

// ConsentText is one version of the marketing-consent wording, identified
// by the SHA-256 of its text. Rows are only ever added, so changing the
// configured wording never rewrites what earlier leads agreed to.
type ConsentText struct {
	ID        int64     `gorm:"primaryKey"`
	Hash      string    `gorm:"size:64;not null;uniqueIndex"`
	Text      string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// Purposes of consent. Only one today; the column exists so that phone or
// SMS marketing can be added without a migration of meaning.
const PurposeMarketingEmail = "marketing_email"

// Consent actions. A person's state is computed from these in one place
// (see MarketingState).
const (
	ActionGiven     = "given"     // box ticked on a form
	ActionNotGiven  = "not_given" // form submitted with the box unticked
	ActionConfirmed = "confirmed" // double opt-in link confirmed
	ActionWithdrawn = "withdrawn" // opt-out by link, one-click or operator
)

// Methods by which a consent event came about.
const (
	MethodForm        = "form"
	MethodConfirmLink = "confirm_link"
	MethodOptOutPage  = "optout_page"
	MethodOneClick    = "one_click"
	MethodOperator    = "operator"
)

// ConsentEvent is one entry of the append-only consent ledger. The database
// refuses updates and deletes of these rows (each engine's schema has the
// triggers; storetest checks it).
type ConsentEvent struct {
	ID int64 `gorm:"primaryKey"`
	// Subject is the normalised email address the event is about.
	Subject string    `gorm:"not null;index:idx_consent_subject,priority:1"`
	Purpose string    `gorm:"not null;index:idx_consent_subject,priority:2"`
	At      time.Time `gorm:"not null"`
	Action  string    `gorm:"not null"`
	Method  string    `gorm:"not null"`
	// LeadID links the event to the submission or email it came from.
	LeadID    *int64 `gorm:"index"`
	IP        string `gorm:"not null;default:''"`
	UserAgent string `gorm:"not null;default:''"`
	PageURL   string `gorm:"not null;default:''"`
	// ConsentTextID is the wording shown, for given and not-given events.
	ConsentTextID *int64
	ConsentText   *ConsentText `gorm:"foreignKey:ConsentTextID"`
}

// Outbox message kinds.
const (
	KindSalesNotification   = "sales_notification"
	KindConsentConfirmation = "consent_confirmation"
)

// Outbox message states.
const (
	StatusPending   = "pending"
	StatusSending   = "sending"
	StatusSent      = "sent"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// OutboxMessage is one email to send. It holds no copy of the lead's data:
// the email is composed from the lead when it is sent, so an erased lead
// leaves nothing behind here and a withdrawn consent is seen at send time.
type OutboxMessage struct {
	ID int64 `gorm:"primaryKey"`
	// LeadID is indexed for confirmation emails only, the ones looked up
	// by lead (see the sqlite engine's baseline migration).
	LeadID int64  `gorm:"not null"`
	Lead   *Lead  `gorm:"constraint:OnDelete:CASCADE"`
	Kind   string `gorm:"not null"`
	// Recipient is the sales address a notification goes to, as
	// LEADBOX_SALES_TO gave it when the lead came in ("Name <addr>"). Each
	// address has a row of its own, sent and retried on its own, so one
	// that is refused (someone who left) holds back no other. Empty for
	// other kinds, and on rows from before: then all of LEADBOX_SALES_TO.
	Recipient string    `gorm:"not null;default:''"`
	Status    string    `gorm:"not null;index:idx_outbox_due,priority:1"`
	CreatedAt time.Time `gorm:"not null"`
	// NextAttemptAt is when the message is due; kept in the database so a
	// restart neither resets nor rushes the backoff.
	NextAttemptAt time.Time `gorm:"not null;index:idx_outbox_due,priority:2"`
	// LeaseUntil is set while a worker holds the message; a lease that ran
	// out (a crashed worker) makes the message due again.
	LeaseUntil *time.Time
	// QueuedAt starts the give-up clock; an operator's requeue restarts it.
	QueuedAt  time.Time `gorm:"not null"`
	Attempts  int       `gorm:"not null;default:0"`
	LastError string    `gorm:"not null;default:''"`
	SentAt    *time.Time
	// MessageID is the stable, random left-hand side of the Message-ID
	// header (the mailer adds "@" and the sender's domain), so a rare
	// duplicate after a crash is recognisable as one.
	MessageID string `gorm:"not null"`

	// Event, Target and Data are set on webhooks (Kind KindWebhook) only:
	// the event type (EventLeadCreated ...), the receiver's URL, and the
	// event's data when it cannot be composed from the lead at send time
	// (subject.erased: the erased leads' public ids, which identify nobody).
	// A lead's own fields never go here: like emails, webhooks about a
	// lead are composed from it when sent, so an erasure leaves nothing.
	Event  string `gorm:"not null;default:''"`
	Target string `gorm:"not null;default:''"`
	Data   string `gorm:"not null;default:''"`
}

// TableName keeps the table name readable.
func (OutboxMessage) TableName() string { return "outbox" }

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken returns a random, URL-safe token carrying n bytes of entropy from
// crypto/rand.
func NewToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return strings.ToLower(tokenEncoding.EncodeToString(b))
}

// NewKey returns an unguessable, URL-safe key for an indexed column: the
// current time in milliseconds (6 bytes, big-endian) followed by n random
// bytes, in lower-case base32. Keys made later sort later, so inserting
// them touches the right edge of the index instead of a random page: with
// purely random keys every new lead dirtied a different page of each
// unique index, and the write-ahead log and checkpoints grew with them. The
// secret is the random part; the prefix only says when the key was made.
func NewKey(n int) string {
	b := make([]byte, 6+n)
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	return strings.ToLower(tokenEncoding.EncodeToString(b))
}

// NormalizeEmail returns the key under which a person's consent is kept.
// Addresses are compared case-insensitively in practice, whatever RFC 5321
// allows for local parts, so both halves are lower-cased. The domain is
// brought to its one IDNA form (RFC 5891, UTS #46 mapping), shown in
// Unicode: "Bücher.DE" and "xn--bcher-kva.de" are "bücher.de", and the
// full-width "ｅxample.com" is "example.com". Each of those spellings
// reaches the same mailboxes (emails go out in the ASCII form), so each
// must be the same person for opt-outs, duplicates and the confirmation
// limit.
func NormalizeEmail(addr string) string {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return strings.ToLower(addr)
	}
	return strings.ToLower(addr[:at]) + "@" + canonicalDomain(addr[at+1:])
}

// canonicalDomain is the domain part of NormalizeEmail. A plain ASCII
// domain (almost all of them) is only lower-cased; one IDNA refuses is
// lower-cased too, and is delivered, if at all, as typed.
func canonicalDomain(d string) string {
	lower := strings.ToLower(d)
	if isLDH(lower) && !strings.Contains(lower, "xn--") {
		return lower
	}
	ascii, err := idnaProfile.ToASCII(d)
	if err != nil {
		return lower
	}
	u, err := idnaProfile.ToUnicode(ascii)
	if err != nil {
		return lower
	}
	return u
}

// idnaProfile maps domains for the person's key (NormalizeEmail) and for
// the address emails go to (ASCIIAddress) alike: were the two to differ,
// spellings that reach one mailbox would count as several people.
var idnaProfile = idna.Lookup

// ASCIIAddress writes an address's internationalised domain in its ASCII
// form (bücher.de as xn--bcher-kva.de, RFC 5891), which every mail server
// takes; the Unicode form needs SMTPUTF8 (RFC 6531), which many do not
// offer. The local part is ASCII already (see the form's validation). A
// domain IDNA refuses is left as it is.
func ASCIIAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	domain, err := idnaProfile.ToASCII(addr[at+1:])
	if err != nil {
		return addr
	}
	return addr[:at+1] + domain
}

// isLDH reports a domain of ASCII letters, digits, hyphens and dots only,
// which IDNA leaves as it is once lower-cased.
func isLDH(d string) bool {
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
