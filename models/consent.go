package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// HashConsentText identifies a consent wording by the SHA-256 of its exact
// bytes, so the proof of what a person saw does not depend on a version
// counter that someone might reset.
func HashConsentText(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// MarketingState is what may be done with a person's address for marketing.
type MarketingState string

// The marketing states a person can be in.
const (
	// StateNone: never gave consent. No marketing.
	StateNone MarketingState = "none"
	// StatePending: ticked the box, has not confirmed by email yet (double
	// opt-in). No marketing.
	StatePending MarketingState = "pending"
	// StateSubscribed: consent given (and confirmed, with double opt-in).
	StateSubscribed MarketingState = "subscribed"
	// StateWithdrawn: opted out. No marketing until a new consent.
	StateWithdrawn MarketingState = "withdrawn"
)

// MayMarket reports whether marketing email may be sent in this state.
func (s MarketingState) MayMarket() bool { return s == StateSubscribed }

// ComputeMarketingState says, from a person's consent events (oldest
// first), whether they may receive marketing; MarketingOf decides.
func ComputeMarketingState(events []ConsentEvent, doubleOptIn bool) MarketingState {
	switch MarketingOf(events, doubleOptIn).State {
	case MarketingGiven:
		return StateSubscribed
	case MarketingPending:
		return StatePending
	case MarketingWithdrawn:
		return StateWithdrawn
	}
	return StateNone
}

// ErrConfirmSuperseded means the person opted out after the consent this
// confirmation link was sent for.
var ErrConfirmSuperseded = errors.New("confirmation superseded")

// ConfirmTarget says what the confirmation link sent for leadID can do,
// given the person's events (oldest first). The link confirms that lead's
// "given" event until the person decides otherwise: a withdrawal after it
// supersedes the link, a confirmation after it (from this link or another)
// means there is nothing left to confirm. Newer submissions with the box
// ticked do not supersede it, so a person may click whichever of their
// confirmation emails they find. It returns the event to confirm, or
// confirmed=true; both zero means superseded.
func ConfirmTarget(events []ConsentEvent, leadID int64) (given *ConsentEvent, confirmed bool) {
	seen := false // this lead's "given" event has been passed
	for i := range events {
		e := &events[i]
		if e.Purpose != PurposeMarketingEmail {
			continue
		}
		switch {
		case e.Action == ActionGiven && e.LeadID != nil && *e.LeadID == leadID:
			given, confirmed, seen = e, false, true
		case !seen:
		case e.Action == ActionWithdrawn:
			given, confirmed = nil, false
		case e.Action == ActionConfirmed:
			given, confirmed = nil, true
		}
	}
	return given, confirmed
}
