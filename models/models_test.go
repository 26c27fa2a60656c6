package models

import "testing"

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
