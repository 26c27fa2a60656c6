package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

// TestLeadSurvivesSMTPOutage is issue 3's "done when": a lead accepted
// while the mail server is down reaches sales once it is back, exactly
// once, ready for Reply.
func TestLeadSurvivesSMTPOutage(t *testing.T) {
	mailServer := smtptest.NewUnstartedServer(t)
	a := startApp(t, mailServer)
	id := a.submit(t, leadForm("Zoë Visitor", "zoe@example.com", false))

	waitUntil(t, "the outbox records a failed attempt", mailWait, func() bool {
		row := a.outboxStatuses(t, id)[models.KindSalesNotification]
		return row.Status == models.StatusPending && row.Attempts >= 1 && row.LastError != ""
	})
	// The row may be pending or, at this instant, being retried: either
	// way the operator sees it and why it waits.
	if out := a.cli(t, "outbox"); !strings.Contains(out, "sales_notification") || !strings.Contains(out, "connect to SMTP") {
		t.Errorf("leadbox outbox during the outage does not list the waiting notification and its reason:\n%s", out)
	}

	mailServer.Start()
	got := a.waitForEmailsTo(t, salesAddr, 1)
	waitUntil(t, "the outbox records the notification as sent", mailWait, func() bool {
		return a.outboxStatuses(t, id)[models.KindSalesNotification].Status == models.StatusSent
	})
	time.Sleep(settle) // a duplicate would need a retry, due within this time
	if all := mailServer.Messages(); len(all) != 1 {
		t.Fatalf("the SMTP server received %d messages, want the notification exactly once", len(all))
	}
	if replyTo := got[0].address(t, "Reply-To"); replyTo != "zoe@example.com" {
		t.Errorf("Reply-To = %s, want the visitor zoe@example.com", replyTo)
	}
	if out := a.cli(t, "outbox"); !strings.Contains(out, "the outbox is empty") {
		t.Errorf("leadbox outbox after delivery:\n%s\nwant an empty outbox", out)
	}
}

// scannerRequests are how link scanners and prefetchers open a link they
// find in an email (research §1.4): none of them may change anything.
var scannerRequests = []struct {
	method string
	header http.Header
}{
	{http.MethodGet, http.Header{"User-Agent": {"Mozilla/5.0 (compatible; Microsoft Office Protocol Discovery)"}}},
	{http.MethodHead, http.Header{"User-Agent": {"Mozilla/5.0 (compatible; Microsoft Office Protocol Discovery)"}}},
	{http.MethodGet, http.Header{"User-Agent": {"Proofpoint URL Defense"}}},
	{http.MethodHead, http.Header{"User-Agent": {"Proofpoint URL Defense"}}},
	{http.MethodGet, http.Header{"User-Agent": {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"}, "Sec-Purpose": {"prefetch"}}},
	{http.MethodGet, http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}, "Sec-Purpose": {"prefetch;prerender"}}},
}

// scan opens link the way scanners do and checks that each request is
// answered without a redirect.
func (a *app) scan(t *testing.T, link string) {
	t.Helper()
	for _, r := range scannerRequests {
		resp, _ := a.do(t, r.method, link, nil, r.header)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s (%s): status %d, want 200", r.method, link, r.header.Get("User-Agent"), resp.StatusCode)
		}
	}
}

// oneClick sends the RFC 8058 POST a mail provider sends for its
// "Unsubscribe" button: the one key/value pair, no cookies, no Origin.
func (a *app) oneClick(t *testing.T, link, encoding string) {
	t.Helper()
	var body bytes.Buffer
	header := http.Header{"User-Agent": {"Mail provider one-click"}}
	switch encoding {
	case "urlencoded":
		body.WriteString("List-Unsubscribe=One-Click")
		header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "multipart":
		mw := multipart.NewWriter(&body)
		if err := mw.WriteField("List-Unsubscribe", "One-Click"); err != nil {
			t.Fatal(err)
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		header.Set("Content-Type", mw.FormDataContentType())
	default:
		t.Fatalf("unknown encoding %q", encoding)
	}
	resp, page := a.do(t, http.MethodPost, link, &body, header)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("one-click POST (%s): status %d, want 200\n%s", encoding, resp.StatusCode, page)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		t.Errorf("one-click POST (%s): Location %q, want none (RFC 8058 §3.1: no redirect)", encoding, loc)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("one-click POST (%s): Set-Cookie %q, want none", encoding, c)
	}
}

// wantConsent checks `leadbox consent EMAIL` against the expected state
// and events; every event in these tests comes from 127.0.0.1.
func (a *app) wantConsent(t *testing.T, when, addr, wantState string, want ...[2]string) {
	t.Helper()
	state, events := a.consent(t, addr)
	var got [][2]string
	for _, e := range events {
		got = append(got, [2]string{e.Action, e.Method})
		if e.IP != "127.0.0.1" {
			t.Errorf("%s: event %s/%s has IP %q, want 127.0.0.1", when, e.Action, e.Method, e.IP)
		}
	}
	if state != wantState || !slices.Equal(got, want) {
		t.Fatalf("%s: leadbox consent %s = state %s, events %v; want state %s, events %v",
			when, addr, state, got, wantState, want)
	}
}

var (
	given     = [2]string{models.ActionGiven, models.MethodForm}
	notGiven  = [2]string{models.ActionNotGiven, models.MethodForm}
	confirmed = [2]string{models.ActionConfirmed, models.MethodConfirmLink}
	withdrawn = [2]string{models.ActionWithdrawn, models.MethodOneClick}
)

// TestConsentLifecycle is issue 4's "done when", driven only by what the
// lead receives: the confirmation email as the SMTP server got it, its
// confirm link, and its List-Unsubscribe header used as a mail provider's
// one-click button, in both encodings RFC 8058 allows.
func TestConsentLifecycle(t *testing.T) {
	for _, encoding := range []string{"urlencoded", "multipart"} {
		t.Run(encoding, func(t *testing.T) {
			const lead = "zoe@example.com"
			a := startApp(t, smtptest.NewServer(t))
			a.submit(t, leadForm("Zoë Visitor", lead, true))
			conf := a.waitForEmailsTo(t, lead, 1)[0]
			confirmLink, optOutLink := conf.confirmLink(t), conf.unsubscribeLink(t)
			a.wantConsent(t, "after the submission", lead, string(models.StatePending), given)

			// Scanners open both links, as often as they like: nothing changes.
			for range 2 {
				a.scan(t, confirmLink)
				a.scan(t, optOutLink)
			}
			a.wantConsent(t, "after scanners opened the links", lead, string(models.StatePending), given)

			resp, page := a.do(t, http.MethodPost, confirmLink, nil, nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, "you are subscribed") {
				t.Fatalf("POST confirm link: status %d, want 200 and a thank-you page:\n%s", resp.StatusCode, page)
			}
			a.wantConsent(t, "after confirming", lead, string(models.StateSubscribed), given, confirmed)

			a.oneClick(t, optOutLink, encoding)
			a.wantConsent(t, "after one-click", lead, string(models.StateWithdrawn), given, confirmed, withdrawn)
			a.oneClick(t, optOutLink, encoding) // idempotent: no second event
			a.wantConsent(t, "after a second one-click", lead, string(models.StateWithdrawn), given, confirmed, withdrawn)

			resp, page = a.do(t, http.MethodGet, optOutLink, nil, nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, "z***@example.com") ||
				!strings.Contains(page, "already unsubscribed") || strings.Contains(page, lead) {
				t.Errorf("GET opt-out link: status %d; want 200, opted out, the address masked as z***@example.com:\n%s", resp.StatusCode, page)
			}

			// A new enquiry without the box ticked is not a new consent. (Each
			// enquiry has its own message: the same one again within
			// LEADBOX_DUPLICATE_WINDOW is taken for a double click.)
			second := leadForm("Zoë Visitor", lead, false)
			second.Set("message", "Also, do you ship to Kraków?")
			a.submit(t, second)
			a.waitForEmailsTo(t, salesAddr, 2)
			a.wantConsent(t, "after a submission without consent", lead, string(models.StateWithdrawn),
				given, confirmed, withdrawn, notGiven)

			// Ticking it again starts over: a new event, a new email, a new token.
			third := leadForm("Zoë Visitor", lead, true)
			third.Set("message", "On second thoughts, please do send me your offers.")
			a.submit(t, third)
			confs := a.waitForEmailsTo(t, lead, 2)
			newLink := confs[1].confirmLink(t)
			if newLink == confirmLink {
				t.Errorf("re-consent sent the old confirm link %s again, want a new token", newLink)
			}
			a.wantConsent(t, "after consenting again", lead, string(models.StatePending),
				given, confirmed, withdrawn, notGiven, given)
			// The old link confirms nothing any more.
			a.do(t, http.MethodPost, confirmLink, nil, nil)
			a.wantConsent(t, "after posting the old confirm link", lead, string(models.StatePending),
				given, confirmed, withdrawn, notGiven, given)

			time.Sleep(settle)
			if n := len(emailsTo(t, a.mail.Messages(), lead)); n != 2 {
				t.Errorf("the lead received %d emails, want 2 (one confirmation per ticked box, nothing else)", n)
			}
		})
	}
}

// TestOptOutCancelsPendingConfirmation: an opt-out that arrives while the
// confirmation email still waits in the outbox stops it; the sales
// notification still goes out (research §7 item 23).
func TestOptOutCancelsPendingConfirmation(t *testing.T) {
	const lead = "zoe@example.com"
	mailServer := smtptest.NewUnstartedServer(t)
	a := startApp(t, mailServer)
	id := a.submit(t, leadForm("Zoë Visitor", lead, true))

	// The link is in the confirmation email the lead has not received;
	// the database holds the same token.
	l, err := a.db(t).LeadByPublicID(t.Context(), id)
	if err != nil {
		t.Fatalf("lead %s: %v", id, err)
	}
	a.oneClick(t, testBaseURL+"/optout/"+l.OptOutToken, "urlencoded")

	mailServer.Start()
	notif := a.waitForEmailsTo(t, salesAddr, 1)
	if replyTo := notif[0].address(t, "Reply-To"); replyTo != lead {
		t.Errorf("notification Reply-To = %s, want %s", replyTo, lead)
	}
	waitUntil(t, "both outbox messages are settled", mailWait, func() bool {
		rows := a.outboxStatuses(t, id)
		return rows[models.KindSalesNotification].Status == models.StatusSent &&
			rows[models.KindConsentConfirmation].Status == models.StatusCancelled
	})
	time.Sleep(settle)
	if n := len(emailsTo(t, mailServer.Messages(), lead)); n != 0 {
		t.Errorf("the lead received %d emails after opting out, want none", n)
	}
	// Cancelled by the opt-out itself, or by the worker's check at send
	// time when the worker held the message at that instant: both say why.
	if row := a.outboxStatuses(t, id)[models.KindConsentConfirmation]; row.SentAt != nil || !strings.Contains(row.LastError, "withdrawn") {
		t.Errorf("cancelled confirmation: sent at %v, reason %q; want never sent, cancelled because consent was withdrawn", row.SentAt, row.LastError)
	}
	if out := a.cli(t, "outbox"); !strings.Contains(out, "the outbox is empty") {
		t.Errorf("leadbox outbox lists work left:\n%s", out)
	}
	// The operator can find it, without the lead's address in full.
	out := a.cli(t, "outbox", "cancelled")
	if !strings.Contains(out, "consent_confirmation") || !strings.Contains(out, "withdrawn") ||
		!strings.Contains(out, "z***@example.com") || strings.Contains(out, lead) {
		t.Errorf("leadbox outbox cancelled:\n%s\nwant the confirmation, its reason and a masked address", out)
	}
	a.wantConsent(t, "after the opt-out", lead, string(models.StateWithdrawn), given, withdrawn)
}

// TestOperatorCommandsTakeAPastedAddress: an operator pastes the address
// as a mail client shows it, display name and capitals included. The
// opt-out must be filed under the person's key, or it would match nobody
// while saying it worked.
func TestOperatorCommandsTakeAPastedAddress(t *testing.T) {
	const lead = "zoe@example.com"
	const pasted = "Zoë Visitor <Zoe@Example.com>"
	a := startApp(t, smtptest.NewServer(t))
	a.submit(t, leadForm("Zoë Visitor", lead, true))

	if out := a.cli(t, "optout", pasted); !strings.Contains(out, lead+" is now opted out") {
		t.Errorf("leadbox optout %q:\n%s\nwant %s opted out", pasted, out, lead)
	}
	for _, addr := range []string{lead, pasted} {
		state, events := a.consent(t, addr)
		got := make([]string, len(events))
		for i, e := range events {
			got[i] = e.Action + "/" + e.Method
		}
		want := []string{"given/form", "withdrawn/operator"}
		if state != string(models.StateWithdrawn) || !slices.Equal(got, want) {
			t.Errorf("leadbox consent %q = state %s, events %v; want %s, %v", addr, state, got, models.StateWithdrawn, want)
		}
	}
	var out bytes.Buffer
	err := run(t.Context(), []string{"optout", "Zoë Visitor"}, a.getenv, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "not an email address") {
		t.Errorf("leadbox optout without an address: error %v, want \"not an email address\"", err)
	}
}

// TestEachSalesAddressGetsItsOwnEmail: with several sales addresses, one
// that the mail server refuses (someone who left) must not keep the lead
// from the others. Each address has its own outbox row, sent, retried or
// given up on by itself.
func TestEachSalesAddressGetsItsOwnEmail(t *testing.T) {
	const gone = "gone@example.com"
	mailServer := smtptest.NewServer(t)
	mailServer.Refuse(gone)
	a := startAppWith(t, mailServer, map[string]string{
		"LEADBOX_SALES_TO": "Sales & Marketing <" + salesAddr + ">, Former Rep <" + gone + ">",
	})
	id := a.submit(t, leadForm("Zoë Visitor", "zoe@example.com", false))

	notif := a.waitForEmailsTo(t, salesAddr, 1)[0]
	if replyTo := notif.address(t, "Reply-To"); replyTo != "zoe@example.com" {
		t.Errorf("notification Reply-To = %s, want the lead", replyTo)
	}
	lead, err := a.db(t).LeadByPublicID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both sales rows are settled", mailWait, func() bool {
		var rows []models.OutboxMessage
		a.db(t).DB().Where("lead_id = ? AND kind = ?", lead.ID, models.KindSalesNotification).Order("id").Find(&rows)
		return len(rows) == 2 && rows[0].Status == models.StatusSent && rows[1].Status == models.StatusFailed &&
			strings.Contains(rows[0].Recipient, salesAddr) && strings.Contains(rows[1].Recipient, gone) &&
			strings.Contains(rows[1].LastError, "550")
	})
	time.Sleep(settle)
	if n := len(emailsTo(t, mailServer.Messages(), salesAddr)); n != 1 {
		t.Errorf("%s received %d notifications, want exactly 1", salesAddr, n)
	}
	if out := a.cli(t, "outbox"); !strings.Contains(out, gone) || !strings.Contains(out, "failed") {
		t.Errorf("leadbox outbox does not show which sales address failed:\n%s", out)
	}
}

// TestOptOutByTheASCIIFormOfADomain: sales see a lead at bücher.de as
// zoe@xn--bcher-kva.de in Reply-To (the form mail servers take) and may
// paste that into `leadbox optout`: it is the same person.
func TestOptOutByTheASCIIFormOfADomain(t *testing.T) {
	a := startApp(t, smtptest.NewServer(t))
	a.submit(t, leadForm("Zoë Visitor", "Zoe@Bücher.de", true))
	replyTo := a.waitForEmailsTo(t, salesAddr, 1)[0].address(t, "Reply-To")
	if replyTo != "Zoe@xn--bcher-kva.de" {
		t.Fatalf("notification Reply-To = %s, want Zoe@xn--bcher-kva.de", replyTo)
	}
	a.cli(t, "optout", replyTo)
	if state, _ := a.consent(t, "zoe@bücher.de"); state != string(models.StateWithdrawn) {
		t.Errorf("state of zoe@bücher.de after opting out %s: %s, want %s", replyTo, state, models.StateWithdrawn)
	}
}

// TestBackup: `leadbox backup FILE` copies the database while the server
// runs, and the copy holds the leads; it never overwrites a file.
func TestBackup(t *testing.T) {
	a := startApp(t, smtptest.NewServer(t))
	id := a.submit(t, leadForm("Zoë Visitor", "zoe@example.com", true))
	dst := filepath.Join(t.TempDir(), "backup.db")
	if out := a.cli(t, "backup", dst); !strings.Contains(out, "backed up to "+dst) {
		t.Errorf("leadbox backup: %q", out)
	}
	saved, err := sqlite.Open(t.Context(), dst)
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer saved.Close()
	if _, err := saved.LeadByPublicID(t.Context(), id); err != nil {
		t.Errorf("the backup lacks lead %s: %v", id, err)
	}
	err = run(t.Context(), []string{"backup", dst}, a.getenv, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("backup over an existing file: %v, want a refusal", err)
	}
}
