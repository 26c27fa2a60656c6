package mailer

import (
	"bytes"
	"net/mail"
	"net/url"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// FuzzComposeNotification: whatever a visitor types, the notification has
// exactly the expected headers; in particular no Bcc or Cc, and one To.
func FuzzComposeNotification(f *testing.F) {
	for _, seed := range [][4]string{
		{"Jane Doe", "Acme", "Hello", "jane@example.org"},
		{"x\r\nBcc: a@b", "x\r\nBcc: a@b", "x\r\nBcc: a@b", "jane@example.org"},
		{"x\nBcc: a@b", "x\nCc: a@b", "x\nBcc: a@b", "jane@example.org"},
		{"x\r\n\r\nbody", "x\r\n\r\nbody", "x\r\n\r\nbody", "jane@example.org"},
		{"\x00", "\x00", "\x00", "jane@example.org"},
		{"Zoë Łukasiewicz", "Żółć sp. z o.o.", "Dzień dobry", "zoe@example.pl"},
		{"=?UTF-8?q?x=0D=0ABcc:_a@b?=", "", "", "jane@example.org"},
		{"a", "b", "c", "jane@example.org\r\nBcc: a@b"},
		{"a", "b", "c", "\"x\r\nBcc: a@b\"@example.org"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	c, err := NewComposer(Options{
		BaseURL: &url.URL{Scheme: "https", Host: "leads.example.com"},
		Company: "Acme Widgets",
		From:    &mail.Address{Name: "Leadbox", Address: "leadbox@example.com"},
		SalesTo: []*mail.Address{{Name: "Sales & Marketing", Address: "sales@example.com"}},
	})
	if err != nil {
		f.Fatalf("NewComposer: %v", err)
	}
	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name, company, message, email string) {
		m := models.OutboxMessage{
			ID: 1, Kind: models.KindSalesNotification, MessageID: "fuzz",
			Lead: &models.Lead{
				Name: name, Company: company, Message: message, Email: email,
				CreatedAt: when, OptOutToken: "token",
			},
		}
		msg, err := c.Compose(m, when)
		if err != nil {
			// Only an address that is not one plain address may be refused.
			if a, perr := mail.ParseAddress(email); perr == nil && a.Name == "" && a.Address == email {
				t.Fatalf("Compose refused a valid address %q: %v", email, err)
			}
			return
		}
		var raw bytes.Buffer
		if _, err := msg.WriteTo(&raw); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		checkHeaders(t, raw.Bytes(), notificationHeaders)
	})
}
