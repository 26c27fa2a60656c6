package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// inboxLeads commits n leads of n people (lead0@example.com ...), oldest
// first, a second apart, the box ticked on the even ones, and returns
// them.
func inboxLeads(t *testing.T, s models.Store, n int) []Submission {
	t.Helper()
	t0 := time.Now().UTC().Add(-time.Hour)
	subs := make([]Submission, n)
	for i := range subs {
		sub := NewSubmission(t, s, fmt.Sprintf("lead%d@example.com", i)).at(t0.Add(time.Duration(i) * time.Second))
		sub.Lead.Name = fmt.Sprintf("Person %d", i)
		sub.Lead.Message = fmt.Sprintf("Message number %d", i)
		if i%2 == 1 {
			sub.Consent.Action = models.ActionNotGiven
			sub.Lead.ConfirmToken, sub.Lead.ConfirmExpiresAt = nil, nil
			sub.Outbox = sub.Outbox[:1]
		}
		create(t, s, sub, models.Guards{})
		subs[i] = sub
	}
	return subs
}

func publicIDs(items []models.LeadItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.PublicID
	}
	return out
}

// testInboxList: newest first, keyset pages that neither repeat nor skip
// while leads arrive, and every filter.
func testInboxList(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	subs := inboxLeads(t, s, 7)
	want := make([]string, 0, len(subs))
	for i := len(subs) - 1; i >= 0; i-- {
		want = append(want, subs[i].Lead.PublicID)
	}

	page1, err := s.Leads(ctx, models.LeadFilter{}, 0, 3, true)
	if err != nil || !slices.Equal(publicIDs(page1), want[:3]) {
		t.Fatalf("first page %v, %v; want the 3 newest %v", publicIDs(page1), err, want[:3])
	}
	create(t, s, NewSubmission(t, s, "late@example.com"), models.Guards{}) // arrives between pages
	var rest []string
	before := page1[len(page1)-1].ID
	for {
		page, err := s.Leads(ctx, models.LeadFilter{}, before, 3, true)
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, publicIDs(page)...)
		if len(page) < 3 {
			break
		}
		before = page[len(page)-1].ID
	}
	if !slices.Equal(rest, want[3:]) {
		t.Errorf("later pages %v, want %v: no repeat, no skip, the newcomer only on a first page", rest, want[3:])
	}
	if it := page1[0]; it.Status != models.LeadNew || it.Marketing.State != models.MarketingPending || it.Name != "Person 6" {
		t.Errorf("newest lead listed as %q, status %q, marketing %+v; want Person 6, new, pending", it.Name, it.Status, it.Marketing)
	}

	count := func(f models.LeadFilter, doi bool) int {
		t.Helper()
		n := 0
		if err := s.EachLead(ctx, f, doi, func(models.LeadItem) error { n++; return nil }); err != nil {
			t.Fatalf("EachLead(%+v): %v", f, err)
		}
		return n
	}
	t0 := subs[0].Lead.CreatedAt
	for _, tt := range []struct {
		name string
		f    models.LeadFilter
		doi  bool
		want int
	}{
		{"everything", models.LeadFilter{}, true, 8},
		{"a name, any case", models.LeadFilter{Query: "person 3"}, true, 1},
		{"part of an address", models.LeadFilter{Query: "LEAD1@"}, true, 1},
		{"a message", models.LeadFilter{Query: "number"}, true, 7},
		{"LIKE's wildcards are literal", models.LeadFilter{Query: "%"}, true, 0},
		{"status new", models.LeadFilter{Status: models.LeadNew}, true, 8},
		{"status won", models.LeadFilter{Status: models.LeadWon}, true, 0},
		{"since", models.LeadFilter{Since: t0.Add(5 * time.Second)}, true, 3},
		{"until", models.LeadFilter{Until: t0.Add(2 * time.Second)}, true, 2},
		{"pending with double opt-in", models.LeadFilter{Marketing: models.MarketingPending}, true, 5},
		{"given with double opt-in", models.LeadFilter{Marketing: models.MarketingGiven}, true, 0},
		{"given without double opt-in", models.LeadFilter{Marketing: models.MarketingGiven}, false, 5},
		{"not given", models.LeadFilter{Marketing: models.MarketingNotGiven}, true, 3},
		{"another form", models.LeadFilter{Form: "careers"}, true, 0},
		{"the contact form", models.LeadFilter{Form: "contact"}, true, 8},
		{"spam only", models.LeadFilter{Spam: true}, true, 0},
	} {
		if got := count(tt.f, tt.doi); got != tt.want {
			t.Errorf("%s: %d leads, want %d", tt.name, got, tt.want)
		}
	}
	if _, err := s.Leads(ctx, models.LeadFilter{Marketing: "maybe"}, 0, 10, true); err == nil {
		t.Error("an unknown marketing state was accepted")
	}
}

// testInboxMarketingAgrees: the database's marketing filter and
// models.MarketingOf say the same of every person, whatever their history.
func testInboxMarketingAgrees(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	histories := map[string]func(email string){
		"unticked": func(email string) {
			sub := NewSubmission(t, s, email)
			sub.Consent.Action = models.ActionNotGiven
			create(t, s, sub, models.Guards{})
		},
		"ticked": func(email string) { create(t, s, NewSubmission(t, s, email), models.Guards{}) },
		"confirmed": func(email string) {
			sub := NewSubmission(t, s, email)
			create(t, s, sub, models.Guards{})
			if _, err := s.Confirm(ctx, *sub.Lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
				t.Fatal(err)
			}
		},
		"withdrawn": func(email string) {
			create(t, s, NewSubmission(t, s, email), models.Guards{})
			if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: email, At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
				t.Fatal(err)
			}
		},
		"withdrawn, then ticked again": func(email string) {
			create(t, s, NewSubmission(t, s, email), models.Guards{})
			if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: email, At: time.Now().UTC(), Method: models.MethodOptOutPage}); err != nil {
				t.Fatal(err)
			}
			sub := NewSubmission(t, s, email)
			sub.Lead.Message = "Again."
			create(t, s, sub, models.Guards{})
		},
		"confirmed, then unticked": func(email string) {
			sub := NewSubmission(t, s, email)
			create(t, s, sub, models.Guards{})
			if _, err := s.Confirm(ctx, *sub.Lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
				t.Fatal(err)
			}
			later := NewSubmission(t, s, email)
			later.Consent.Action, later.Lead.Message = models.ActionNotGiven, "Unticked."
			create(t, s, later, models.Guards{})
		},
	}
	i := 0
	for _, make := range histories {
		make(fmt.Sprintf("p%d@example.com", i))
		i++
	}
	for _, doi := range []bool{true, false} {
		all, err := s.Leads(ctx, models.LeadFilter{}, 0, 100, doi)
		if err != nil {
			t.Fatal(err)
		}
		for _, state := range models.MarketingStates() {
			got, err := s.Leads(ctx, models.LeadFilter{Marketing: state}, 0, 100, doi)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, it := range all {
				if it.Marketing.State == state {
					want = append(want, it.PublicID)
				}
			}
			if !slices.Equal(publicIDs(got), want) {
				t.Errorf("double opt-in %v, filter %s: %v; MarketingOf says %v", doi, state, publicIDs(got), want)
			}
		}
	}
}

func testInboxDetailAndUpdate(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := inboxLeads(t, s, 1)[0]
	id := sub.Lead.PublicID
	d, err := s.LeadDetail(ctx, id, true)
	if err != nil {
		t.Fatalf("LeadDetail: %v", err)
	}
	if d.PublicID != id || len(d.Consent) != 1 || len(d.Emails) != 2 || len(d.History) != 0 || d.Marketing.State != models.MarketingPending {
		t.Errorf("detail: lead %q, %d consent events, %d emails, %d history entries, marketing %+v; want 1, 2, 0, pending",
			d.PublicID, len(d.Consent), len(d.Emails), len(d.History), d.Marketing)
	}
	if d.Consent[0].ConsentText == nil || d.Consent[0].ConsentText.Text != wording {
		t.Errorf("consent event without its wording: %+v", d.Consent[0])
	}
	if _, err := s.LeadDetail(ctx, "nope", true); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("LeadDetail(unknown): %v, want ErrNotFound", err)
	}

	at := time.Now().UTC().Truncate(time.Second)
	o := models.Origin{Actor: "sales@example.com", IP: "192.0.2.4", At: at}
	audits := rows(t, e, s, "audit_log")
	item, err := s.UpdateLead(ctx, id, models.LeadChange{Status: models.LeadContacted, Note: "Called, call back Monday."}, o, true)
	if err != nil || item.Status != models.LeadContacted {
		t.Fatalf("UpdateLead = status %q, %v; want contacted", item.Status, err)
	}
	if _, err := s.UpdateLead(ctx, id, models.LeadChange{Note: "Sent the quote."}, o, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateLead(ctx, id, models.LeadChange{Status: models.LeadContacted}, o, true); err != nil {
		t.Fatal(err)
	}
	d, _ = s.LeadDetail(ctx, id, true)
	want := []models.HistoryEntry{
		{Actor: o.Actor, Status: models.LeadContacted, Note: "Called, call back Monday."},
		{Actor: o.Actor, Note: "Sent the quote."},
	}
	if len(d.History) != len(want) {
		t.Fatalf("history %+v, want %d entries (an unchanged status records nothing)", d.History, len(want))
	}
	for i, h := range d.History {
		if h.Actor != want[i].Actor || h.Status != want[i].Status || h.Note != want[i].Note || !h.At.Equal(at) {
			t.Errorf("history %d = %+v, want %+v at %v", i, h, want[i], at)
		}
	}
	if got := rows(t, e, s, "audit_log") - audits; got != 2 {
		t.Errorf("%d audit entries for two changes, want 2", got)
	}
	if n := rows(t, e, s, "audit_log", "target = ? AND action = ?", models.LeadTarget(id), "lead.update"); n != 2 {
		t.Errorf("%d lead.update entries targeting the lead by id, want 2", n)
	}
	for name, err := range map[string]error{
		"unknown lead":   errOf(s.UpdateLead(ctx, "nope", models.LeadChange{Status: models.LeadWon}, o, true)),
		"unknown status": errOf(s.UpdateLead(ctx, id, models.LeadChange{Status: "maybe"}, o, true)),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got := rows(t, e, s, "lead_history"); got != 2 {
		t.Errorf("%d history rows after refused changes, want 2", got)
	}
}

// testMarketingContacts: the export holds each address that may receive
// marketing now, once, with the proof, and nobody else.
func testMarketingContacts(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	now := time.Now().UTC().Truncate(time.Second)
	confirm := func(sub Submission) {
		t.Helper()
		if _, err := s.Confirm(ctx, *sub.Lead, models.ConsentEvent{At: now, Method: models.MethodConfirmLink}); err != nil {
			t.Fatal(err)
		}
	}
	ann := NewSubmission(t, s, "Ann@Example.com")
	ann.Lead.Company = "Example Ltd"
	create(t, s, ann, models.Guards{})
	confirm(ann)
	annAgain := NewSubmission(t, s, "ann@example.com") // a second lead, unticked: Ann stays subscribed
	annAgain.Consent.Action, annAgain.Lead.Message = models.ActionNotGiven, "Another question."
	create(t, s, annAgain, models.Guards{})
	bob := NewSubmission(t, s, "bob@example.com") // ticked, never confirmed
	create(t, s, bob, models.Guards{})
	cy := NewSubmission(t, s, "cy@example.com") // confirmed, then opted out
	create(t, s, cy, models.Guards{})
	confirm(cy)
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "cy@example.com", At: now, Method: models.MethodOneClick}); err != nil {
		t.Fatal(err)
	}

	list := func(doi bool) []models.MarketingContact {
		var out []models.MarketingContact
		if err := s.EachMarketingContact(ctx, doi, func(c models.MarketingContact) error { out = append(out, c); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := list(true)
	if len(got) != 1 {
		t.Fatalf("double opt-in export: %+v, want Ann only", got)
	}
	c := got[0]
	if c.Email != "Ann@Example.com" || c.Name != "Ann" || c.Company != "Example Ltd" || c.LeadPublicID != ann.Lead.PublicID ||
		c.WordingSHA256 != models.HashConsentText(wording) || !c.GivenAt.Equal(ann.Consent.At) || c.ConfirmedAt == nil || !c.ConfirmedAt.Equal(now) {
		t.Errorf("Ann's row %+v; want her first lead's name, company and id, the wording's hash, given and confirmed times", c)
	}
	var emails []string
	for _, c := range list(false) {
		emails = append(emails, c.Email)
		if c.ConfirmedAt != nil && c.Email == "bob@example.com" {
			t.Errorf("bob never confirmed, yet his row says %v", c.ConfirmedAt)
		}
	}
	slices.Sort(emails)
	if !slices.Equal(emails, []string{"Ann@Example.com", "bob@example.com"}) {
		t.Errorf("single opt-in export: %v, want Ann and Bob (Cy withdrew)", emails)
	}
}

// testInboxSearchFoldsCase: the search ignores case in every alphabet,
// and finds a lead by any of its four fields, but not across two.
func testInboxSearchFoldsCase(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "zoe@example.com")
	sub.Lead.Name, sub.Lead.Company, sub.Lead.Message = "Zoë Żółć", "Łódź Software", "Wycena aplikacji"
	create(t, s, sub, models.Guards{})
	for q, want := range map[string]int{
		"ZOË":             1,
		"żółć":            1,
		"ŁÓDŹ":            1,
		"WYCENA":          1,
		"ZOE@EXAMPLE":     1,
		"żółć\nzoe":       0, // across the name and the address
		"software wycena": 0, // across the company and the message
		"%":               0,
	} {
		got, err := s.Leads(ctx, models.LeadFilter{Query: q}, 0, 10, true)
		if err != nil || len(got) != want {
			t.Errorf("q=%q: %d leads, %v; want %d", q, len(got), err, want)
		}
	}
}

// testMarketingContactProvesTheConfirmedConsent: a person who ticked the
// box twice, under two wordings, and confirmed the first email is
// exported with the first submission's lead, wording and time: the consent
// that was confirmed, not the later one.
func testMarketingContactProvesTheConfirmedConsent(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	ctA, errA := s.ConsentTextVersion(ctx, "wording A")
	ctB, errB := s.ConsentTextVersion(ctx, "wording B")
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	first := NewSubmission(t, s, "ann@example.com").at(t0)
	first.Consent.ConsentTextID = &ctA.ID
	second := NewSubmission(t, s, "ann@example.com").at(t0.Add(time.Hour))
	second.Consent.ConsentTextID, second.Lead.Message = &ctB.ID, "Again."
	create(t, s, first, models.Guards{})
	create(t, s, second, models.Guards{})
	if done, err := s.Confirm(ctx, *first.Lead, models.ConsentEvent{At: t0.Add(2 * time.Hour), Method: models.MethodConfirmLink}); !done || err != nil {
		t.Fatalf("confirm the first email: %v, %v", done, err)
	}
	var rows []models.MarketingContact
	if err := s.EachMarketingContact(ctx, true, func(c models.MarketingContact) error { rows = append(rows, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("export %+v, want Ann once", rows)
	}
	if c := rows[0]; c.LeadPublicID != first.Lead.PublicID || c.WordingSHA256 != ctA.Hash || !c.GivenAt.Equal(t0) {
		t.Errorf("Ann's row proves lead %s, wording %.12s, given %v; want the confirmed consent: lead %s, wording A, given %v",
			c.LeadPublicID, c.WordingSHA256, c.GivenAt, first.Lead.PublicID, t0)
	}
}
