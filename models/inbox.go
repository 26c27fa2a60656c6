package models

import (
	"context"
	"slices"
	"time"
)

// Where sales is with a lead. Every lead starts as LeadNew.
const (
	LeadNew       = "new"
	LeadContacted = "contacted"
	LeadQualified = "qualified"
	LeadWon       = "won"
	LeadLost      = "lost"
)

// LeadStatuses lists the statuses a lead may have, in the order a sale
// goes through them.
func LeadStatuses() []string {
	return []string{LeadNew, LeadContacted, LeadQualified, LeadWon, LeadLost}
}

// ValidLeadStatus reports whether s is one of LeadStatuses.
func ValidLeadStatus(s string) bool { return slices.Contains(LeadStatuses(), s) }

// MaxNote bounds a note on a lead, in characters.
const MaxNote = 2000

// A person's marketing state as the inbox, the API and the exports name
// it: the filter's words, the API's marketing.state and marketing.csv's
// rule are the same.
const (
	MarketingGiven     = "given"     // may receive marketing now
	MarketingPending   = "pending"   // ticked the box, has not confirmed by email yet
	MarketingWithdrawn = "withdrawn" // opted out
	MarketingNotGiven  = "not_given" // never agreed
)

// MarketingStates lists the marketing states, for validating a filter.
func MarketingStates() []string {
	return []string{MarketingGiven, MarketingPending, MarketingWithdrawn, MarketingNotGiven}
}

// Marketing is a person's marketing state and since when it holds (the
// time of the consent event that decided it; zero for not_given).
type Marketing struct {
	State string
	Since time.Time
}

// MayMarket reports whether marketing email may be sent now.
func (m Marketing) MayMarket() bool { return m.State == MarketingGiven }

// MarketingOf is the one place that decides, from a person's consent
// events (oldest first), what the inbox, the API, the exports and the
// emails say of their marketing consent, and since when.
//
// The latest given, confirmed or withdrawn event decides. A form submitted
// with the box unticked ("not_given") is kept as proof of what was shown but
// changes nothing: leaving a box unticked is not a withdrawal, and it must
// not resurrect anything either. With double opt-in, a "given" counts only
// once a later "confirmed" follows it.
func MarketingOf(events []ConsentEvent, doubleOptIn bool) Marketing {
	m := Marketing{State: MarketingNotGiven}
	for _, e := range events {
		if e.Purpose != PurposeMarketingEmail {
			continue
		}
		switch e.Action {
		case ActionGiven:
			m = Marketing{State: MarketingGiven, Since: e.At}
			if doubleOptIn {
				m.State = MarketingPending
			}
		case ActionConfirmed:
			if m.State == MarketingPending || !doubleOptIn {
				m = Marketing{State: MarketingGiven, Since: e.At}
			}
		case ActionWithdrawn:
			m = Marketing{State: MarketingWithdrawn, Since: e.At}
		}
	}
	return m
}

// LeadFilter selects leads for the inbox, the API and leads.csv. The zero
// value selects every lead that is not spam.
type LeadFilter struct {
	// Query is a case-insensitive substring of the name, email, company
	// or message.
	Query     string
	Status    string    // one of LeadStatuses; "": any
	Marketing string    // one of MarketingStates; "": any
	Since     time.Time // created at or after; zero: no bound
	Until     time.Time // created before; zero: no bound
	Form      string    // the form's key; "": any
	Spam      bool      // only spam (none is kept today); false: no spam
}

// LeadItem is a lead as a list shows it: the lead (with where sales is
// with it, Lead.Status) and its person's marketing state now.
type LeadItem struct {
	Lead
	Marketing Marketing
}

// HistoryEntry is a status change or a note on a lead, by whom. Entries
// are only ever added.
type HistoryEntry struct {
	ID     int64     `gorm:"primaryKey"`
	LeadID int64     `gorm:"not null"`
	At     time.Time `gorm:"not null"`
	Actor  string    `gorm:"not null"`
	Status string    `gorm:"not null;default:''"` // the status set, "" for a note alone
	Note   string    `gorm:"not null;default:''"`
}

// TableName keeps the table name readable.
func (HistoryEntry) TableName() string { return "lead_history" }

// LeadDetail is everything the inbox shows of one lead.
type LeadDetail struct {
	LeadItem
	// Consent is the person's whole ledger, oldest first, each event
	// with its wording.
	Consent []ConsentEvent
	// Emails are the outbox messages about this lead, oldest first.
	Emails  []OutboxMessage
	History []HistoryEntry
}

// LeadChange is what sales changes on a lead: a new status, a note, or
// both ("" leaves each alone).
type LeadChange struct {
	Status string
	Note   string
}

// MarketingContact is one row of the marketing export: an address that may
// receive marketing now, with the proof of its consent.
type MarketingContact struct {
	Email, Name, Company, Locale string
	GivenAt                      time.Time
	ConfirmedAt                  *time.Time // nil without double opt-in
	WordingSHA256                string
	LeadPublicID                 string // the lead whose submission gave the consent
}

// InboxStore is what the sales inbox, the API and the exports need of
// storage.
type InboxStore interface {
	// Leads returns up to limit leads matching f, newest first; with
	// before > 0, only leads older than the lead with that row id (the
	// keyset of the previous page's last lead).
	Leads(ctx context.Context, f LeadFilter, before int64, limit int, doubleOptIn bool) ([]LeadItem, error)
	// EachLead calls fn for every lead matching f, newest first, reading
	// them in batches so that memory does not grow with their number.
	EachLead(ctx context.Context, f LeadFilter, doubleOptIn bool, fn func(LeadItem) error) error
	// LeadDetail returns everything about the lead with publicID, or
	// ErrNotFound.
	LeadDetail(ctx context.Context, publicID string, doubleOptIn bool) (LeadDetail, error)
	// UpdateLead applies ch to the lead with publicID, adds it to the
	// lead's history and writes its audit entry, in one transaction; it
	// returns the lead as changed, or ErrNotFound.
	UpdateLead(ctx context.Context, publicID string, ch LeadChange, o Origin, doubleOptIn bool) (LeadItem, error)
	// EachMarketingContact calls fn for every address that may receive
	// marketing now, once, newest consent first, streaming.
	EachMarketingContact(ctx context.Context, doubleOptIn bool, fn func(MarketingContact) error) error
}
