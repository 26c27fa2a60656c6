package handlers_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

func TestConfirmPage(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	if !app.cfg.DoubleOptIn {
		t.Fatalf("DoubleOptIn = false by default, want true")
	}
	lead := app.submitLead(t, "ann@example.com", true)
	path := "/confirm/" + *lead.ConfirmToken

	res := app.get(t, path)
	if res.status != http.StatusOK {
		t.Fatalf("GET %s: got %v, want 200", path, res)
	}
	checkNoStore(t, "GET", res)
	if !strings.Contains(res.body, "<h1>Confirm your subscription</h1>") || !strings.Contains(res.body, "<strong>a***@example.com</strong>") {
		t.Errorf("page does not ask to confirm for a***@example.com:\n%s", res.body)
	}
	if strings.Contains(res.body, "ann@example.com") {
		t.Errorf("page shows the whole address:\n%s", res.body)
	}
	checkOneButtonForm(t, res.body, path)
	if !strings.Contains(res.body, ">Confirm</button>") {
		t.Errorf("the button does not say Confirm:\n%s", res.body)
	}

	before := app.allEvents(t)
	app.scan(t, path, http.StatusOK)
	if after := app.allEvents(t); len(after) != len(before) {
		t.Fatalf("after GET/HEAD the ledger has %d events (%q), want %d", len(after), actions(after), len(before))
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StatePending {
		t.Fatalf("state after GET/HEAD = %s, want %s", got, models.StatePending)
	}

	res = app.postForm(t, path, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("POST %s: got %v, want 200", path, res)
	}
	checkNoStore(t, "POST", res)
	checkNotRedirected(t, "POST", res)
	if !strings.Contains(res.body, "Thank you, you are subscribed") {
		t.Errorf("POST answer does not say subscribed:\n%s", res.body)
	}
	if want := `href="/optout/` + lead.OptOutToken + `"`; !strings.Contains(res.body, want) {
		t.Errorf("POST answer has no opt-out link %s:\n%s", want, res.body)
	}
	evs := app.ledger(t, "ann@example.com")
	if got, want := actions(evs), []string{models.ActionGiven, models.ActionConfirmed}; !slices.Equal(got, want) {
		t.Fatalf("ledger = %q, want %q", got, want)
	}
	given, confirmed := evs[0], evs[1]
	if confirmed.Method != models.MethodConfirmLink || confirmed.Purpose != models.PurposeMarketingEmail ||
		confirmed.LeadID == nil || *confirmed.LeadID != lead.ID ||
		confirmed.IP != "127.0.0.1" || confirmed.UserAgent != testUserAgent {
		t.Errorf("confirmed event = %+v, want method %s for lead %d from 127.0.0.1, UA %q",
			confirmed, models.MethodConfirmLink, lead.ID, testUserAgent)
	}
	if confirmed.ConsentTextID == nil || given.ConsentTextID == nil || *confirmed.ConsentTextID != *given.ConsentTextID {
		t.Errorf("confirmed consent_text_id = %v, want the given event's %v", confirmed.ConsentTextID, given.ConsentTextID)
	}
	if confirmed.At.Before(given.At) {
		t.Errorf("confirmed at %v, before given at %v", confirmed.At, given.At)
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StateSubscribed {
		t.Errorf("state after POST = %s, want %s", got, models.StateSubscribed)
	}

	res = app.postForm(t, path, "", nil)
	if res.status != http.StatusOK || !strings.Contains(res.body, "You are already subscribed") {
		t.Errorf("second POST: got %v, want 200 saying already subscribed", res)
	}
	res = app.get(t, path)
	if res.status != http.StatusOK || !strings.Contains(res.body, "You are already subscribed") || strings.Contains(res.body, "<form") {
		t.Errorf("GET after confirming: got %v, want 200 saying already subscribed, without a form", res)
	}
	app.scan(t, path, http.StatusOK)
	if got := len(app.ledger(t, "ann@example.com")); got != 2 {
		t.Errorf("after repeats the ledger has %d events, want 2", got)
	}
}

func TestConfirmExpired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   []testOption
		expire func(t *testing.T, app *testApp, lead models.Lead)
	}{
		{
			name: "short TTL",
			opts: []testOption{withSetting("LEADBOX_CONFIRM_TTL", "1ms")},
			expire: func(t *testing.T, _ *testApp, lead models.Lead) {
				time.Sleep(time.Until(lead.ConfirmExpiresAt.Add(time.Millisecond)))
			},
		},
		{
			name: "expiry in the past",
			expire: func(t *testing.T, app *testApp, lead models.Lead) {
				t.Helper()
				_, err := app.rawDB(t).ExecContext(context.Background(),
					`UPDATE leads SET confirm_expires_at = ? WHERE id = ?`, time.Now().UTC().Add(-time.Minute), lead.ID)
				if err != nil {
					t.Fatalf("expire the confirm link: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t, tt.opts...)
			lead := app.submitLead(t, "ann@example.com", true)
			tt.expire(t, app, lead)
			path := "/confirm/" + *lead.ConfirmToken
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				res := app.do(t, method, path, "application/x-www-form-urlencoded", nil, nil)
				if res.status != http.StatusGone {
					t.Fatalf("%s %s: got %v, want 410", method, path, res)
				}
				checkNoStore(t, method, res)
				if !strings.Contains(res.body, "This link has expired") || strings.Contains(res.body, "<form") {
					t.Errorf("%s: page does not say expired, or offers a form:\n%s", method, res.body)
				}
			}
			app.scan(t, path, http.StatusGone)
			if got, want := actions(app.ledger(t, "ann@example.com")), []string{models.ActionGiven}; !slices.Equal(got, want) {
				t.Errorf("ledger = %q, want %q", got, want)
			}
			if got := app.marketingState(t, "ann@example.com"); got != models.StatePending {
				t.Errorf("state = %s, want %s", got, models.StatePending)
			}
			// The opt-out link never expires.
			if res := app.postForm(t, "/optout/"+lead.OptOutToken, "", nil); res.status != http.StatusOK {
				t.Errorf("opt-out after the confirm link expired: got %v, want 200", res)
			}
		})
	}
}

func TestConfirmAfterOptOut(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", true)
	if res := app.postForm(t, "/optout/"+lead.OptOutToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("POST opt-out: got %v, want 200", res)
	}
	path := "/confirm/" + *lead.ConfirmToken
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		res := app.do(t, method, path, "application/x-www-form-urlencoded", nil, nil)
		if res.status != http.StatusOK {
			t.Fatalf("%s %s: got %v, want 200", method, path, res)
		}
		checkNoStore(t, method, res)
		if !strings.Contains(res.body, "This link is no longer valid") ||
			!strings.Contains(res.body, "You are unsubscribed from marketing emails to <strong>a***@example.com</strong>") {
			t.Errorf("%s: page does not say the link is no longer valid and the person unsubscribed:\n%s", method, res.body)
		}
		if strings.Contains(res.body, "<form") {
			t.Errorf("%s: page offers a form:\n%s", method, res.body)
		}
	}
	if got, want := actions(app.ledger(t, "ann@example.com")), []string{models.ActionGiven, models.ActionWithdrawn}; !slices.Equal(got, want) {
		t.Errorf("ledger = %q, want %q", got, want)
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StateWithdrawn {
		t.Errorf("state = %s, want %s", got, models.StateWithdrawn)
	}
}

// TestConfirmAnyPendingLink: a newer ticked submission sends a newer link,
// but the older one still confirms (the person clicks whichever email they
// find); once either is used, both say so and add nothing.
func TestConfirmAnyPendingLink(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withDuplicateWindow(0)) // the same enquiry twice, two leads
	older := app.submitLead(t, "ann@example.com", true)
	newer := app.submitLead(t, "Ann@Example.com", true)
	oldPath, newPath := "/confirm/"+*older.ConfirmToken, "/confirm/"+*newer.ConfirmToken

	for _, path := range []string{oldPath, newPath} {
		if res := app.get(t, path); !strings.Contains(res.body, "Confirm your subscription") || !strings.Contains(res.body, "<button") {
			t.Errorf("GET %s while pending: want the confirm button:\n%s", path, res.body)
		}
	}
	res := app.postForm(t, oldPath, "", nil)
	if res.status != http.StatusOK || !strings.Contains(res.body, "Thank you, you are subscribed") {
		t.Fatalf("POST the older link: got %v, want 200 saying subscribed", res)
	}
	evs := app.ledger(t, "ann@example.com")
	if got, want := actions(evs), []string{models.ActionGiven, models.ActionGiven, models.ActionConfirmed}; !slices.Equal(got, want) {
		t.Fatalf("ledger = %q, want %q", got, want)
	}
	if c := evs[2]; c.LeadID == nil || *c.LeadID != older.ID || c.ConsentTextID == nil || *c.ConsentTextID != *evs[0].ConsentTextID {
		t.Errorf("confirmed event is for lead %v wording %v, want the older lead %d and its wording", c.LeadID, c.ConsentTextID, older.ID)
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StateSubscribed {
		t.Errorf("state = %s, want %s", got, models.StateSubscribed)
	}
	// Once subscribed, the newer link says so and adds nothing.
	res = app.postForm(t, newPath, "", nil)
	if res.status != http.StatusOK || !strings.Contains(res.body, "already subscribed") {
		t.Errorf("POST the newer link after confirming: got %v, want 200 saying already subscribed", res)
	}
	if got := len(app.ledger(t, "ann@example.com")); got != 3 {
		t.Errorf("ledger has %d events, want 3", got)
	}
}

// TestConfirmSupersededByOptOut: an opt-out after the link was sent makes
// it useless, and the page says so before anyone presses anything.
func TestConfirmSupersededByOptOut(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", true)
	if res := app.postForm(t, "/optout/"+lead.OptOutToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("opt-out: %v", res)
	}
	path := "/confirm/" + *lead.ConfirmToken
	if res := app.get(t, path); !strings.Contains(res.body, "This link is no longer valid") || strings.Contains(res.body, "<button") {
		t.Errorf("GET after opt-out shows a button or does not say it is superseded:\n%s", res.body)
	}
	if res := app.postForm(t, path, "", nil); !strings.Contains(res.body, "This link is no longer valid") {
		t.Errorf("POST after opt-out: %v, want no longer valid", res)
	}
	if got, want := actions(app.ledger(t, "ann@example.com")), []string{models.ActionGiven, models.ActionWithdrawn}; !slices.Equal(got, want) {
		t.Errorf("ledger = %q, want %q", got, want)
	}
}

// TestReconsent: consent can be given again after an opt-out, and the
// ledger keeps the whole story in order.
func TestReconsent(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	first := app.submitLead(t, "ann@example.com", true)
	steps := []struct {
		what, path string
	}{
		{"confirm", "/confirm/" + *first.ConfirmToken},
		{"opt out", "/optout/" + first.OptOutToken},
	}
	for _, s := range steps {
		if res := app.postForm(t, s.path, "", nil); res.status != http.StatusOK {
			t.Fatalf("%s: got %v, want 200", s.what, res)
		}
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StateWithdrawn {
		t.Fatalf("state after opt-out = %s, want %s", got, models.StateWithdrawn)
	}
	second := app.submitLead(t, "ann@example.com", true)
	if *second.ConfirmToken == *first.ConfirmToken || second.OptOutToken == first.OptOutToken {
		t.Fatalf("the new submission reuses the old tokens")
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StatePending {
		t.Fatalf("state after the new ticked submission = %s, want %s", got, models.StatePending)
	}
	res := app.postForm(t, "/confirm/"+*second.ConfirmToken, "", nil)
	if res.status != http.StatusOK || !strings.Contains(res.body, "Thank you, you are subscribed") {
		t.Fatalf("confirm the new link: got %v, want 200 saying subscribed", res)
	}

	type row struct {
		action, method string
		lead           int64
	}
	var got []row
	for _, e := range app.ledger(t, "ann@example.com") {
		r := row{action: e.Action, method: e.Method}
		if e.LeadID != nil {
			r.lead = *e.LeadID
		}
		got = append(got, r)
	}
	want := []row{
		{models.ActionGiven, models.MethodForm, first.ID},
		{models.ActionConfirmed, models.MethodConfirmLink, first.ID},
		{models.ActionWithdrawn, models.MethodOptOutPage, first.ID},
		{models.ActionGiven, models.MethodForm, second.ID},
		{models.ActionConfirmed, models.MethodConfirmLink, second.ID},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ledger = %+v, want %+v", got, want)
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StateSubscribed {
		t.Errorf("final state = %s, want %s", got, models.StateSubscribed)
	}
	// Either opt-out link still works for the person.
	res = app.get(t, "/optout/"+first.OptOutToken)
	if res.status != http.StatusOK || !strings.Contains(res.body, "Stop marketing emails?") ||
		!strings.Contains(res.body, "may send marketing emails to <strong>a***@example.com</strong>: you agreed") {
		t.Errorf("old opt-out link after re-consent: got %v, want the question and the state (subscribed)", res)
	}
}

// TestUntickedAfterOptOut: a new submission without the box ticked is not
// consent, and does not undo the opt-out.
func TestUntickedAfterOptOut(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	first := app.submitLead(t, "ann@example.com", true)
	if res := app.postForm(t, "/optout/"+first.OptOutToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("opt out: got %v, want 200", res)
	}
	second := app.submitLead(t, "ANN@example.com", false)
	if second.ConfirmToken != nil {
		t.Errorf("unticked submission has confirm token %q, want none", *second.ConfirmToken)
	}
	if got, want := actions(app.ledger(t, "ann@example.com")), []string{models.ActionGiven, models.ActionWithdrawn, models.ActionNotGiven}; !slices.Equal(got, want) {
		t.Errorf("ledger = %q, want %q", got, want)
	}
	for _, doubleOptIn := range []bool{true, false} {
		got, err := app.store.MarketingStateOf(context.Background(), "ann@example.com", doubleOptIn)
		if err != nil {
			t.Fatalf("MarketingStateOf: %v", err)
		}
		if got != models.StateWithdrawn {
			t.Errorf("state (double opt-in %v) = %s, want %s", doubleOptIn, got, models.StateWithdrawn)
		}
	}
	res := app.get(t, "/optout/"+second.OptOutToken)
	if res.status != http.StatusOK || !strings.Contains(res.body, "You are already unsubscribed") {
		t.Errorf("the new lead's opt-out page: got %v, want 200 saying already unsubscribed", res)
	}
	for _, m := range app.allOutbox(t) {
		if m.LeadID == second.ID && m.Kind != models.KindSalesNotification {
			t.Errorf("unticked submission queued %s, want only the sales notification", m.Kind)
		}
	}
}

// TestConfirmAfterUntickedSubmission: leaving the box unticked on a later
// form is neither a withdrawal nor a new consent, so the earlier link still
// confirms.
func TestConfirmAfterUntickedSubmission(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	ticked := app.submitLead(t, "ann@example.com", true)
	app.submitLead(t, "ann@example.com", false)

	res := app.postForm(t, "/confirm/"+*ticked.ConfirmToken, "", nil)
	if res.status != http.StatusOK || !strings.Contains(res.body, "Thank you, you are subscribed") {
		t.Fatalf("POST the link: got %v, want 200 saying subscribed", res)
	}
	evs := app.ledger(t, "ann@example.com")
	if got, want := actions(evs), []string{models.ActionGiven, models.ActionNotGiven, models.ActionConfirmed}; !slices.Equal(got, want) {
		t.Fatalf("ledger = %q, want %q", got, want)
	}
	if c := evs[2]; c.LeadID == nil || *c.LeadID != ticked.ID || c.ConsentTextID == nil || *c.ConsentTextID != *evs[0].ConsentTextID {
		t.Errorf("confirmed event = %+v, want lead %d and the given event's wording", c, ticked.ID)
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StateSubscribed {
		t.Errorf("state = %s, want %s", got, models.StateSubscribed)
	}
}

// TestOldLinkAfterTickingAgain: someone subscribed ticks the box again
// (their new consent waits for its own link). Their old, used link must
// not say "already subscribed": they are not, until they confirm again.
func TestOldLinkAfterTickingAgain(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withDuplicateWindow(0)) // the same enquiry again, a new lead
	first := app.submitLead(t, "ann@example.com", true)
	if res := app.do(t, http.MethodPost, "/confirm/"+*first.ConfirmToken, "", nil, nil); res.status != http.StatusOK {
		t.Fatalf("confirm: %v", res)
	}
	app.submitLead(t, "ann@example.com", true) // no duplicate window in tests: a new submission
	if got := app.marketingState(t, "ann@example.com"); got != models.StatePending {
		t.Fatalf("state after ticking again = %s, want %s", got, models.StatePending)
	}
	res := app.get(t, "/confirm/"+*first.ConfirmToken)
	if res.status != http.StatusOK || strings.Contains(res.body, "already subscribed") || !strings.Contains(res.body, "no longer valid") ||
		!strings.Contains(res.body, "<title>Link no longer valid") {
		t.Errorf("old link after ticking again: %v, want \"no longer valid\"", res)
	}
}
