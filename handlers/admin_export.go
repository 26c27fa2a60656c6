package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// adminLeadExporter is what leads.csv reads.
type adminLeadExporter interface {
	adminAuditLog
	EachLead(ctx context.Context, f models.LeadFilter, doubleOptIn bool, fn func(models.LeadItem) error) error
}

// adminMarketingReader is what marketing.csv and the marketing page read.
type adminMarketingReader interface {
	adminAuditLog
	EachMarketingContact(ctx context.Context, doubleOptIn bool, fn func(models.MarketingContact) error) error
}

// leadsCSV serves leads.csv: every lead the list's search and filters
// select (the list's "Download" link carries them), streamed, newest
// first. The export is audited before the first row goes out.
func leadsCSV(store adminLeadExporter, rend *renderer, view inboxView, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		f, errs := readLeadQuery(c).filter(view.loc)
		if len(errs) > 0 {
			adminError(c, rend, http.StatusUnprocessableEntity, "bad_filter")
			return
		}
		now := view.now()
		if !auditRead(c, store, rend, now, actionLeadsExport, "leads") {
			return
		}
		err := streamCSV(c, log, "leads", now, leadsCSVHeader(), func(row func([]string) error) error {
			return store.EachLead(c.Request.Context(), f, view.doubleOptIn, func(it models.LeadItem) error {
				return row(leadsCSVRow(it))
			})
		})
		if err != nil {
			rend.internalError(c, err)
		}
	}
}

// marketingCSV serves marketing.csv: one row per address that may receive
// marketing now, and nobody else (models.InboxStore.EachMarketingContact
// applies the contract's rule). The export is audited before the first
// row goes out.
func marketingCSV(store adminMarketingReader, rend *renderer, view inboxView, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		now := view.now()
		if !auditRead(c, store, rend, now, actionMarketingExport, "marketing") {
			return
		}
		err := streamCSV(c, log, "marketing", now, marketingCSVHeader(), func(row func([]string) error) error {
			return store.EachMarketingContact(c.Request.Context(), view.doubleOptIn, func(m models.MarketingContact) error {
				return row(marketingCSVRow(m))
			})
		})
		if err != nil {
			rend.internalError(c, err)
		}
	}
}
