package models

import (
	"strconv"
	"strings"
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

// TestPrivacyToken: a link works for a day from when it was issued, for the
// lead it was made for, and only with the key that made it.
func TestPrivacyToken(t *testing.T) {
	key, other := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	issued := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tok := PrivacyToken(key, "lead123", issued)
	if id, at, err := ParsePrivacyToken(key, tok, issued.Add(23*time.Hour)); err != nil || id != "lead123" || !at.Equal(issued) {
		t.Errorf("a day-old link: %q, %v, %v", id, at, err)
	}
	tampered := strings.Replace(tok, "lead123", "lead124", 1)
	later := PrivacyToken(key, "lead123", issued.Add(time.Hour))
	forged := tok[:strings.LastIndexByte(tok, '.')+1] + later[strings.LastIndexByte(later, '.')+1:]
	for name, tt := range map[string]struct {
		key   []byte
		token string
		now   time.Time
	}{
		"expired":            {key, tok, issued.Add(PrivacyLinkTTL)},
		"another lead's id":  {key, tampered, issued},
		"another time's MAC": {key, forged, issued},
		"another key":        {other, tok, issued},
		"not a token":        {key, "lead123", issued},
		"issued in future":   {key, later, issued.Add(-time.Hour)},
	} {
		if _, _, err := ParsePrivacyToken(tt.key, tt.token, tt.now); err != ErrNotFound {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

// FuzzParsePrivacyToken: whatever is in the URL, the parser answers
// without panicking, and accepts nothing it did not sign.
func FuzzParsePrivacyToken(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	f.Add(PrivacyToken(key, "abc", now))
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		id, _, err := ParsePrivacyToken(key, tok, now)
		if err == nil && PrivacyToken(key, id, time.Unix(mustUnix(t, tok), 0)) != tok {
			t.Errorf("accepted %q, which it did not sign", tok)
		}
	})
}

func mustUnix(t *testing.T, tok string) int64 {
	parts := strings.Split(tok, ".")
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		t.Fatalf("accepted %q with a bad time", tok)
	}
	return n
}

// TestAddressHasher: the pooled hasher agrees with AddressHash, also when
// used from many goroutines at once.
func TestAddressHasher(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	h := NewAddressHasher(key)
	done := make(chan bool)
	for g := range 8 {
		go func() {
			ok := true
			for i := range 200 {
				s := strconv.Itoa(g*1000+i) + "@example.com"
				ok = ok && h.Hash(s) == AddressHash(key, s)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Fatal("the pooled hasher disagrees with AddressHash")
		}
	}
}
