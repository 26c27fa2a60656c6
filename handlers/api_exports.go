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
// so that memory does not grow with the number of leads. The bytes are
// the web inbox's download's (csv.go writes both).
func leadsExport(store leadExporter, audit auditor, doubleOptIn bool, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		f, errs := parseExportQuery(c.Request.URL.RawQuery)
		if errs != nil {
			apiValidation(c, errs)
			return
		}
		if !audit.read(c, actionLeadsExport, shapeTarget("leads", filterShape(f))) {
			return
		}
		err := streamCSV(c, log, "leads", now(), leadsCSVHeader(), func(row func([]string) error) error {
			return store.EachLead(c.Request.Context(), f, doubleOptIn, func(it models.LeadItem) error {
				return row(leadsCSVRow(it))
			})
		})
		if err != nil {
			apiInternal(c, log, err)
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
		if !audit.read(c, actionMarketingExport, "marketing") {
			return
		}
		err := streamCSV(c, log, "marketing", now(), marketingCSVHeader(), func(row func([]string) error) error {
			return store.EachMarketingContact(c.Request.Context(), doubleOptIn, func(m models.MarketingContact) error {
				return row(marketingCSVRow(m))
			})
		})
		if err != nil {
			apiInternal(c, log, err)
		}
	}
}
