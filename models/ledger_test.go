package models

import "testing"

func TestConfirmTarget(t *testing.T) {
	ev := func(action string, lead int64) ConsentEvent {
		return ConsentEvent{Purpose: PurposeMarketingEmail, Action: action, LeadID: &lead}
	}
	const a, b = 1, 2
	tests := []struct {
		name          string
		events        []ConsentEvent
		wantGiven     bool
		wantConfirmed bool
	}{
		{"pending", []ConsentEvent{ev(ActionGiven, a)}, true, false},
		{"a newer ticked submission does not supersede", []ConsentEvent{ev(ActionGiven, a), ev(ActionGiven, b)}, true, false},
		{"an unticked submission changes nothing", []ConsentEvent{ev(ActionGiven, a), ev(ActionNotGiven, b)}, true, false},
		{"confirmed by this link", []ConsentEvent{ev(ActionGiven, a), ev(ActionConfirmed, a)}, false, true},
		{"confirmed by another link", []ConsentEvent{ev(ActionGiven, a), ev(ActionGiven, b), ev(ActionConfirmed, b)}, false, true},
		{"withdrawn after", []ConsentEvent{ev(ActionGiven, a), ev(ActionWithdrawn, a)}, false, false},
		{"confirmed then withdrawn", []ConsentEvent{ev(ActionGiven, a), ev(ActionConfirmed, a), ev(ActionWithdrawn, 0)}, false, false},
		{"withdrawn before it: still valid", []ConsentEvent{ev(ActionWithdrawn, 0), ev(ActionGiven, a)}, true, false},
		{"not this lead's consent", []ConsentEvent{ev(ActionGiven, b)}, false, false},
		{"no events", nil, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			given, confirmed := ConfirmTarget(tc.events, a)
			if (given != nil) != tc.wantGiven || confirmed != tc.wantConfirmed {
				t.Errorf("ConfirmTarget = (given %v, confirmed %v), want (given %v, confirmed %v)",
					given != nil, confirmed, tc.wantGiven, tc.wantConfirmed)
			}
		})
	}
}
