package mailer

import (
	"bytes"
	"html"
	"mime"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/models"
)

func newTestComposer(t *testing.T, cfg config.Config) *Composer {
	t.Helper()
	c, err := NewComposer(Options{
		BaseURL: cfg.BaseURL, Company: cfg.Company, From: cfg.MailFrom, SalesTo: cfg.SalesTo,
		Timezone: cfg.Timezone, DoubleOptIn: cfg.DoubleOptIn, DKIM: dkimFrom(cfg),
	})
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	return c
}

// composeFor stores lead and composes its message of the given kind, as
// the worker would after claiming it.
func composeFor(t *testing.T, cfg config.Config, lead *models.Lead, given bool, kind string) (parsed, []byte, models.OutboxMessage) {
	t.Helper()
	s, _ := openStore(t)
	rows := addLead(t, s, lead, given, kind)
	m := claimed(t, s, rows[0].ID)
	msg, err := newTestComposer(t, cfg).Compose(m, time.Now())
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	raw := render(t, msg)
	return readEmail(t, raw), raw, m
}

// headerKeys returns the header names of raw, as net/mail reads them.
func headerKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v", err)
	}
	var keys []string
	for k, vs := range m.Header {
		for range vs {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

var notificationHeaders = sortedKeys("Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Reply-To", "Subject", "To")

func sortedKeys(keys ...string) []string {
	for i, k := range keys {
		keys[i] = textproto.CanonicalMIMEHeaderKey(k)
	}
	slices.Sort(keys)
	return keys
}

// TestNotificationAsReceived sends a notification through the worker to a
// real SMTP server and reads it back as a mail client would.
func TestNotificationAsReceived(t *testing.T) {
	d := smtptest.NewServer(t)
	cfg := testConfig(t, d)
	s, _ := openStore(t)
	lead := testLead("Zoë Łukasiewicz")
	rows := addLead(t, s, lead, true, models.KindSalesNotification)
	w, _ := newTestWorker(t, cfg, s)
	runWorker(t, w)
	waitFor(t, "the message is sent", statusOf(t, s, rows[0].ID))

	raw := d.Messages()[0]
	p := readEmail(t, raw)
	row := outboxRow(t, s, rows[0].ID)

	if got := headerKeys(t, raw); !slices.Equal(got, notificationHeaders) {
		t.Errorf("headers = %v, want %v", got, notificationHeaders)
	}
	addr := func(h string) *mail.Address {
		t.Helper()
		list, err := p.header.AddressList(h)
		if err != nil || len(list) != 1 {
			t.Fatalf("%s = %q (%v), want one address", h, p.header.Get(h), err)
		}
		return list[0]
	}
	if got := addr("From"); got.Address != "leadbox@example.com" {
		t.Errorf("From = %v, want leadbox@example.com", got)
	}
	if got := addr("To"); got.Address != "sales@example.com" || got.Name != "Sales & Marketing" {
		t.Errorf("To = %+v, want Sales & Marketing <sales@example.com>", got)
	}
	if got := addr("Reply-To"); got.Address != lead.Email || got.Name != "Zoë Łukasiewicz" {
		t.Errorf("Reply-To = %+v, want %q <%s>", got, "Zoë Łukasiewicz", lead.Email)
	}
	rawSubject := p.header.Get("Subject")
	if !strings.HasPrefix(rawSubject, "=?UTF-8?") {
		t.Errorf("raw Subject = %q, want an RFC 2047 encoded word", rawSubject)
	}
	if got, want := decodeHeader(t, rawSubject), "New enquiry from Zoë Łukasiewicz (Acme)"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := p.header.Get("Message-Id"), "<"+row.MessageID+"@example.com>"; got != want {
		t.Errorf("Message-ID = %q, want %q", got, want)
	}
	if _, err := p.header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}

	optOut := "https://leads.example.com/optout/" + lead.OptOutToken
	// html.UnescapeString: html/template writes "+" as "&#43;", which
	// every mail client shows as "+".
	for _, part := range []struct{ name, body string }{{"text", p.text}, {"html", html.UnescapeString(p.html)}} {
		for _, want := range []string{
			"Zoë Łukasiewicz", lead.Email, lead.Phone, "Acme", "we need 300 widgets.", "Thanks",
			lead.PageURL, "newsletter", "spring", optOut,
			"given, waiting for the lead to confirm by email", testConsentText,
			models.HashConsentText(testConsentText)[:12],
			lead.CreatedAt.In(cfg.Timezone).Format("15:04 MST"),
		} {
			if !strings.Contains(part.body, want) {
				t.Errorf("%s part lacks %q:\n%s", part.name, want, part.body)
			}
		}
	}
	// Right-to-left names and messages take their direction from their own
	// text, not from the English around them.
	if strings.Count(p.html, `dir="auto"`) < 2 {
		t.Errorf("HTML part does not let visitor text set its own direction (dir=\"auto\"):\n%s", p.html)
	}
	if !strings.Contains(p.html, "Hello,<br>we need 300 widgets.<br><br>Thanks") {
		t.Errorf("HTML part does not keep the message's line breaks:\n%s", p.html)
	}
	if !strings.Contains(p.text, "  Hello,\n  we need 300 widgets.\n  \n  Thanks\n") {
		t.Errorf("text part does not keep the message's line breaks:\n%s", p.text)
	}
	if row.Status != models.StatusSent || row.Attempts != 1 || row.SentAt == nil {
		t.Errorf("row = %s, %d attempts, sent at %v; want sent after 1 attempt", row.Status, row.Attempts, row.SentAt)
	}
}

func TestNotificationConsentWording(t *testing.T) {
	tests := []struct {
		name        string
		doubleOptIn string
		given       bool
		want        string
		notWant     string
	}{
		{"given, double opt-in", "true", true, "Marketing consent: given, waiting for the lead to confirm by email", ""},
		{"given, single opt-in", "false", true, "Marketing consent: given", "waiting"},
		{"not given", "true", false, "Marketing consent: not given: do not send marketing", testConsentText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, nil, "LEADBOX_DOUBLE_OPT_IN", tt.doubleOptIn)
			p, _, _ := composeFor(t, cfg, testLead("Jane Doe"), tt.given, models.KindSalesNotification)
			if !strings.Contains(p.text, tt.want) {
				t.Errorf("text part lacks %q:\n%s", tt.want, p.text)
			}
			if tt.notWant != "" && strings.Contains(p.text, tt.notWant) {
				t.Errorf("text part has %q:\n%s", tt.notWant, p.text)
			}
		})
	}
}

func TestNotificationEscapesHTML(t *testing.T) {
	lead := testLead("<script>alert(1)</script>")
	lead.Company = `"><img src=x onerror=alert(1)>`
	lead.Message = "<b>bold</b>\n<a href=\"javascript:alert(1)\">x</a>"
	lead.PageURL = "javascript:alert(1)"
	p, _, _ := composeFor(t, testConfig(t, nil), lead, false, models.KindSalesNotification)

	for _, bad := range []string{"<script", "<img", "<b>", "<a href=\"javascript", `href="javascript`} {
		if strings.Contains(p.html, bad) {
			t.Errorf("HTML part contains %q:\n%s", bad, p.html)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;bold&lt;/b&gt;"} {
		if !strings.Contains(p.html, want) {
			t.Errorf("HTML part lacks escaped %q:\n%s", want, p.html)
		}
	}
}

// TestHeaderInjection: visitor text with line breaks must never become a
// header of its own.
func TestHeaderInjection(t *testing.T) {
	tests := []struct{ name, company string }{
		{"x\r\nBcc: evil@x.com", ""},
		{"x", "y\r\nBcc: evil@x.com"},
		{"x\nBcc: evil@x.com", "y\nCc: evil@x.com"},
		{"x\r\n\r\nbody", "\x00"},
		{"=?UTF-8?q?x=0D=0ABcc:_evil@x.com?=", ""},
		{"=?utf-8?q?=E2=80=AEevil=0D=0ABcc:_x@evil.com?=", "=?utf-8?b?DQpCY2M6IHhAZXZpbC5jb20=?="},
		{"\"Quoted\" <evil@x.com>, other@x.com", "a,b;c:d<e>"},
	}
	cfg := testConfig(t, nil)
	for _, tt := range tests {
		t.Run(strings.ToValidUTF8(tt.name, "?"), func(t *testing.T) {
			lead := testLead(tt.name)
			lead.Company = tt.company
			p, raw, _ := composeFor(t, cfg, lead, false, models.KindSalesNotification)
			checkHeaders(t, raw, notificationHeaders)
			// As a mail client shows them: encoded-words decoded.
			var dec mime.WordDecoder
			for _, h := range []string{"Subject", "Reply-To"} {
				shown, err := dec.DecodeHeader(p.header.Get(h))
				if err != nil {
					t.Fatalf("decode %s %q: %v", h, p.header.Get(h), err)
				}
				if strings.ContainsFunc(shown, func(r rune) bool { return unicode.IsControl(r) || r == '\u202e' }) {
					t.Errorf("%s shows as %+q: a line break, control or bidi character", h, shown)
				}
			}
		})
	}
}

// checkHeaders asserts that raw has exactly the header keys want, one To
// with one address, and no Bcc or Cc anywhere in its header block.
func checkHeaders(t *testing.T, raw []byte, want []string) {
	t.Helper()
	if got := headerKeys(t, raw); !slices.Equal(got, want) {
		t.Fatalf("headers = %v, want %v\n%s", got, want, raw)
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	lower := bytes.ToLower(head)
	for _, bad := range []string{"\nbcc:", "\ncc:", "\r\nbcc", "\r\ncc"} {
		if bytes.Contains(lower, []byte(bad)) {
			t.Fatalf("header block contains %q:\n%s", bad, head)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v", err)
	}
	if to, err := m.Header.AddressList("To"); err != nil || len(to) != 1 {
		t.Fatalf("To = %q (%v), want one address", m.Header.Get("To"), err)
	}
}

func TestConfirmationEmail(t *testing.T) {
	for _, base := range []string{"https://leads.example.com", "http://localhost:8080"} {
		t.Run(base, func(t *testing.T) {
			cfg := testConfig(t, nil, "LEADBOX_BASE_URL", base)
			lead := testLead("Visitor Typed Name")
			lead.Company = "Typed Company Ltd"
			lead.Message = "Buy cheap watches at spam.example"
			lead.UTMTerm = "typed utm term"
			p, raw, m := composeFor(t, cfg, lead, true, models.KindConsentConfirmation)

			checkHeaders(t, raw, sortedKeys("Content-Type", "Date", "From", "List-Unsubscribe",
				"List-Unsubscribe-Post", "Message-Id", "Mime-Version", "Subject", "To"))
			optOut := base + "/optout/" + lead.OptOutToken
			confirm := base + "/confirm/" + *lead.ConfirmToken
			if got, want := p.header.Get("List-Unsubscribe"), "<"+optOut+">"; got != want {
				t.Errorf("List-Unsubscribe = %q, want %q", got, want)
			}
			if got, want := p.header.Get("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click"; got != want {
				t.Errorf("List-Unsubscribe-Post = %q, want %q", got, want)
			}
			if got, want := p.header.Get("To"), "<"+lead.Email+">"; got != want {
				t.Errorf("To = %q, want %q (no display name)", got, want)
			}
			if got, want := p.header.Get("Message-Id"), "<"+m.MessageID+"@example.com>"; got != want {
				t.Errorf("Message-ID = %q, want %q", got, want)
			}
			if got := decodeHeader(t, p.header.Get("Subject")); !strings.Contains(got, "Acme Widgets") {
				t.Errorf("Subject = %q, want the company name", got)
			}
			for _, part := range []struct{ name, body string }{{"text", p.text}, {"html", p.html}} {
				for _, want := range []string{confirm, optOut, "Acme Widgets"} {
					if !strings.Contains(part.body, want) {
						t.Errorf("%s part lacks %q:\n%s", part.name, want, part.body)
					}
				}
				for _, typed := range []string{"Visitor", "Typed", "typed", "watches", "spam.example",
					lead.Phone, lead.Email, lead.PageURL, lead.UTMSource} {
					if strings.Contains(part.body, typed) {
						t.Errorf("%s part carries visitor text %q:\n%s", part.name, typed, part.body)
					}
				}
			}
		})
	}
}

func TestComposeRefuses(t *testing.T) {
	cfg := testConfig(t, nil)
	c := newTestComposer(t, cfg)
	lead := func(email string, confirm *string) *models.Lead {
		l := testLead("Jane")
		l.Email, l.ConfirmToken = email, confirm
		return l
	}
	token := "abc"
	tests := []struct {
		name string
		m    models.OutboxMessage
	}{
		{"no lead", models.OutboxMessage{Kind: models.KindSalesNotification}},
		{"injected address", models.OutboxMessage{Kind: models.KindSalesNotification, Lead: lead("a@b.c\r\nBcc: evil@x.com", nil)}},
		{"address with name", models.OutboxMessage{Kind: models.KindSalesNotification, Lead: lead("Eve <eve@x.com>", nil)}},
		{"two addresses", models.OutboxMessage{Kind: models.KindSalesNotification, Lead: lead("a@x.com, b@x.com", nil)}},
		{"confirmation without token", models.OutboxMessage{Kind: models.KindConsentConfirmation, Lead: lead("a@x.com", nil)}},
		{"unknown kind", models.OutboxMessage{Kind: "newsletter", Lead: lead("a@x.com", &token)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg, err := c.Compose(tt.m, time.Now()); err == nil {
				t.Errorf("Compose = %v, nil; want an error", msg)
			}
		})
	}
}

// TestNotificationRecipient: a notification row names its one sales
// address, and the email goes to that address only; a row from before
// rows named one goes to every address of LEADBOX_SALES_TO.
func TestNotificationRecipient(t *testing.T) {
	cfg := testConfig(t, nil, "LEADBOX_SALES_TO", "Sales & Marketing <sales@example.com>, Ann Rep <ann@example.com>")
	s, _ := openStore(t)
	rows := addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
	m := claimed(t, s, rows[0].ID)
	c := newTestComposer(t, cfg)
	tests := []struct {
		recipient string
		want      []string
	}{
		{"=?utf-8?q?Ann_R=C3=A9p?= <ann@example.com>", []string{"ann@example.com"}},
		{"", []string{"sales@example.com", "ann@example.com"}},
	}
	for _, tt := range tests {
		m.Recipient = tt.recipient
		msg, err := c.Compose(m, time.Now())
		if err != nil {
			t.Fatalf("Compose (recipient %q): %v", tt.recipient, err)
		}
		to, err := readEmail(t, render(t, msg)).header.AddressList("To")
		if err != nil {
			t.Fatalf("recipient %q: To: %v", tt.recipient, err)
		}
		var got []string
		for _, a := range to {
			got = append(got, a.Address)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("recipient %q: To %v, want %v", tt.recipient, got, tt.want)
		}
	}
	m.Recipient = "not an address"
	if _, err := c.Compose(m, time.Now()); err == nil || !strings.Contains(err.Error(), "not an address") {
		t.Errorf("Compose with a broken recipient: error %v, want one naming it", err)
	}
}

// TestInternationalDomainGoesOutAsASCII: an address at bücher.de was
// accepted by the form; mail servers without SMTPUTF8 (RFC 6531) refuse
// it in RCPT TO, so the emails carry its ASCII form (RFC 5891), which
// reaches the same mailbox. The lead row keeps what the visitor typed.
func TestInternationalDomainGoesOutAsASCII(t *testing.T) {
	cfg := testConfig(t, nil)
	lead := testLead("Zoë")
	lead.Email = "zoe@Bücher.de"
	for kind, header := range map[string]string{
		models.KindConsentConfirmation: "To",
		models.KindSalesNotification:   "Reply-To",
	} {
		p, _, m := composeFor(t, cfg, lead, true, kind)
		a, err := mail.ParseAddress(p.header.Get(header))
		if err != nil || a.Address != "zoe@xn--bcher-kva.de" {
			t.Errorf("%s: %s %q (%v), want zoe@xn--bcher-kva.de", kind, header, p.header.Get(header), err)
		}
		if m.Lead.Email != "zoe@Bücher.de" {
			t.Errorf("%s: the lead's address became %q", kind, m.Lead.Email)
		}
	}
	if got := models.ASCIIAddress("ann@example.com"); got != "ann@example.com" {
		t.Errorf("ASCIIAddress of an ASCII address = %q", got)
	}
}
