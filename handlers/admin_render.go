package handlers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// adminPageData is embedded by every inbox page's data: who is signed in
// (empty on the sign-in page), what the navigation offers them, and the
// CSRF token of the sign-out button.
type adminPageData struct {
	pageData
	User     string
	CanLeads bool
	CSRF     string
	// Section is the part of the inbox the page belongs to ("leads",
	// "marketing"), for the navigation to mark.
	Section string
}

// adminData is the adminPageData of a request that passed adminGate.
func adminData(c *gin.Context, rend *renderer, section string) adminPageData {
	p := adminPrincipal(c)
	return adminPageData{
		pageData: pageData{Site: rend.site},
		User:     p.Name,
		CanLeads: p.Can(models.RightLeads),
		CSRF:     c.GetString(csrfTokenKey),
		Section:  section,
	}
}

// adminErrorPage is the data of admin_error.html. Kind names the problem;
// the template has the words.
type adminErrorPage struct {
	adminPageData
	Kind      string
	Home      string
	RequestID string
}

// adminError answers with an error page in the inbox's frame and stops
// the request there.
func adminError(c *gin.Context, rend *renderer, status int, kind string) {
	home := "/admin/login"
	if p := adminPrincipal(c); p.Name != "" {
		home = homeOf(p)
	}
	rend.page(c, status, "admin_error", adminErrorPage{
		adminPageData: adminData(c, rend, ""),
		Kind:          kind,
		Home:          home,
		RequestID:     requestID(c),
	})
	c.Abort()
}

// adminAuditLog appends to the audit log.
type adminAuditLog interface {
	AppendAudit(ctx context.Context, e *models.AuditEntry) error
}

// Audit actions of the inbox. Targets name records by id only (see
// models.AuditEntry): never a lead's address, nor what was searched for.
const (
	actionLeadsList       = "leads.list"
	actionLeadRead        = "lead.read"
	actionLeadsExport     = "leads.export"
	actionMarketingExport = "marketing.export"
)

// auditRead records that the signed-in user reads personal data, before the
// data is sent. When the entry cannot be written the user gets a 500 and
// not the data (a read that leaves no trace must not happen), and auditRead
// returns false.
func auditRead(c *gin.Context, store adminAuditLog, rend *renderer, now time.Time, action, target string) bool {
	p := adminPrincipal(c)
	e := models.Origin{Actor: p.Name, IP: c.ClientIP(), At: now.UTC()}.Entry(action, target)
	if err := store.AppendAudit(c.Request.Context(), &e); err != nil {
		rend.internalError(c, fmt.Errorf("audit %s: %w", action, err))
		return false
	}
	return true
}

// shownTime is a time as the inbox's pages show it: in LEADBOX_TIMEZONE,
// with the zone, and in RFC 3339 for the datetime attribute. Digits only,
// so the words around it stay in the templates.
type shownTime struct {
	t   time.Time
	loc *time.Location
}

// String is the time for people; "" for the zero time.
func (s shownTime) String() string {
	if s.t.IsZero() {
		return ""
	}
	return s.t.In(s.loc).Format("2006-01-02 15:04 MST")
}

// ISO is the time for machines (the datetime attribute).
func (s shownTime) ISO() string {
	if s.t.IsZero() {
		return ""
	}
	return s.t.UTC().Format(time.RFC3339)
}

// IsZero reports an unset time, for templates to leave it out.
func (s shownTime) IsZero() bool { return s.t.IsZero() }

// show wraps t for a page.
func (v inboxView) show(t time.Time) shownTime { return shownTime{t: t, loc: v.loc} }

// showPtr wraps an optional time.
func (v inboxView) showPtr(t *time.Time) shownTime {
	if t == nil {
		return shownTime{loc: v.loc}
	}
	return v.show(*t)
}

// notFoundLead answers an unknown lead id.
func notFoundLead(c *gin.Context, rend *renderer) {
	adminError(c, rend, http.StatusNotFound, "lead_not_found")
}
