package handlers_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/models"
)

// checkNoStore checks that a token page cannot be kept by a cache: the
// token in its URL is a secret.
func checkNoStore(t *testing.T, what string, r response) {
	t.Helper()
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control = %q, want no-store", what, cc)
	}
}

// checkNotRedirected checks the RFC 8058 rules for the one-click answer: a
// mail provider's POST must get its answer directly, and no cookie.
func checkNotRedirected(t *testing.T, what string, r response) {
	t.Helper()
	if r.status >= 300 && r.status < 400 {
		t.Errorf("%s: status %d is a redirect", what, r.status)
	}
	if loc := r.header.Get("Location"); loc != "" {
		t.Errorf("%s: Location = %q, want none", what, loc)
	}
	if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("%s: Set-Cookie = %q, want none", what, sc)
	}
}

// TestOptOutPageWithoutConsent: someone who never ticked the box can
// still use the link; the page says they get no marketing email now.
func TestOptOutPageWithoutConsent(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", false)
	res := app.get(t, "/optout/"+lead.OptOutToken)
	if res.status != http.StatusOK || !strings.Contains(res.body, "sends no marketing emails to <strong>a***@example.com</strong>: you have not agreed") {
		t.Errorf("GET opt-out link without consent: %v, want the state (none)", res)
	}
	checkOneButtonForm(t, res.body, "/optout/"+lead.OptOutToken)
}

func TestOptOutPage(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", true)
	path := "/optout/" + lead.OptOutToken

	res := app.get(t, path)
	if res.status != http.StatusOK {
		t.Fatalf("GET %s: got %v, want 200", path, res)
	}
	checkNoStore(t, "GET", res)
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if !strings.Contains(res.body, "<strong>a***@example.com</strong>") {
		t.Errorf("page does not show the masked address a***@example.com:\n%s", res.body)
	}
	if strings.Contains(res.body, "ann@example.com") {
		t.Errorf("page shows the whole address:\n%s", res.body)
	}
	if !strings.Contains(res.body, "Stop marketing emails?") {
		t.Errorf("page does not ask whether to stop marketing emails:\n%s", res.body)
	}
	if !strings.Contains(res.body, "have not confirmed yet") {
		t.Errorf("page does not say the person has not confirmed yet (state pending):\n%s", res.body)
	}
	checkOneButtonForm(t, res.body, path)

	// Link scanners and prefetchers open the link; none of that may count
	// as a click.
	before, outboxBefore := app.allEvents(t), app.allOutbox(t)
	app.scan(t, path, http.StatusOK)
	if after := app.allEvents(t); len(after) != len(before) {
		t.Fatalf("after GET/HEAD the ledger has %d events, want %d: %+v", len(after), len(before), after)
	}
	if after := app.allOutbox(t); !slices.EqualFunc(after, outboxBefore, sameStatus) {
		t.Fatalf("after GET/HEAD the outbox is %+v, want %+v", after, outboxBefore)
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StatePending {
		t.Fatalf("state after GET/HEAD = %s, want %s", got, models.StatePending)
	}

	// The button, as a browser sends it: an empty urlencoded body.
	res = app.postForm(t, path, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("POST %s: got %v, want 200", path, res)
	}
	checkNoStore(t, "POST", res)
	checkNotRedirected(t, "POST", res)
	if !strings.Contains(res.body, "You are unsubscribed") || !strings.Contains(res.body, "a***@example.com") {
		t.Errorf("POST answer does not say a***@example.com is unsubscribed:\n%s", res.body)
	}
	if strings.Contains(res.body, "<form") {
		t.Errorf("POST answer still offers a form:\n%s", res.body)
	}
	evs := app.ledger(t, "ann@example.com")
	if got, want := actions(evs), []string{models.ActionGiven, models.ActionWithdrawn}; !slices.Equal(got, want) {
		t.Fatalf("ledger = %q, want %q", got, want)
	}
	w := evs[1]
	if w.Method != models.MethodOptOutPage || w.Purpose != models.PurposeMarketingEmail ||
		w.IP != "127.0.0.1" || w.UserAgent != testUserAgent || w.LeadID == nil || *w.LeadID != lead.ID ||
		w.ConsentTextID != nil || w.At.IsZero() {
		t.Errorf("withdrawn event = %+v, want method %s, purpose %s, IP 127.0.0.1, UA %q, lead %d, no consent text",
			w, models.MethodOptOutPage, models.PurposeMarketingEmail, testUserAgent, lead.ID)
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StateWithdrawn {
		t.Errorf("state after POST = %s, want %s", got, models.StateWithdrawn)
	}

	// Idempotent: a second click is answered the same way and adds nothing.
	res = app.postForm(t, path, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("second POST %s: got %v, want 200", path, res)
	}
	checkNoStore(t, "second POST", res)
	if !strings.Contains(res.body, "already unsubscribed") {
		t.Errorf("second POST answer does not say already unsubscribed:\n%s", res.body)
	}
	if got := len(app.ledger(t, "ann@example.com")); got != 2 {
		t.Errorf("after a second POST the ledger has %d events, want 2", got)
	}

	res = app.get(t, path)
	if res.status != http.StatusOK {
		t.Fatalf("GET %s after opting out: got %v, want 200", path, res)
	}
	checkNoStore(t, "GET after opting out", res)
	if !strings.Contains(res.body, "You are already unsubscribed") || !strings.Contains(res.body, "a***@example.com") {
		t.Errorf("GET after opting out does not say already unsubscribed:\n%s", res.body)
	}
	if strings.Contains(res.body, "<form") {
		t.Errorf("GET after opting out still offers a form:\n%s", res.body)
	}
	app.scan(t, path, http.StatusOK)
	if got := len(app.ledger(t, "ann@example.com")); got != 2 {
		t.Errorf("after GET/HEAD of an opted-out link the ledger has %d events, want 2", got)
	}
}

func sameStatus(a, b models.OutboxMessage) bool {
	return a.ID == b.ID && a.Status == b.Status && a.Attempts == b.Attempts
}

// TestOptOutOneClick is RFC 8058: the mail provider POSTs
// List-Unsubscribe=One-Click with no cookies and no Origin, in either form
// encoding, and must get a 200 without redirect.
func TestOptOutOneClick(t *testing.T) {
	t.Parallel()
	multipartBody := func(t *testing.T) (string, []byte) {
		t.Helper()
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if err := w.WriteField("List-Unsubscribe", "One-Click"); err != nil {
			t.Fatalf("multipart: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("multipart: %v", err)
		}
		return w.FormDataContentType(), buf.Bytes()
	}
	tests := []struct {
		name string
		body func(t *testing.T) (contentType string, body []byte)
	}{
		{"urlencoded", func(*testing.T) (string, []byte) {
			return "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click")
		}},
		{"multipart", multipartBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestServer(t)
			lead := app.submitLead(t, "ann@example.com", true)
			path := "/optout/" + lead.OptOutToken
			// What Gmail sends: no cookies, no Origin, no Referer.
			h := http.Header{"User-Agent": {"Mozilla/5.0 (compatible; Google-One-Click-Unsubscribe)"}}
			for i, wantEvents := range []int{2, 2} {
				ct, body := tt.body(t)
				res := app.do(t, http.MethodPost, path, ct, body, h)
				what := fmt.Sprintf("one-click POST #%d", i+1)
				if res.status != http.StatusOK {
					t.Fatalf("%s: got %v, want 200", what, res)
				}
				checkNotRedirected(t, what, res)
				checkNoStore(t, what, res)
				evs := app.ledger(t, "ann@example.com")
				if got := len(evs); got != wantEvents {
					t.Fatalf("%s: ledger has %d events (%q), want %d", what, got, actions(evs), wantEvents)
				}
				w := evs[1]
				if w.Action != models.ActionWithdrawn || w.Method != models.MethodOneClick ||
					w.LeadID == nil || *w.LeadID != lead.ID || w.UserAgent != h.Get("User-Agent") {
					t.Errorf("%s: event = %+v, want withdrawn by %s for lead %d", what, w, models.MethodOneClick, lead.ID)
				}
			}
			if got := app.marketingState(t, "ann@example.com"); got != models.StateWithdrawn {
				t.Errorf("state = %s, want %s", got, models.StateWithdrawn)
			}
		})
	}
}

// TestOptOutCancelsMarketingMail: the confirmation emails still waiting for
// the person, from any of their submissions whatever the case of the
// address, are cancelled with the opt-out; the sales notifications and
// other people's mail are not.
func TestOptOutCancelsMarketingMail(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withDuplicateWindow(0)) // the same enquiry twice, two leads
	ann := app.submitLead(t, "ann@example.com", true)
	annAgain := app.submitLead(t, "Ann@Example.COM", true)
	bob := app.submitLead(t, "bob@example.com", true)

	res := app.postForm(t, "/optout/"+ann.OptOutToken, "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("POST opt-out: got %v, want 200", res)
	}
	type row struct {
		lead         int64
		kind, status string
	}
	var got []row
	for _, m := range app.allOutbox(t) {
		got = append(got, row{m.LeadID, m.Kind, m.Status})
		if m.Status == models.StatusCancelled && m.LastError == "" {
			t.Errorf("cancelled outbox row %d has no reason", m.ID)
		}
	}
	want := []row{
		{ann.ID, models.KindSalesNotification, models.StatusPending},
		{ann.ID, models.KindConsentConfirmation, models.StatusCancelled},
		{annAgain.ID, models.KindSalesNotification, models.StatusPending},
		{annAgain.ID, models.KindConsentConfirmation, models.StatusCancelled},
		{bob.ID, models.KindSalesNotification, models.StatusPending},
		{bob.ID, models.KindConsentConfirmation, models.StatusPending},
	}
	if !slices.Equal(got, want) {
		t.Errorf("outbox = %+v, want %+v", got, want)
	}
	if got := actions(app.ledger(t, "bob@example.com")); !slices.Equal(got, []string{models.ActionGiven}) {
		t.Errorf("Bob's ledger = %q, want only given", got)
	}
}

// TestOptOutOnlyItsOwner: an opt-out link withdraws its own person and
// nobody else.
func TestOptOutOnlyItsOwner(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	ann := app.submitLead(t, "ann@example.com", true)
	bob := app.submitLead(t, "bob@example.com", true)

	if res := app.postForm(t, "/optout/"+bob.OptOutToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("POST Bob's opt-out: got %v, want 200", res)
	}
	if got, want := actions(app.ledger(t, "bob@example.com")), []string{models.ActionGiven, models.ActionWithdrawn}; !slices.Equal(got, want) {
		t.Errorf("Bob's ledger = %q, want %q", got, want)
	}
	annEvents := app.ledger(t, "ann@example.com")
	if got, want := actions(annEvents), []string{models.ActionGiven}; !slices.Equal(got, want) {
		t.Errorf("Ann's ledger = %q, want %q", got, want)
	}
	for _, e := range app.allEvents(t) {
		if e.LeadID != nil && *e.LeadID == ann.ID && e.Subject != "ann@example.com" {
			t.Errorf("event %+v is linked to Ann's lead but about %s", e, e.Subject)
		}
	}
	res := app.get(t, "/optout/"+ann.OptOutToken)
	if res.status != http.StatusOK || !strings.Contains(res.body, "Stop marketing emails?") {
		t.Errorf("Ann's opt-out page after Bob left: got %v, want the question", res)
	}
	if got := app.marketingState(t, "ann@example.com"); got != models.StatePending {
		t.Errorf("Ann's state = %s, want %s", got, models.StatePending)
	}
}

// TestBadTokens: every kind of token that is not one of ours, on either
// route and with any method, gets the same page and changes nothing.
func TestBadTokens(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	ann := app.submitLead(t, "ann@example.com", true)
	bob := app.submitLead(t, "bob@example.com", true)
	optOut, confirm := ann.OptOutToken, *ann.ConfirmToken

	// changeOne changes one character into another valid one.
	changeOne := func(tok string) string {
		c := byte('a')
		if tok[0] == 'a' {
			c = 'b'
		}
		return string(c) + tok[1:]
	}
	unknown := models.NewToken(20)
	tokens := map[string]struct{ optOut, confirm string }{
		"unknown":            {unknown, unknown},
		"one changed":        {changeOne(optOut), changeOne(confirm)},
		"too short":          {optOut[:len(optOut)-1], confirm[:len(confirm)-1]},
		"too long":           {optOut + "a", confirm + "a"},
		"upper case":         {strings.ToUpper(optOut), strings.ToUpper(confirm)},
		"not base32":         {optOut[:len(optOut)-1] + "1", confirm[:len(confirm)-1] + "8"},
		"punctuation":        {optOut[:len(optOut)-1] + "-", confirm[:len(confirm)-1] + "_"},
		"url-encoded junk":   {"%00%ff%3Cscript%3Ealert(1)%3C%3Escript%3E", "%27%20OR%201%3D1--%20"},
		"sql wildcard":       {strings.Repeat("%25", 32), strings.Repeat("_", 32)},
		"own other token":    {confirm, optOut},
		"other lead's token": {*bob.ConfirmToken, bob.OptOutToken},
		"one byte of space":  {optOut + "%20", "%20" + confirm},
		"non-ascii":          {"%C3%A9" + optOut[2:], "%C3%A9" + confirm[2:]},
	}

	ref := app.get(t, "/optout/"+unknown)
	if ref.status != http.StatusNotFound {
		t.Fatalf("GET an unknown token: got %v, want 404", ref)
	}
	if !strings.Contains(ref.body, "Link not recognised") {
		t.Fatalf("the 404 page does not say the link is not recognised:\n%s", ref.body)
	}
	refPage := withoutRequestID(t, ref)
	eventsBefore, outboxBefore := app.allEvents(t), app.allOutbox(t)

	for _, name := range sortedKeys(tokens) {
		tok := tokens[name]
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/optout/" + tok.optOut, "/confirm/" + tok.confirm} {
				for _, req := range []struct {
					method, ct, body string
				}{
					{http.MethodGet, "", ""},
					{http.MethodHead, "", ""},
					{http.MethodPost, "application/x-www-form-urlencoded", ""},
					{http.MethodPost, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"},
				} {
					what := req.method + " " + path + " " + req.body
					res := app.do(t, req.method, path, req.ct, []byte(req.body), nil)
					if res.status != http.StatusNotFound {
						t.Errorf("%s: got %v, want 404", what, res)
						continue
					}
					checkNoStore(t, what, res)
					checkNotRedirected(t, what, res)
					if req.method == http.MethodHead {
						continue
					}
					if got := withoutRequestID(t, res); got != refPage {
						t.Errorf("%s: page differs from the unknown-token page:\n%s\nwant:\n%s", what, got, refPage)
					}
				}
			}
		})
	}
	if got := app.allEvents(t); len(got) != len(eventsBefore) {
		t.Errorf("after bad tokens the ledger has %d events, want %d: %q", len(got), len(eventsBefore), actions(got))
	}
	if got := app.allOutbox(t); !slices.EqualFunc(got, outboxBefore, sameStatus) {
		t.Errorf("after bad tokens the outbox is %+v, want %+v", got, outboxBefore)
	}
	// A "/" in the token, even encoded, makes it another path, which gets
	// the router's own 404: also nothing found and nothing changed.
	for _, path := range []string{"/optout/" + optOut + "%2Fx", "/optout/..%2F" + optOut, "/confirm/%2F" + confirm} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			res := app.do(t, method, path, "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"), nil)
			if res.status != http.StatusNotFound {
				t.Errorf("%s %s: got %v, want 404", method, path, res)
			}
			checkNotRedirected(t, method+" "+path, res)
		}
	}
	if got := app.allEvents(t); len(got) != len(eventsBefore) {
		t.Errorf("after bad tokens the ledger has %d events, want %d: %q", len(got), len(eventsBefore), actions(got))
	}
	// The real links still work.
	if res := app.get(t, "/optout/"+optOut); res.status != http.StatusOK {
		t.Errorf("GET the real opt-out link: got %v, want 200", res)
	}
	if res := app.get(t, "/confirm/"+confirm); res.status != http.StatusOK {
		t.Errorf("GET the real confirm link: got %v, want 200", res)
	}
}

// TestOptOutCancelsMarketingMailUnicodeDomain: addresses are the same
// person whatever the case, also in an internationalised domain, which
// SQLite's lower() leaves alone.
func TestOptOutCancelsMarketingMailUnicodeDomain(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withDuplicateWindow(0)) // the same enquiry twice, two leads
	upper := app.submitLead(t, "ann@BÜCHER.de", true)
	lower := app.submitLead(t, "ann@bücher.de", true)

	if res := app.postForm(t, "/optout/"+lower.OptOutToken, "", nil); res.status != http.StatusOK {
		t.Fatalf("POST opt-out: got %v, want 200", res)
	}
	if got, want := actions(app.ledger(t, "ann@bücher.de")), []string{models.ActionGiven, models.ActionGiven, models.ActionWithdrawn}; !slices.Equal(got, want) {
		t.Fatalf("ledger = %q, want %q", got, want)
	}
	for _, m := range app.allOutbox(t) {
		want := models.StatusPending
		if m.Kind == models.KindConsentConfirmation {
			want = models.StatusCancelled
		}
		if m.Status != want {
			t.Errorf("outbox row %d (%s of lead %d; lead %d is %s) is %s, want %s",
				m.ID, m.Kind, m.LeadID, upper.ID, upper.Email, m.Status, want)
		}
	}
}
