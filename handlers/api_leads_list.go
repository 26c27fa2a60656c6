package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// leadLister reads one page of leads.
type leadLister interface {
	Leads(ctx context.Context, f models.LeadFilter, before int64, limit int, doubleOptIn bool) ([]models.LeadItem, error)
}

// leadsPage is the answer of GET /api/v1/leads. NextCursor is null on the
// last page.
type leadsPage struct {
	Leads      []leadJSON `json:"leads"`
	NextCursor *string    `json:"next_cursor"`
}

// leadsList answers GET /api/v1/leads: a page of leads matching the
// filter, newest first. Pages follow the keyset (the last lead's row id,
// in a signed cursor), not an offset, so leads arriving between two pages
// neither repeat nor push one out of sight.
func leadsList(store leadLister, keys *secretKey, audit auditor, doubleOptIn bool, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		secret, err := keys.get(ctx)
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		q, errs := parseLeadQuery(c.Request.URL.RawQuery, secret)
		if errs != nil {
			apiValidation(c, errs)
			return
		}
		// One more than the page: see keysetPage.
		items, err := store.Leads(ctx, q.filter, q.before, q.limit+1, doubleOptIn)
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		items, next := keysetPage(items, q.limit, secret, leadScope(q.filter), func(it models.LeadItem) int64 { return it.ID })
		page := leadsPage{Leads: make([]leadJSON, 0, len(items)), NextCursor: next}
		for _, it := range items {
			page.Leads = append(page.Leads, newLeadJSON(it))
		}
		shape := append(filterShape(q.filter), "limit="+strconv.Itoa(q.limit))
		if q.before > 0 {
			shape = append(shape, "cursor")
		}
		if !audit.read(c, actionLeadsList, shapeTarget("leads", shape)) {
			return
		}
		c.JSON(http.StatusOK, page)
	}
}
