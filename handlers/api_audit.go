package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// actionAuditRead is the audit action of reading the audit log, which only
// the API offers. Its other reads share the web inbox's actions
// (actionLeadsList...), so a lead read is a lead read whichever door it
// came through; changes are audited by the store, in the change's
// transaction (UpdateLead).
const actionAuditRead = "audit.read"

// auditAppender appends to the audit log.
type auditAppender interface {
	AppendAudit(ctx context.Context, e *models.AuditEntry) error
}

// auditor records the API's reads of personal data.
type auditor struct {
	store auditAppender
	now   func() time.Time
	log   *slog.Logger
}

// origin is who makes the request, from where, now: the actor is the
// token's name (never the token), the IP the client's as the trusted
// proxies report it.
func origin(c *gin.Context, now func() time.Time) models.Origin {
	return models.Origin{Actor: principalOf(c).Name, IP: c.ClientIP(), At: now().UTC()}
}

// read appends the entry of a read to the audit log before any of what
// was read is sent. When the log cannot take it, the read is refused with
// a 500: data that left without its entry could not be accounted for. ok
// reports whether to go on and answer.
func (a auditor) read(c *gin.Context, action, target string) (ok bool) {
	e := origin(c, a.now).Entry(action, target)
	if err := a.store.AppendAudit(c.Request.Context(), &e); err != nil {
		apiInternal(c, a.log, fmt.Errorf("audit %s: %w", action, err))
		return false
	}
	return true
}

// shapeTarget is an audit target naming a listing and the shape of its
// request, "leads?form=contact&q&status=new": ids, fixed words and times
// only (see filterShape).
func shapeTarget(listing string, shape []string) string {
	if len(shape) == 0 {
		return listing
	}
	return listing + "?" + strings.Join(shape, "&")
}
