// Package mailer composes Leadbox's emails with go-mail and delivers them
// from the durable outbox: a Worker claims due outbox rows, composes each
// message from its lead at send time, hands it to a Transport (SMTP, or
// .eml files when no SMTP host is set) and records the outcome, retrying
// temporary failures with capped, jittered backoff.
package mailer

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/templates"
)

// Options is what the Composer needs to know about this installation.
type Options struct {
	// BaseURL is the public URL of the server; links in emails start here.
	BaseURL *url.URL
	// Company names the sender in emails to leads.
	Company string
	// From is the From address of every email.
	From *mail.Address
	// SalesTo receives the lead notifications.
	SalesTo []*mail.Address
	// Timezone is the zone times are shown in.
	Timezone *time.Location
	// DoubleOptIn tells sales that a ticked box still awaits confirmation.
	DoubleOptIn bool
	// DKIM signs every email when set; the zero value signs nothing.
	DKIM DKIM
	// PrivacyKey signs the links of privacy-link emails
	// (models.PrivacyToken); without it they cannot be composed.
	PrivacyKey []byte
}

// DKIM is the key and the DNS name under which receivers find its public
// half (Selector._domainkey.Domain).
type DKIM struct {
	Domain   string
	Selector string
	// Key is an *rsa.PrivateKey or an ed25519.PrivateKey; nil turns
	// signing off.
	Key crypto.Signer
}

// dkimFrom returns the DKIM settings of cfg.
func dkimFrom(cfg config.Config) DKIM {
	return DKIM{Domain: cfg.DKIMDomain, Selector: cfg.DKIMSelector, Key: cfg.DKIMKey.Signer()}
}

// dkimSignedHeaders are the headers every signature covers, in go-mail's
// spelling. SignHeaders replaces go-mail's default list, which leaves out
// Reply-To and the List-Unsubscribe pair: RFC 8058 §4 makes one-click
// unsubscribe depend on a signature covering both, and Reply-To decides
// where a salesperson's answer goes. A header a message lacks (the
// notification has no List-Unsubscribe, the confirmation no Reply-To) is
// still listed, which verifiers read as "signed as absent": adding it on
// the way breaks the signature.
var dkimSignedHeaders = []string{
	gomail.HeaderFrom.String(), gomail.HeaderTo.String(), gomail.HeaderSubject.String(),
	gomail.HeaderDate.String(), gomail.HeaderMessageID.String(),
	gomail.HeaderContentType.String(), gomail.HeaderMIMEVersion.String(),
	gomail.HeaderReplyTo.String(),
	gomail.HeaderListUnsubscribe.String(), gomail.HeaderListUnsubscribePost.String(),
}

// dkimOversignedHeaders are listed a second time (RFC 6376 §8.15), so
// that a second copy placed above ours, which some mail clients would show
// or act on instead, breaks the signature too.
var dkimOversignedHeaders = []string{
	gomail.HeaderFrom.String(), gomail.HeaderReplyTo.String(), gomail.HeaderSubject.String(),
	gomail.HeaderListUnsubscribe.String(), gomail.HeaderListUnsubscribePost.String(),
}

// sign attaches a DKIM signer to msg when signing is configured; go-mail
// signs as it writes the message, so the signature covers the exact bytes
// sent. Each message gets its own signer because go-mail's signer caches
// state on first use and is not safe to share between goroutines.
//
// Headers are canonicalized "simple", not go-mail's default "relaxed":
// go-mail v0.8.1 folds a DKIM-Signature tag longer than a line in the middle
// of the tag, while it signs the tag unfolded. Relaxed canonicalization
// keeps a space where the fold is, so with a header list as long as ours
// (h= no longer fits on one line) every relaxed signature fails
// verification. In simple mode go-mail writes the signature unfolded and it
// verifies (TestDKIMRelaxedFoldingBug shows both). The body stays relaxed.
func (d DKIM) sign(msg *gomail.Msg) {
	if d.Key != nil {
		msg.SetDKIM(d.signer())
	}
}

func (d DKIM) signer() *gomail.DKIMSigner {
	s := gomail.NewDKIMSigner(d.Domain, d.Selector, d.Key)
	s.SignHeaders(dkimSignedHeaders...)
	s.OversignHeaders(dkimOversignedHeaders...)
	s.HeaderCanonicalization(gomail.CanonicalizationSimple)
	s.BodyCanonicalization(gomail.CanonicalizationRelaxed)
	return s
}

// Composer builds the email for an outbox message. Templates are parsed
// once, in NewComposer, so a broken template stops start-up instead of the
// first lead's email.
type Composer struct {
	opts   Options
	domain string // right-hand side of every Message-ID
	kinds  map[string]emailTemplates
}

type emailTemplates struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

// NewComposer parses the email templates and checks the options.
func NewComposer(opts Options) (*Composer, error) {
	if opts.BaseURL == nil || opts.From == nil {
		return nil, errors.New("new composer: BaseURL and From are required")
	}
	if opts.Timezone == nil {
		opts.Timezone = time.UTC
	}
	domain := domainOf(opts.From.Address)
	if domain == "" {
		return nil, fmt.Errorf("new composer: From address %q has no domain", opts.From.Address)
	}
	if opts.DKIM.Key != nil {
		// go-mail checks this only as it writes a message: each email would
		// fail instead of start-up.
		if err := opts.DKIM.signer().ValidateConfig(); err != nil {
			return nil, fmt.Errorf("new composer: DKIM: %w", err)
		}
	}
	c := &Composer{opts: opts, domain: domain, kinds: map[string]emailTemplates{}}
	for kind, name := range map[string]string{
		models.KindSalesNotification:   "sales_notification",
		models.KindConsentConfirmation: "consent_confirmation",
		models.KindPrivacyLink:         "privacy_link",
	} {
		t, err := parseEmail(templates.FS, name)
		if err != nil {
			return nil, fmt.Errorf("new composer: %w", err)
		}
		c.kinds[kind] = t
	}
	return c, nil
}

func parseEmail(fsys fs.FS, name string) (emailTemplates, error) {
	html, err := htmltemplate.ParseFS(fsys, "email/layout.html", "email/"+name+".html")
	if err != nil {
		return emailTemplates{}, fmt.Errorf("parse email template %s.html: %w", name, err)
	}
	text, err := texttemplate.ParseFS(fsys, "email/"+name+".txt")
	if err != nil {
		return emailTemplates{}, fmt.Errorf("parse email template %s.txt: %w", name, err)
	}
	return emailTemplates{html: html.Lookup("layout.html"), text: text}, nil
}

// Compose builds the email for m, whose Lead (with Lead.Consent and its
// ConsentText) must be loaded, as Store.ClaimDue does. now is the Date.
// An error means the message can never be built from this data.
func (c *Composer) Compose(m models.OutboxMessage, now time.Time) (*gomail.Msg, error) {
	if m.Lead == nil {
		return nil, fmt.Errorf("compose outbox message %d: lead not loaded", m.ID)
	}
	if m.MessageID == "" || m.Lead.OptOutToken == "" {
		// Both are set when the row is created; without them there is no
		// stable Message-ID or no opt-out link to put in the email.
		return nil, fmt.Errorf("compose outbox message %d: missing Message-ID or opt-out token", m.ID)
	}
	// The address was validated when the lead was accepted; parsing it again
	// here keeps a bad row from ever reaching an address header (go-mail does
	// not validate the domain of an address it is handed as a mail.Address).
	to, err := mail.ParseAddress(m.Lead.Email)
	if err != nil || to.Name != "" || to.Address != m.Lead.Email {
		return nil, fmt.Errorf("compose outbox message %d: the lead's email address is not one plain address", m.ID)
	}
	to.Address = models.ASCIIAddress(to.Address)

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(c.opts.From)
	msg.SetDateWithValue(now.In(c.opts.Timezone))
	msg.SetMessageIDWithValue(m.MessageID + "@" + c.domain)

	var data any
	switch m.Kind {
	case models.KindSalesNotification:
		salesTo := c.opts.SalesTo
		if m.Recipient != "" {
			a, err := mail.ParseAddress(m.Recipient)
			if err != nil {
				return nil, fmt.Errorf("compose outbox message %d: recipient %q: %w", m.ID, m.Recipient, err)
			}
			salesTo = []*mail.Address{a}
		}
		if len(salesTo) == 0 {
			return nil, fmt.Errorf("compose outbox message %d: no sales recipients configured", m.ID)
		}
		msg.ToMailAddress(salesTo...)
		// The visitor goes in Reply-To, never From: the mail is ours, and
		// Reply must reach them. mail.Address encodes the name (RFC 2047),
		// so no visitor text is ever formatted into a header by hand.
		msg.ReplyToMailAddress(&mail.Address{Name: headerText(m.Lead.Name), Address: to.Address})
		msg.Subject(subjectFor(m.Lead))
		data = c.notificationData(m.Lead)
	case models.KindConsentConfirmation:
		if m.Lead.ConfirmToken == nil || *m.Lead.ConfirmToken == "" {
			return nil, fmt.Errorf("compose outbox message %d: lead has no confirm token", m.ID)
		}
		// Address only: the name is visitor-typed text, and this email may
		// go to a stranger whose address a bot typed in.
		msg.ToMailAddress(&mail.Address{Address: to.Address})
		msg.Subject("Please confirm: marketing emails from " + c.opts.Company)
		optOut := c.link("optout", m.Lead.OptOutToken)
		setListUnsubscribe(msg, optOut)
		data = c.confirmationData(m.Lead, optOut)
	case models.KindPrivacyLink:
		if len(c.opts.PrivacyKey) == 0 {
			return nil, fmt.Errorf("compose outbox message %d: no key to sign privacy links", m.ID)
		}
		// Address only, as for a confirmation: anyone may ask for it.
		msg.ToMailAddress(&mail.Address{Address: to.Address})
		msg.Subject("Your data at " + c.opts.Company)
		optOut := c.link("optout", m.Lead.OptOutToken)
		setListUnsubscribe(msg, optOut)
		// Issued when asked for (the row's creation), so a retry sends
		// the same link, and the link's day counts from the request.
		issued := m.CreatedAt
		data = privacyLinkData{
			Company:    c.opts.Company,
			PrivacyURL: c.link("privacy", models.PrivacyToken(c.opts.PrivacyKey, m.Lead.PublicID, issued)),
			ExpiresAt:  c.showTime(issued.Add(models.PrivacyLinkTTL)),
			OptOutURL:  optOut,
		}
	default:
		return nil, fmt.Errorf("compose outbox message %d: unknown kind %q", m.ID, m.Kind)
	}

	if err := c.setBody(msg, c.kinds[m.Kind], data); err != nil {
		return nil, fmt.Errorf("compose outbox message %d: %w", m.ID, err)
	}
	c.opts.DKIM.sign(msg)
	return msg, nil
}

// setListUnsubscribe adds the RFC 2369 and RFC 8058 headers. RFC 8058 asks
// for an https link, and go-mail's SetListUnsubscribeOneClick refuses any
// other; a plain-http BASE_URL (the localhost default) still gets both
// headers so that development mail looks like production mail.
func setListUnsubscribe(msg *gomail.Msg, optOut string) {
	if err := msg.SetListUnsubscribeOneClick(optOut); err == nil {
		return
	}
	msg.SetListUnsubscribe(optOut)
	msg.SetListUnsubscribePost()
}

func (c *Composer) setBody(msg *gomail.Msg, t emailTemplates, data any) error {
	var text, html bytes.Buffer
	if err := t.text.Execute(&text, data); err != nil {
		return fmt.Errorf("render text part: %w", err)
	}
	if err := t.html.Execute(&html, data); err != nil {
		return fmt.Errorf("render HTML part: %w", err)
	}
	msg.SetBodyString(gomail.TypeTextPlain, text.String())
	msg.AddAlternativeString(gomail.TypeTextHTML, html.String())
	return nil
}

// domainOf returns the part of addr after its last "@", or "".
func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return addr[at+1:]
}

// link builds {BASE_URL}/{page}/{token}; JoinPath escapes the token.
func (c *Composer) link(page, token string) string {
	return c.opts.BaseURL.JoinPath(page, token).String()
}

func (c *Composer) showTime(t time.Time) string {
	return t.In(c.opts.Timezone).Format("Mon, 2 Jan 2006 15:04 MST")
}

// subjectFor names the lead. go-mail's Subject() encodes anything that is
// not printable ASCII (RFC 2047); flattening to one line here is for the
// reader, not for safety.
func subjectFor(l *models.Lead) string {
	s := "New enquiry from " + headerText(l.Name)
	if company := headerText(l.Company); company != "" {
		s += " (" + company + ")"
	}
	return s
}

// headerText is visitor text made fit for a header: one line, and no "=?"
// for a mail client to decode as an RFC 2047 encoded-word. A name typed as
// "=?utf-8?q?=E2=80=AEevil=0D=0ABcc:...?=" is plain ASCII, so it passes
// validation and go-mail sends it as it is; decoded, it would show sales a
// bidi override and a fake header line.
func headerText(s string) string {
	return strings.ReplaceAll(oneLine(s), "=?", "= ?")
}

// oneLine turns control characters and runs of white space into single
// spaces.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

type field struct{ Label, Value string }

type consentView struct {
	Status  string
	Colour  string
	Given   bool
	At      string
	Text    string
	Version string
}

type notificationData struct {
	Company      string
	Name         string
	Fields       []field
	MessageLines []string
	Consent      consentView
	Attribution  []field
	ReceivedAt   string
	OptOutURL    string
}

func (c *Composer) notificationData(l *models.Lead) notificationData {
	return notificationData{
		Company: c.opts.Company,
		Name:    oneLine(l.Name),
		Fields: nonEmpty(
			field{"Name", oneLine(l.Name)}, field{"Email", l.Email},
			field{"Phone", oneLine(l.Phone)}, field{"Company", oneLine(l.Company)},
		),
		MessageLines: strings.Split(strings.ReplaceAll(l.Message, "\r\n", "\n"), "\n"),
		Consent:      c.consentView(l.Consent),
		Attribution: nonEmpty(
			field{"Page", l.PageURL},
			field{"UTM source", l.UTMSource}, field{"UTM medium", l.UTMMedium},
			field{"UTM campaign", l.UTMCampaign}, field{"UTM term", l.UTMTerm},
			field{"UTM content", l.UTMContent},
		),
		ReceivedAt: c.showTime(l.CreatedAt),
		OptOutURL:  c.link("optout", l.OptOutToken),
	}
}

// consentView words the consent recorded with the submission for sales,
// who must know at a glance whether they may send this person marketing.
func (c *Composer) consentView(e *models.ConsentEvent) consentView {
	if e == nil || e.Action != models.ActionGiven {
		return consentView{Status: "not given: do not send marketing", Colour: "#cf222e"}
	}
	v := consentView{Status: "given", Colour: "#1a7f37", Given: true, At: c.showTime(e.At)}
	if c.opts.DoubleOptIn {
		v.Status, v.Colour = "given, waiting for the lead to confirm by email", "#bf8700"
	}
	if e.ConsentText != nil {
		v.Text = e.ConsentText.Text
		v.Version = e.ConsentText.Hash
		if len(v.Version) > 12 {
			v.Version = v.Version[:12]
		}
	}
	return v
}

func nonEmpty(fields ...field) []field {
	out := fields[:0]
	for _, f := range fields {
		if strings.TrimSpace(f.Value) != "" {
			out = append(out, f)
		}
	}
	return out
}

type privacyLinkData struct {
	Company, PrivacyURL, ExpiresAt, OptOutURL string
}

type confirmationData struct {
	Company    string
	ConfirmURL string
	OptOutURL  string
	ExpiresAt  string
}

func (c *Composer) confirmationData(l *models.Lead, optOut string) confirmationData {
	d := confirmationData{
		Company:    c.opts.Company,
		ConfirmURL: c.link("confirm", *l.ConfirmToken),
		OptOutURL:  optOut,
	}
	if l.ConfirmExpiresAt != nil {
		d.ExpiresAt = c.showTime(*l.ConfirmExpiresAt)
	}
	return d
}
