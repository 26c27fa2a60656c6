package handlers

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// leadExporter streams every lead matching a filter.
type leadExporter interface {
	EachLead(ctx context.Context, f models.LeadFilter, doubleOptIn bool, fn func(models.LeadItem) error) error
}

// leadsExport answers GET /api/v1/leads.csv: every lead matching the
// list's filters, newest first, streamed row by row as storage reads them,
// so that memory does not grow with the number of leads.
func leadsExport(store leadExporter, audit auditor, doubleOptIn bool, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		f, errs := parseExportQuery(c.Request.URL.RawQuery)
		if errs != nil {
			apiValidation(c, errs)
			return
		}
		if !audit.read(c, auditLeadsExport, shapeTarget("leads", filterShape(f))) {
			return
		}
		out := newCSVStream(c, "leads", now(),
			"id", "created_at", "form", "name", "email", "phone", "company",
			"message", "page_url", "status", "marketing_state", "marketing_since")
		err := store.EachLead(c.Request.Context(), f, doubleOptIn, func(it models.LeadItem) error {
			since := ""
			if !it.Marketing.Since.IsZero() {
				since = apiTime(it.Marketing.Since)
			}
			return out.row(it.PublicID, apiTime(it.CreatedAt), leadForm, it.Name, it.Email, it.Phone,
				it.Company, it.Message, it.PageURL, it.Status, it.Marketing.State, since)
		})
		if err == nil {
			err = out.end()
		}
		if err != nil {
			out.fail(log, err)
		}
	}
}

// marketingLister streams the addresses that may receive marketing now.
type marketingLister interface {
	EachMarketingContact(ctx context.Context, doubleOptIn bool, fn func(models.MarketingContact) error) error
}

// marketingExport answers GET /api/v1/marketing.csv: one row per address
// that may receive marketing now, with the proof of its consent, and
// nobody else (storage applies the rule, models.MarketingOf).
func marketingExport(store marketingLister, audit auditor, doubleOptIn bool, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !audit.read(c, auditMarketingExport, "marketing") {
			return
		}
		out := newCSVStream(c, "marketing", now(),
			"email", "name", "company", "locale", "consent_given_at", "consent_confirmed_at",
			"consent_wording_sha256", "lead_id")
		err := store.EachMarketingContact(c.Request.Context(), doubleOptIn, func(m models.MarketingContact) error {
			confirmed := ""
			if m.ConfirmedAt != nil {
				confirmed = apiTime(*m.ConfirmedAt)
			}
			locale := m.Locale
			if locale == "" {
				locale = leadLocale
			}
			return out.row(m.Email, m.Name, m.Company, locale, apiTime(m.GivenAt), confirmed,
				m.WordingSHA256, m.LeadPublicID)
		})
		if err == nil {
			err = out.end()
		}
		if err != nil {
			out.fail(log, err)
		}
	}
}
