package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// leadReader reads everything about one lead.
type leadReader interface {
	LeadDetail(ctx context.Context, publicID string, doubleOptIn bool) (models.LeadDetail, error)
}

// leadShow answers GET /api/v1/leads/{id}: the lead, its person's consent
// ledger, its emails and its history.
func leadShow(store leadReader, audit auditor, doubleOptIn bool, salesTo emailsTo, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("id")
		d, err := store.LeadDetail(c.Request.Context(), id, doubleOptIn)
		if errors.Is(err, models.ErrNotFound) {
			apiError(c, http.StatusNotFound, "not_found")
			return
		}
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		if !audit.read(c, actionLeadRead, models.LeadTarget(d.PublicID)) {
			return
		}
		c.JSON(http.StatusOK, newLeadDetailJSON(d, salesTo))
	}
}
