package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// admin is the origin of the suite's data-subject requests.
func admin(at time.Time) models.Origin {
	return models.Origin{Actor: "dpo@example.com", IP: "192.0.2.50", At: at}
}

// unticked turns sub into a submission with the box left unticked.
func unticked(sub Submission) Submission {
	sub.Consent.Action = models.ActionNotGiven
	sub.Lead.ConfirmToken, sub.Lead.ConfirmExpiresAt = nil, nil
	sub.Outbox = sub.Outbox[:1]
	return sub
}

// marketingOf is the state the inbox shows for a lead.
func marketingOf(t *testing.T, s models.Store, publicID string) string {
	t.Helper()
	d, err := s.LeadDetail(context.Background(), publicID, true)
	if err != nil {
		t.Fatalf("LeadDetail: %v", err)
	}
	return d.Marketing.State
}

// testSubjectAccess: everything held about an address, whichever way it
// was spelled, and nothing of anybody else's.
func testSubjectAccess(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	a1 := NewSubmission(t, s, "Ann@Example.com")
	create(t, s, a1, models.Guards{})
	a2 := unticked(NewSubmission(t, s, "ann@EXAMPLE.com"))
	a2.Lead.Message = "Second question"
	create(t, s, a2, models.Guards{})
	create(t, s, NewSubmission(t, s, "bob@example.com"), models.Guards{})
	if _, err := s.UpdateLead(ctx, a1.Lead.PublicID, models.LeadChange{Note: "Called her."}, admin(time.Now().UTC()), true); err != nil {
		t.Fatal(err)
	}

	d, err := s.SubjectAccess(ctx, "ann@example.com", true)
	if err != nil {
		t.Fatalf("SubjectAccess: %v", err)
	}
	if len(d.Leads) != 2 || d.Leads[0].PublicID != a1.Lead.PublicID || d.Leads[1].PublicID != a2.Lead.PublicID {
		t.Fatalf("access: %d leads, want ann's two, oldest first", len(d.Leads))
	}
	first := d.Leads[0]
	if len(first.Consent) != 2 || len(first.Emails) != 2 || len(first.History) != 1 || first.History[0].Note != "Called her." {
		t.Errorf("first lead: %d consent events, %d emails, history %+v; want 2, 2 and the note", len(first.Consent), len(first.Emails), first.History)
	}
	if d.Leads[1].Message != "Second question" || d.Suppressed {
		t.Errorf("second lead %q, suppressed %v", d.Leads[1].Message, d.Suppressed)
	}
	d, err = s.SubjectAccess(ctx, "nobody@example.com", true)
	if err != nil || len(d.Leads) != 0 || d.Suppressed {
		t.Errorf("access for an unknown address: %+v, %v; want nothing, and no error", d, err)
	}
}

// testErasure: every piece of an address's personal data goes, in one
// request; what stays identifies nobody; other people are untouched;
// erasing again, or erasing an unknown address, changes nothing.
func testErasure(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	a1 := NewSubmission(t, s, "ann@example.com")
	a1.Lead.Phone, a1.Lead.Company, a1.Lead.PageURL, a1.Lead.UTMSource = "+48 600 100 200", "Ann's Bakery", "https://example.com/contact", "newsletter"
	a1.Consent.UserAgent, a1.Consent.PageURL = "Firefox", "https://example.com/contact"
	create(t, s, a1, models.Guards{})
	a2 := unticked(NewSubmission(t, s, "Ann@example.com"))
	create(t, s, a2, models.Guards{})
	bob := NewSubmission(t, s, "bob@example.com")
	create(t, s, bob, models.Guards{})
	if _, err := s.UpdateLead(ctx, a1.Lead.PublicID, models.LeadChange{Status: models.LeadContacted, Note: "Ann wants a quote."}, admin(time.Now().UTC()), true); err != nil {
		t.Fatal(err)
	}
	before := counts(t, e, s)

	res, err := s.EraseSubject(ctx, "ann@example.com", admin(time.Now().UTC()))
	if err != nil {
		t.Fatalf("EraseSubject: %v", err)
	}
	// a1's confirmation and both sales notifications were waiting.
	if res != (models.Erasure{Leads: 2, CancelledEmails: 3}) {
		t.Errorf("erasure = %+v, want 2 leads and 3 cancelled emails", res)
	}
	if after := counts(t, e, s); after != before {
		t.Errorf("rows %v after the erasure, %v before: anonymous rows stay for counts", after, before)
	}
	for _, sub := range []Submission{a1, a2} {
		l, err := s.LeadByPublicID(ctx, sub.Lead.PublicID)
		if err != nil {
			t.Fatalf("the erased lead's anonymous row: %v", err)
		}
		if l.ErasedAt == nil || l.Name+l.Email+l.EmailKey+l.Phone+l.Company+l.Message+l.PageURL+l.UTMSource != "" || l.ConfirmToken != nil {
			t.Errorf("erased lead still holds %+v", l)
		}
		if l.Status != sub.Lead.Status && l.Status != models.LeadContacted {
			t.Errorf("erased lead lost its status: %q", l.Status)
		}
		if _, err := s.LeadByOptOutToken(ctx, sub.Lead.OptOutToken); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the erased lead's opt-out link still finds it: %v", err)
		}
	}
	if _, err := s.LeadByConfirmToken(ctx, *a1.Lead.ConfirmToken); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("the erased lead's confirm link still finds it: %v", err)
	}
	for _, left := range []struct{ table, where string }{
		{"consent_events", "subject = 'ann@example.com' OR user_agent != '' OR page_url != '' OR (ip != '' AND lead_id != ?)"},
		{"lead_history", "note != '' AND lead_id != ?"},
		{"lead_search", "lead_id != ?"},
		{"outbox", "last_error NOT IN ('', 'erased') AND lead_id != ?"},
		{"audit_log", "(target LIKE '%ann%' OR target LIKE '%example%') AND 0 != ?"},
	} {
		if n := rows(t, e, s, left.table, left.where, bob.Lead.ID); n != 0 {
			t.Errorf("%d rows of %s still hold ann's data", n, left.table)
		}
	}
	if n := rows(t, e, s, "consent_events", "lead_id = ? AND subject = 'bob@example.com' AND ip = '192.0.2.1'", bob.Lead.ID); n != 1 {
		t.Errorf("bob's consent event changed by ann's erasure")
	}
	if n := rows(t, e, s, "outbox", "lead_id = ? AND status = ?", bob.Lead.ID, models.StatusPending); n != 2 {
		t.Errorf("bob's emails: %d pending, want 2", n)
	}
	if n := rows(t, e, s, "audit_log", "action = ? AND target LIKE 'subject:%' AND actor = ?", models.AuditSubjectErase, "dpo@example.com"); n != 1 {
		t.Errorf("%d audit entries of the erasure naming the actor and a keyed hash, want 1", n)
	}
	if chk, err := s.VerifyAudit(ctx); err != nil || !chk.Intact() {
		t.Errorf("audit log after an erasure: %+v, %v", chk, err)
	}
	items, err := s.Leads(ctx, models.LeadFilter{}, 0, 10, true)
	if err != nil || len(items) != 1 || items[0].PublicID != bob.Lead.PublicID {
		t.Errorf("lead list after the erasure: %v, %v; want bob's lead only", publicIDs(items), err)
	}
	d, err := s.LeadDetail(ctx, a1.Lead.PublicID, true)
	if err != nil || len(d.Consent) != 0 || d.Marketing.State != models.MarketingNotGiven || len(d.History) != 1 || d.History[0].Note != "" {
		t.Errorf("erased lead's detail: %d consent events, %+v, history %+v, %v; want nothing of ann's", len(d.Consent), d.Marketing, d.History, err)
	}
	if acc, err := s.SubjectAccess(ctx, "ann@example.com", true); err != nil || len(acc.Leads) != 0 {
		t.Errorf("access after the erasure: %d leads, %v; want none", len(acc.Leads), err)
	}
	if erased, err := s.ErasedSince(ctx, "ann@example.com", time.Now().UTC().Add(-time.Hour)); err != nil || !erased {
		t.Errorf("ErasedSince(an hour ago) = %v, %v; want true", erased, err)
	}
	// What is kept of the address: its keyed hash with its latest
	// decision (a2 left the box unticked, which decides nothing: a1's
	// given consent was the latest decision).
	if n := rows(t, e, s, "suppressions", "decision = ? AND decided_at IS NOT NULL AND erased_at IS NOT NULL AND length(address_hash) = 64", models.ActionGiven); n != 1 {
		t.Errorf("%d rows keep the erased address's hash with its latest decision, want 1", n)
	}
	for _, addr := range []string{"ann@example.com", "nobody@example.com"} {
		res, err := s.EraseSubject(ctx, addr, admin(time.Now().UTC()))
		if err != nil || res != (models.Erasure{}) {
			t.Errorf("erasing %s (nothing held): %+v, %v; want zeros", addr, res, err)
		}
	}
	// The ledger's append-only rule still holds for everything else.
	db := e.DB(s).WithContext(ctx)
	if err := db.Exec("UPDATE consent_events SET ip = '' WHERE lead_id = ?", bob.Lead.ID).Error; err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("blanking a consent event outside an erasure: %v, want the append-only refusal", err)
	}
}

// testErasureForgetsSubmissions: after an erasure the same submission is
// new, not a duplicate of the erased one, and the address's confirmation
// emails no longer count against its limit.
func testErasureForgetsSubmissions(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	create(t, s, NewSubmission(t, s, "ann@example.com"), withinMinute())
	if _, err := s.EraseSubject(ctx, "ann@example.com", admin(time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	again := NewSubmission(t, s, "ann@example.com")
	if c := create(t, s, again, withinMinute()); c.Duplicate {
		t.Fatalf("the erased submission, sent again, was taken for a duplicate of the erased lead")
	}
	if l, err := s.LeadByPublicID(ctx, again.Lead.PublicID); err != nil || l.Email != "ann@example.com" {
		t.Errorf("the new lead: %+v, %v", l, err)
	}

	// The confirmation limit forgets the address too: with one email a
	// day allowed, a second ticked submission sends none, until the
	// address is erased.
	now := time.Now().UTC()
	if dropped := submitTicked(t, s, "bob@example.com", now, limitOf(1)); dropped {
		t.Fatalf("bob's first confirmation email was dropped")
	}
	if dropped := submitTicked(t, s, "bob@example.com", now.Add(time.Second), limitOf(1)); !dropped {
		t.Fatalf("bob's second confirmation email within the day was sent: the limit does not hold")
	}
	if _, err := s.EraseSubject(ctx, "bob@example.com", admin(now)); err != nil {
		t.Fatal(err)
	}
	if dropped := submitTicked(t, s, "bob@example.com", now.Add(2*time.Second), limitOf(1)); dropped {
		t.Errorf("after bob's erasure his confirmation email was still counted against him")
	}
}

// testErasedOptOutStaysOptedOut: an address that opted out and was erased
// is opted out when it comes back, until it ticks the box again.
func testErasedOptOutStaysOptedOut(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "ann@example.com")
	create(t, s, sub, models.Guards{})
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "ann@example.com", At: time.Now().UTC(), Method: models.MethodOneClick}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseSubject(ctx, "ann@example.com", admin(time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	back := unticked(NewSubmission(t, s, "ann@example.com"))
	create(t, s, back, models.Guards{})
	if got := marketingOf(t, s, back.Lead.PublicID); got != models.MarketingWithdrawn {
		t.Errorf("erased after an opt-out, back with the box unticked: %s, want withdrawn", got)
	}
	ticked := NewSubmission(t, s, "ann@example.com")
	create(t, s, ticked, models.Guards{})
	if got := marketingOf(t, s, ticked.Lead.PublicID); got != models.MarketingPending {
		t.Errorf("then ticked: %s, want pending (new consent after the withdrawal)", got)
	}
	hist, _ := s.ConsentHistory(ctx, "ann@example.com")
	if len(hist) != 3 || hist[0].Method != models.MethodSuppressionList || hist[0].IP != "" {
		t.Errorf("ledger of the address back: %+v; want the recalled withdrawal first, then its two submissions", hist)
	}

	// Erased with a consent that stood: nothing of it comes back.
	bob := NewSubmission(t, s, "bob@example.com")
	create(t, s, bob, models.Guards{})
	if _, err := s.Confirm(ctx, *bob.Lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseSubject(ctx, "bob@example.com", admin(time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	bobBack := unticked(NewSubmission(t, s, "bob@example.com"))
	create(t, s, bobBack, models.Guards{})
	if got := marketingOf(t, s, bobBack.Lead.PublicID); got != models.MarketingNotGiven {
		t.Errorf("erased with consent, back unticked: %s, want not_given", got)
	}
}

// testSuppression: a suppression by phone or letter withdraws a known
// address's consent and keeps an unknown one opted out when it comes;
// it is stored by keyed hash only, and idempotent.
func testSuppression(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	ann := NewSubmission(t, s, "ann@example.com")
	create(t, s, ann, models.Guards{})
	for i, want := range []models.Suppression{{Listed: true, Withdrawn: true}, {}} {
		got, err := s.Suppress(ctx, "ann@example.com", models.MethodSuppression, admin(time.Now().UTC()))
		if err != nil || got != want {
			t.Errorf("Suppress #%d = %+v, %v; want %+v", i+1, got, err, want)
		}
	}
	if got := marketingOf(t, s, ann.Lead.PublicID); got != models.MarketingWithdrawn {
		t.Errorf("suppressed address: %s, want withdrawn", got)
	}
	if n := rows(t, e, s, "outbox", "lead_id = ? AND kind = ? AND status = ?", ann.Lead.ID, models.KindConsentConfirmation, models.StatusCancelled); n != 1 {
		t.Errorf("the suppressed address's confirmation email was not cancelled")
	}
	if d, _ := s.SubjectAccess(ctx, "ann@example.com", true); !d.Suppressed {
		t.Errorf("access does not say the address is suppressed")
	}

	if got, err := s.Suppress(ctx, "carol@example.com", models.MethodSuppression, admin(time.Now().UTC())); err != nil || got != (models.Suppression{Listed: true}) {
		t.Fatalf("suppress an unknown address: %+v, %v; want listed, no ledger event (there is no ledger yet)", got, err)
	}
	if n := rows(t, e, s, "suppressions", "address_hash LIKE '%carol%'"); n != 0 {
		t.Errorf("the suppression list holds the address itself")
	}
	if d, err := s.SubjectAccess(ctx, "carol@example.com", true); err != nil || !d.Suppressed || len(d.Leads) != 0 {
		t.Errorf("access for a suppressed unknown address: %+v, %v", d, err)
	}
	c1 := unticked(NewSubmission(t, s, "carol@example.com"))
	if c := create(t, s, c1, models.Guards{}); !c.RecalledWithdrawal {
		t.Errorf("the suppressed address's first submission: %+v, want RecalledWithdrawal", c)
	}
	if got := marketingOf(t, s, c1.Lead.PublicID); got != models.MarketingWithdrawn {
		t.Errorf("suppressed, then a submission unticked: %s, want withdrawn", got)
	}
	c2 := NewSubmission(t, s, "carol@example.com")
	create(t, s, c2, models.Guards{})
	if got := marketingOf(t, s, c2.Lead.PublicID); got != models.MarketingPending {
		t.Errorf("suppressed, then ticked: %s, want pending", got)
	}
	if n := rows(t, e, s, "audit_log", "action = ? AND target LIKE 'subject:%'", models.AuditSubjectSuppress); n != 2 {
		t.Errorf("%d suppression audit entries, want 2 (the repeat changes nothing)", n)
	}
}

// testPrivacyLink: a link is queued for a known address only, a few a day
// at most, and never for an erased one.
func testPrivacyLink(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	old := NewSubmission(t, s, "ann@example.com")
	create(t, s, old, models.Guards{})
	newest := unticked(NewSubmission(t, s, "Ann@example.com"))
	create(t, s, newest, models.Guards{})
	now := time.Now().UTC()
	if q, err := s.QueuePrivacyLink(ctx, "nobody@example.com", now); err != nil || q {
		t.Errorf("link for an unknown address: %v, %v; want nothing queued", q, err)
	}
	for i := range models.MaxPrivacyLinks + 1 {
		q, err := s.QueuePrivacyLink(ctx, "ann@example.com", now.Add(time.Duration(i)*time.Minute))
		if err != nil || q != (i < models.MaxPrivacyLinks) {
			t.Errorf("link %d: %v, %v; want queued only up to %d a day", i+1, q, err, models.MaxPrivacyLinks)
		}
	}
	if n := rows(t, e, s, "outbox", "kind = ? AND lead_id = ? AND status = ?", models.KindPrivacyLink, newest.Lead.ID, models.StatusPending); n != int64(models.MaxPrivacyLinks) {
		t.Errorf("%d privacy links to the newest lead, want %d", n, models.MaxPrivacyLinks)
	}
	if q, _ := s.QueuePrivacyLink(ctx, "ann@example.com", now.Add(models.PrivacyLinkTTL+time.Hour)); !q {
		t.Errorf("a day later the address gets a link again")
	}
	if _, err := s.EraseSubject(ctx, "ann@example.com", admin(now)); err != nil {
		t.Fatal(err)
	}
	if q, err := s.QueuePrivacyLink(ctx, "ann@example.com", now.Add(2*models.PrivacyLinkTTL)); err != nil || q {
		t.Errorf("link for an erased address: %v, %v", q, err)
	}
	if n := rows(t, e, s, "outbox", "kind = ? AND status = ?", models.KindPrivacyLink, models.StatusPending); n != 0 {
		t.Errorf("%d privacy links still waiting after the erasure", n)
	}
}

// testLeases: of several holders one runs a task; a lease that ran out is
// taken over.
func testLeases(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	now := time.Now().UTC()
	for _, tt := range []struct {
		holder string
		at     time.Time
		want   bool
	}{
		{"a", now, true},
		{"b", now.Add(time.Minute), false},
		{"a", now.Add(time.Minute), true}, // its own, extended
		{"b", now.Add(time.Hour + 2*time.Minute), true},
	} {
		got, err := s.TryLease(ctx, "purge", tt.holder, tt.at, tt.at.Add(time.Hour))
		if err != nil || got != tt.want {
			t.Errorf("TryLease(%s at %v) = %v, %v; want %v", tt.holder, tt.at.Sub(now), got, err, tt.want)
		}
	}
}

// testPurge: retention erases by itself what was kept long enough, and
// nothing else; a dry run counts the same and changes nothing; a second
// run finds nothing left.
func testPurge(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	now := time.Now().UTC()
	old := now.Add(-800 * 24 * time.Hour)
	mk := func(email string, at time.Time, ticked bool) Submission {
		sub := NewSubmission(t, s, email).at(at)
		if !ticked {
			sub = unticked(sub)
		}
		create(t, s, sub, models.Guards{})
		return sub
	}
	// Made in the order of their times, as the ledger's ids follow them.
	gone := mk("gone@example.com", old, false)            // no consent, old: erased whole
	subscriber := mk("sub@example.com", old, true)        // consent stands: keeps who, loses what
	called := mk("called@example.com", old, false)        // old, but sales wrote a note lately: kept
	quitter := mk("quit@example.com", old, true)          // withdrew long ago: erased whole
	recentQuit := mk("recentquit@example.com", old, true) // withdrew lately: loses its inquiry only
	if _, err := s.Confirm(ctx, *subscriber.Lead, models.ConsentEvent{At: old.Add(time.Hour), Method: models.MethodConfirmLink, IP: "198.51.100.7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "quit@example.com", At: old.Add(time.Hour), Method: models.MethodOneClick}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: "recentquit@example.com", At: now.Add(-24 * time.Hour), Method: models.MethodOneClick}); err != nil {
		t.Fatal(err)
	}
	fresh := mk("fresh@example.com", now, false) // recent: kept
	if _, err := s.UpdateLead(ctx, called.Lead.PublicID, models.LeadChange{Note: "Call again in spring."}, admin(now.Add(-time.Hour)), true); err != nil {
		t.Fatal(err)
	}
	r := models.Retention{Inquiry: 730 * 24 * time.Hour, IP: 30 * 24 * time.Hour, DoubleOptIn: true}
	before := rows(t, e, s, "leads", "erased_at IS NULL AND message != ''")

	dry, err := s.Purge(ctx, now, r, true)
	if err != nil {
		t.Fatalf("dry purge: %v", err)
	}
	if after := rows(t, e, s, "leads", "erased_at IS NULL AND message != ''"); after != before {
		t.Errorf("a dry run changed leads: %d untouched before, %d after", before, after)
	}
	rep, err := s.Purge(ctx, now, r, false)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if rep.Leads != 2 || rep.People != 2 || rep.Inquiries != 2 {
		t.Errorf("purge erased %d leads of %d people and %d inquiries, want 2, 2, 2 (%+v)", rep.Leads, rep.People, rep.Inquiries, rep)
	}
	if dry.Leads != rep.Leads || dry.People != rep.People || dry.Inquiries != rep.Inquiries || dry.IPs != rep.IPs {
		t.Errorf("dry run counted %+v, the purge did %+v", dry, rep)
	}
	lead := func(sub Submission) models.Lead {
		l, err := s.LeadByPublicID(ctx, sub.Lead.PublicID)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, sub := range []Submission{gone, quitter} {
		if l := lead(sub); l.ErasedAt == nil || l.Email != "" {
			t.Errorf("%s: not erased", sub.Lead.Email)
		}
	}
	for _, sub := range []Submission{subscriber, recentQuit} {
		if l := lead(sub); l.ErasedAt != nil || l.Email != sub.Lead.Email || l.Message != "" {
			t.Errorf("%s: erased %v, message %q; want the address kept and the inquiry gone", sub.Lead.Email, l.ErasedAt, l.Message)
		}
	}
	for _, sub := range []Submission{called, fresh} {
		if l := lead(sub); l.ErasedAt != nil || l.Message != sub.Lead.Message {
			t.Errorf("%s: touched by the purge", sub.Lead.Email)
		}
	}
	// IPs: the standing consent's records keep theirs; the others lose
	// theirs once older than the IP retention.
	if n := rows(t, e, s, "consent_events", "subject = 'sub@example.com' AND ip != ''"); n != 2 {
		t.Errorf("the standing consent's records: %d with their IP, want 2", n)
	}
	for _, who := range []string{"called@example.com", "recentquit@example.com"} {
		if n := rows(t, e, s, "consent_events", "subject = ? AND ip != '' AND at < ?", who, now.Add(-r.IP)); n != 0 {
			t.Errorf("%s: %d old records still with an IP", who, n)
		}
	}
	if n := rows(t, e, s, "consent_events", "subject = 'fresh@example.com' AND ip != ''"); n != 1 {
		t.Errorf("a recent record lost its IP")
	}
	again, err := s.Purge(ctx, now, r, false)
	if err != nil || again.Leads+again.Inquiries+again.IPs != 0 {
		t.Errorf("second purge: %+v, %v; want nothing left to do", again, err)
	}
	if n := rows(t, e, s, "audit_log", "actor = 'retention' AND action = ?", models.AuditRetentionPurge); n != 1 {
		t.Errorf("%d retention audit entries, want 1 (the run that erased something)", n)
	}

	// The lead kept for its recent note goes once the note is old too.
	later, err := s.Purge(ctx, now.Add(r.Inquiry), r, false)
	if err != nil || later.People < 1 {
		t.Errorf("purge two years on: %+v, %v; want the noted lead erased", later, err)
	}
	if l := lead(called); l.ErasedAt == nil {
		t.Errorf("the noted lead outlived its retention")
	}
}

// testNoNoteOnAnErasedLead: sales may still move an erased lead's status
// (for counts), never write a note about the person on it.
func testNoNoteOnAnErasedLead(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	sub := NewSubmission(t, s, "ann@example.com")
	create(t, s, sub, models.Guards{})
	if _, err := s.EraseSubject(ctx, "ann@example.com", admin(time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	o := admin(time.Now().UTC())
	if _, err := s.UpdateLead(ctx, sub.Lead.PublicID, models.LeadChange{Note: "Ann called back."}, o, true); !errors.Is(err, models.ErrLeadErased) {
		t.Errorf("a note on an erased lead: %v, want ErrLeadErased", err)
	}
	if it, err := s.UpdateLead(ctx, sub.Lead.PublicID, models.LeadChange{Status: models.LeadLost}, o, true); err != nil || it.Status != models.LeadLost {
		t.Errorf("a status change on an erased lead: %q, %v", it.Status, err)
	}
	if n := rows(t, e, s, "lead_history", "note != ''"); n != 0 {
		t.Errorf("%d notes on the erased lead", n)
	}
}

// testMarketingExportLeavesOutSuppressedAndErased: marketing.csv holds an
// address whose confirmed consent stands, and not once it is suppressed or
// erased.
func testMarketingExportLeavesOutSuppressedAndErased(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	for _, addr := range []string{"ann@example.com", "bob@example.com", "cid@example.com"} {
		sub := NewSubmission(t, s, addr)
		create(t, s, sub, models.Guards{})
		if _, err := s.Confirm(ctx, *sub.Lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
			t.Fatal(err)
		}
	}
	export := func() []string {
		var got []string
		err := s.EachMarketingContact(ctx, true, func(c models.MarketingContact) error {
			got = append(got, c.Email)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := export(); len(got) != 3 {
		t.Fatalf("export before: %v, want all three", got)
	}
	if _, err := s.Suppress(ctx, "bob@example.com", models.MethodSuppression, admin(time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseSubject(ctx, "cid@example.com", admin(time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	if got := export(); len(got) != 1 || got[0] != "ann@example.com" {
		t.Errorf("export after bob's suppression and cid's erasure: %q, want ann only", got)
	}
}
