package handlers

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
)

// adminStore is what the web inbox needs of storage: sessions and sign-ins
// (through access.Authenticator), the leads and exports, the look-up of a
// lead's row id for the list's pages, and the audit log.
type adminStore interface {
	access.Store
	models.InboxStore
	LeadByPublicID(ctx context.Context, publicID string) (models.Lead, error)
	AppendAudit(ctx context.Context, e *models.AuditEntry) error
}

// adminAccess says who may use one route of the web inbox.
type adminAccess struct {
	// public: no session is needed (the sign-in form itself).
	public bool
	// anyRole: every signed-in user may, whatever the role (signing out).
	anyRole bool
	// right is what the user's role must have otherwise (models.Role.Can).
	right models.Right
}

// adminRights is the web inbox's table of routes ("METHOD /pattern") and
// who may use each. adminGate enforces it for the whole /admin group and
// refuses a route that has no entry, and TestAdminRoutesHaveRights walks
// the router so that a new route without one fails the tests rather than
// opening a door.
func adminRights() map[string]adminAccess {
	return map[string]adminAccess{
		"GET /admin/login":         {public: true},
		"POST /admin/login":        {public: true},
		"POST /admin/logout":       {anyRole: true},
		"GET /admin":               {right: models.RightLeads},
		"GET /admin/leads/:id":     {right: models.RightLeads},
		"POST /admin/leads/:id":    {right: models.RightLeads},
		"GET /admin/leads.csv":     {right: models.RightLeads},
		"GET /admin/marketing":     {right: models.RightMarketingExport},
		"GET /admin/marketing.csv": {right: models.RightMarketingExport},
	}
}

// inboxView is how the inbox shows what it reads: the time zone of the
// times on its pages, and whether an unconfirmed consent counts.
type inboxView struct {
	loc         *time.Location
	doubleOptIn bool
	now         func() time.Time
}

// addAdminRoutes adds the web inbox for people under /admin: sign-in, the
// lead list and pages, and the marketing export. Every route passes
// adminGate, which knows the rights of each.
func addAdminRoutes(r *gin.Engine, d Deps, store adminStore, rend *renderer) {
	auth := access.NewAuthenticator(store, d.Config.AdminToken.Reveal())
	auth.Now = d.Now
	s := &sessions{
		auth:   auth,
		keys:   &csrfKeys{store: store},
		secure: d.Config.BaseURL.Scheme == "https",
		log:    d.Log,
	}
	view := inboxView{loc: d.Config.Timezone, doubleOptIn: d.Config.DoubleOptIn, now: d.Now}
	if view.loc == nil {
		view.loc = time.UTC
	}

	g := r.Group("/admin", adminGate(adminRights(), s, rend))
	g.GET("/login", loginShow(s, rend))
	g.POST("/login", loginSubmit(s, rend))
	g.POST("/logout", logout(s, rend))
	g.GET("", leadList(store, rend, view))
	g.GET("/leads/:id", adminLeadShow(store, rend, view))
	g.POST("/leads/:id", adminLeadUpdate(store, rend, view))
	g.GET("/leads.csv", leadsCSV(store, rend, view, d.Log))
	g.GET("/marketing", marketingShow(store, rend, view))
	g.GET("/marketing.csv", marketingCSV(store, rend, view, d.Log))
}
