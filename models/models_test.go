package models

import (
	"testing"
	"time"
)

func TestComputeMarketingState(t *testing.T) {
	ev := func(action string) ConsentEvent {
		return ConsentEvent{Purpose: PurposeMarketingEmail, Action: action}
	}
	other := ConsentEvent{Purpose: "marketing_sms", Action: ActionGiven}
	tests := []struct {
		name        string
		events      []ConsentEvent
		doubleOptIn bool
		want        MarketingState
	}{
		{"no events", nil, true, StateNone},
		{"not given", []ConsentEvent{ev(ActionNotGiven)}, true, StateNone},
		{"given, double opt-in", []ConsentEvent{ev(ActionGiven)}, true, StatePending},
		{"given, single opt-in", []ConsentEvent{ev(ActionGiven)}, false, StateSubscribed},
		{"given then confirmed", []ConsentEvent{ev(ActionGiven), ev(ActionConfirmed)}, true, StateSubscribed},
		{"confirmed without given", []ConsentEvent{ev(ActionConfirmed)}, true, StateNone},
		{"given, confirmed, withdrawn", []ConsentEvent{ev(ActionGiven), ev(ActionConfirmed), ev(ActionWithdrawn)}, true, StateWithdrawn},
		{"withdrawn then stale confirm", []ConsentEvent{ev(ActionGiven), ev(ActionWithdrawn), ev(ActionConfirmed)}, true, StateWithdrawn},
		{"withdrawn then given again", []ConsentEvent{ev(ActionGiven), ev(ActionWithdrawn), ev(ActionGiven)}, true, StatePending},
		{"withdrawn then given again, single opt-in", []ConsentEvent{ev(ActionWithdrawn), ev(ActionGiven)}, false, StateSubscribed},
		{"subscribed then box left unticked", []ConsentEvent{ev(ActionGiven), ev(ActionConfirmed), ev(ActionNotGiven)}, true, StateSubscribed},
		{"withdrawn then box left unticked", []ConsentEvent{ev(ActionWithdrawn), ev(ActionNotGiven)}, true, StateWithdrawn},
		{"pending then given again", []ConsentEvent{ev(ActionGiven), ev(ActionGiven)}, true, StatePending},
		{"confirmed then given again (new pending)", []ConsentEvent{ev(ActionGiven), ev(ActionConfirmed), ev(ActionGiven)}, true, StatePending},
		{"other purpose ignored", []ConsentEvent{other}, false, StateNone},
	}
	for _, tt := range tests {
		got := ComputeMarketingState(tt.events, tt.doubleOptIn)
		if got != tt.want {
			t.Errorf("%s: ComputeMarketingState = %q, want %q", tt.name, got, tt.want)
		}
		if got.MayMarket() != (tt.want == StateSubscribed) {
			t.Errorf("%s: MayMarket = %v for %q", tt.name, got.MayMarket(), got)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Ann.Example@EXAMPLE.com ", "ann.example@example.com"},
		{"ann@sub-1.example.co.uk", "ann@sub-1.example.co.uk"},
		// Every spelling that reaches the same mailbox is the same person.
		{"Zoe@Bücher.DE", "zoe@bücher.de"},
		{"zoe@xn--bcher-kva.de", "zoe@bücher.de"},
		{"zoe@XN--BCHER-KVA.DE", "zoe@bücher.de"},
		{"victim@ｅxample.com", "victim@example.com"},
		{"victim@exａmple.ｃom", "victim@example.com"},
		{"a@ﬁ.com", "a@fi.com"},
		// What IDNA refuses is only lower-cased.
		{"a@-bad-.com", "a@-bad-.com"},
		{"no-at-sign", "no-at-sign"},
	}
	for _, tt := range tests {
		if got := NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMarketingOf: what the inbox, the API, the exports and the emails say
// of a person's marketing consent, for every history that matters.
func TestMarketingOf(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 12, 1, 10, m, 0, 0, time.UTC) }
	ev := func(action string, m int) ConsentEvent {
		return ConsentEvent{Purpose: PurposeMarketingEmail, Action: action, At: at(m)}
	}
	// by is an event made some other way than the form's: a suppression
	// by phone or letter, or a withdrawal recalled from the suppression
	// list when an erased or suppressed address comes back.
	by := func(method string, e ConsentEvent) ConsentEvent { e.Method = method; return e }
	tests := []struct {
		name   string
		events []ConsentEvent
		doi    bool
		want   Marketing
	}{
		{"nothing recorded", nil, true, Marketing{State: MarketingNotGiven}},
		{"box left unticked", []ConsentEvent{ev(ActionNotGiven, 1)}, true, Marketing{State: MarketingNotGiven}},
		{"given, double opt-in: pending", []ConsentEvent{ev(ActionGiven, 1)}, true, Marketing{MarketingPending, at(1)}},
		{"given, single opt-in", []ConsentEvent{ev(ActionGiven, 1)}, false, Marketing{MarketingGiven, at(1)}},
		{"confirmed", []ConsentEvent{ev(ActionGiven, 1), ev(ActionConfirmed, 2)}, true, Marketing{MarketingGiven, at(2)}},
		{"withdrawn", []ConsentEvent{ev(ActionGiven, 1), ev(ActionConfirmed, 2), ev(ActionWithdrawn, 3)}, true, Marketing{MarketingWithdrawn, at(3)}},
		{"withdrawn then given again: pending anew", []ConsentEvent{ev(ActionGiven, 1), ev(ActionWithdrawn, 2), ev(ActionGiven, 3)}, true, Marketing{MarketingPending, at(3)}},
		{"withdrawn then given again and confirmed", []ConsentEvent{ev(ActionGiven, 1), ev(ActionWithdrawn, 2), ev(ActionGiven, 3), ev(ActionConfirmed, 4)}, true, Marketing{MarketingGiven, at(4)}},
		{"unticked later changes nothing", []ConsentEvent{ev(ActionGiven, 1), ev(ActionConfirmed, 2), ev(ActionNotGiven, 3)}, true, Marketing{MarketingGiven, at(2)}},
		{"unticked after a withdrawal changes nothing", []ConsentEvent{ev(ActionWithdrawn, 1), ev(ActionNotGiven, 2)}, true, Marketing{MarketingWithdrawn, at(1)}},
		{"a stray confirmation confirms nothing", []ConsentEvent{ev(ActionWithdrawn, 1), ev(ActionConfirmed, 2)}, true, Marketing{MarketingWithdrawn, at(1)}},
		{"withdrawn without ever giving", []ConsentEvent{ev(ActionWithdrawn, 1)}, true, Marketing{MarketingWithdrawn, at(1)}},
		{"suppressed by phone after a confirmed consent", []ConsentEvent{ev(ActionGiven, 1), ev(ActionConfirmed, 2), by(MethodSuppression, ev(ActionWithdrawn, 3))}, true, Marketing{MarketingWithdrawn, at(3)}},
		{"suppressed while unknown, then unticked", []ConsentEvent{by(MethodSuppressionList, ev(ActionWithdrawn, 1)), ev(ActionNotGiven, 2)}, true, Marketing{MarketingWithdrawn, at(1)}},
		{"suppressed while unknown, then ticked and confirmed", []ConsentEvent{by(MethodSuppressionList, ev(ActionWithdrawn, 1)), ev(ActionGiven, 2), ev(ActionConfirmed, 3)}, true, Marketing{MarketingGiven, at(3)}},
		{"erased (the ledger holds nothing of the address)", []ConsentEvent{}, true, Marketing{State: MarketingNotGiven}},
		{"erased after an opt-out, back unticked", []ConsentEvent{by(MethodSuppressionList, ev(ActionWithdrawn, 1)), ev(ActionNotGiven, 5)}, true, Marketing{MarketingWithdrawn, at(1)}},
		{"erased after an opt-out, back and ticked: pending", []ConsentEvent{by(MethodSuppressionList, ev(ActionWithdrawn, 1)), ev(ActionGiven, 5)}, true, Marketing{MarketingPending, at(5)}},
		{"another purpose is not marketing email", []ConsentEvent{{Purpose: "sms", Action: ActionGiven, At: at(1)}}, false, Marketing{State: MarketingNotGiven}},
	}
	for _, tt := range tests {
		got := MarketingOf(tt.events, tt.doi)
		if got != tt.want {
			t.Errorf("%s: MarketingOf = %+v, want %+v", tt.name, got, tt.want)
		}
		if may := got.MayMarket(); may != (tt.want.State == MarketingGiven) || may != ComputeMarketingState(tt.events, tt.doi).MayMarket() {
			t.Errorf("%s: MayMarket = %v, disagreeing with the state %q", tt.name, may, got.State)
		}
	}
}
