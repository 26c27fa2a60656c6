package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// auditReader reads the audit log, newest first.
type auditReader interface {
	AuditLog(ctx context.Context, before int64, limit int) ([]models.AuditEntry, error)
}

// auditEntryJSON is one entry of the audit log as the API shows it.
type auditEntryJSON struct {
	At     string `json:"at"`
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Target string `json:"target"`
	IP     string `json:"ip"`
}

// auditPage is the answer of GET /api/v1/audit.
type auditPage struct {
	Entries    []auditEntryJSON `json:"entries"`
	NextCursor *string          `json:"next_cursor"`
}

// auditList answers GET /api/v1/audit: the audit log, newest first, a
// page at a time. Reading it is audited too: it names staff and what
// they looked at.
func auditList(store auditReader, keys *secretKey, audit auditor, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		secret, err := keys.get(ctx)
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		q, errs := parseAuditQuery(c.Request.URL.RawQuery, secret)
		if errs != nil {
			apiValidation(c, errs)
			return
		}
		es, err := store.AuditLog(ctx, q.before, q.limit+1)
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		es, next := keysetPage(es, q.limit, secret, auditScope(), func(e models.AuditEntry) int64 { return e.ID })
		page := auditPage{Entries: make([]auditEntryJSON, 0, len(es)), NextCursor: next}
		for _, e := range es {
			page.Entries = append(page.Entries, auditEntryJSON{
				At: apiTime(e.At), Actor: e.Actor, Action: e.Action, Target: e.Target, IP: e.IP,
			})
		}
		target := "audit"
		if q.before > 0 {
			target = "audit?cursor"
		}
		if !audit.read(c, actionAuditRead, target) {
			return
		}
		c.JSON(http.StatusOK, page)
	}
}
