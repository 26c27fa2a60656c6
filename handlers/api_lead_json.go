package handlers

import (
	"net/mail"
	"strings"

	"github.com/leadbox/leadbox/models"
)

// leadLocale is every lead's language until leads record the one they
// wrote in (the form, likewise, is leadFormKey's "contact").
const leadLocale = "en"

// leadJSON is a lead as the API shows it, field for field the contract's
// list and erased_at beside it. It is built from named fields only, so the
// opt-out and confirm tokens, and the row id, cannot slip into an answer.
type leadJSON struct {
	ID        string            `json:"id"`
	CreatedAt string            `json:"created_at"`
	Form      string            `json:"form"`
	Name      string            `json:"name"`
	Email     string            `json:"email"`
	Phone     string            `json:"phone"`
	Company   string            `json:"company"`
	Message   string            `json:"message"`
	Extra     map[string]string `json:"extra"`
	PageURL   string            `json:"page_url"`
	UTM       map[string]string `json:"utm"`
	Locale    string            `json:"locale"`
	Status    string            `json:"status"`
	Marketing marketingJSON     `json:"marketing"`
	Spam      *spamJSON         `json:"spam"`
	// ErasedAt is when the lead's personal data was erased (null: it was
	// not), so that a client can tell an erased lead's empty fields from
	// ones never filled in, and forget its own copy.
	ErasedAt *string `json:"erased_at"`
}

// marketingJSON is a person's marketing state; Since is null for
// not_given.
type marketingJSON struct {
	State string  `json:"state"`
	Since *string `json:"since"`
}

// spamJSON is why a lead was judged spam (none is kept today).
type spamJSON struct {
	Reason string `json:"reason"`
}

func newLeadJSON(it models.LeadItem) leadJSON {
	l := it.Lead
	return leadJSON{
		ID:        l.PublicID,
		CreatedAt: apiTime(l.CreatedAt),
		Form:      leadFormKey(l),
		Name:      l.Name,
		Email:     l.Email,
		Phone:     l.Phone,
		Company:   l.Company,
		Message:   l.Message,
		Extra:     map[string]string{},
		PageURL:   l.PageURL,
		UTM:       l.UTM(),
		Locale:    leadLocale,
		Status:    it.Status,
		Marketing: marketingJSON{State: it.Marketing.State, Since: apiTimeOrNull(&it.Marketing.Since)},
		ErasedAt:  apiTimeOrNull(l.ErasedAt),
	}
}

// leadDetailJSON is one lead with its person's consent ledger, its emails
// and its history.
type leadDetailJSON struct {
	leadJSON
	Consent []consentJSON `json:"consent"`
	Emails  []emailJSON   `json:"emails"`
	History []historyJSON `json:"history"`
}

// consentJSON is one consent event. Wording is the text shown, for events
// that showed one (given, not_given); null for the others.
type consentJSON struct {
	Event         string  `json:"event"`
	At            string  `json:"at"`
	Method        string  `json:"method"`
	IP            string  `json:"ip"`
	UserAgent     string  `json:"user_agent"`
	Wording       *string `json:"wording"`
	WordingSHA256 *string `json:"wording_sha256"`
}

// emailJSON is one email about the lead.
type emailJSON struct {
	Kind      string  `json:"kind"`
	To        string  `json:"to"`
	State     string  `json:"state"`
	Attempts  int     `json:"attempts"`
	LastError string  `json:"last_error"`
	SentAt    *string `json:"sent_at"`
}

// historyJSON is a status change, a note, or both; the part that was not
// given is null.
type historyJSON struct {
	At     string  `json:"at"`
	Actor  string  `json:"actor"`
	Status *string `json:"status"`
	Note   *string `json:"note"`
}

// emailsTo says who an email went to: a notification's own recipient, or
// for rows from before recipients were kept, all of LEADBOX_SALES_TO; a
// confirmation goes to the lead.
type emailsTo []*mail.Address

func (salesTo emailsTo) of(m models.OutboxMessage, lead models.Lead) string {
	switch {
	case m.Kind != models.KindSalesNotification:
		return lead.Email
	case m.Recipient != "":
		return m.Recipient
	}
	all := make([]string, len(salesTo))
	for i, a := range salesTo {
		all[i] = a.String()
	}
	return strings.Join(all, ", ")
}

func newLeadDetailJSON(d models.LeadDetail, salesTo emailsTo) leadDetailJSON {
	out := leadDetailJSON{
		leadJSON: newLeadJSON(d.LeadItem),
		Consent:  make([]consentJSON, 0, len(d.Consent)),
		Emails:   make([]emailJSON, 0, len(d.Emails)),
		History:  make([]historyJSON, 0, len(d.History)),
	}
	for _, e := range d.Consent {
		c := consentJSON{Event: e.Action, At: apiTime(e.At), Method: e.Method, IP: e.IP, UserAgent: e.UserAgent}
		if e.ConsentText != nil {
			c.Wording, c.WordingSHA256 = &e.ConsentText.Text, &e.ConsentText.Hash
		}
		out.Consent = append(out.Consent, c)
	}
	for _, m := range d.Emails {
		out.Emails = append(out.Emails, emailJSON{
			Kind:      m.Kind,
			To:        salesTo.of(m, d.Lead),
			State:     emailState(m.Status),
			Attempts:  m.Attempts,
			LastError: m.LastError,
			SentAt:    apiTimeOrNull(m.SentAt),
		})
	}
	for _, h := range d.History {
		out.History = append(out.History, historyJSON{
			At: apiTime(h.At), Actor: h.Actor, Status: nonEmpty(h.Status), Note: nonEmpty(h.Note),
		})
	}
	return out
}

// emailState is an outbox state in the contract's words: a message being
// sent this instant is still pending to whoever reads the lead.
func emailState(status string) string {
	if status == models.StatusSending {
		return models.StatusPending
	}
	return status
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
