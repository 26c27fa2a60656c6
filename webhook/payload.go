package webhook

import (
	"encoding/json"
	"time"

	"github.com/leadbox/leadbox/models"
)

// Event is the body of every webhook (Standard Webhooks' payload
// structure): the event type, when the event happened, and its data.
type Event struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// Lead is the data of lead.created, consent.confirmed and
// consent.withdrawn: what a CRM needs to create or update a contact, as
// the API shows a lead (docs/api.md). It is built from named fields only,
// so the opt-out and confirm tokens, and the row id, cannot slip in.
type Lead struct {
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
	Marketing Marketing         `json:"marketing"`
}

// Marketing is the person's marketing consent when the webhook is sent:
// state given, pending, withdrawn or not_given, and since when (null for
// not_given).
type Marketing struct {
	State string  `json:"state"`
	Since *string `json:"since"`
}

// Leads keep no form key, extra fields or language yet: every lead is the
// contact form's, in English (as the API says too).
const (
	leadForm   = "contact"
	leadLocale = "en"
)

// newLead is l as a webhook shows it, with the person's marketing state m.
func newLead(l *models.Lead, m models.Marketing) Lead {
	var since *string
	if !m.Since.IsZero() {
		s := stamp(m.Since)
		since = &s
	}
	return Lead{
		ID: l.PublicID, CreatedAt: stamp(l.CreatedAt), Form: leadForm,
		Name: l.Name, Email: l.Email, Phone: l.Phone, Company: l.Company, Message: l.Message,
		Extra: map[string]string{}, PageURL: l.PageURL, UTM: l.UTM(), Locale: leadLocale, Status: l.Status,
		Marketing: Marketing{State: m.State, Since: since},
	}
}

// stamp is a time as every webhook writes it: RFC 3339 in UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// body is the JSON of an event of type typ that happened at at.
func body(typ string, at time.Time, data any) ([]byte, error) {
	return json.Marshal(Event{Type: typ, Timestamp: stamp(at), Data: data})
}
