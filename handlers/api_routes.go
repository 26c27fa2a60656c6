package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
)

// apiPrefix is where the inbox API lives; a later, incompatible version
// would get a prefix of its own beside it.
const apiPrefix = "/api/v1"

// apiStore is what the API needs of storage: the inbox, the audit log, the
// tokens behind the Authenticator and the secret the cursors are signed
// with.
type apiStore interface {
	models.InboxStore
	subjectStore
	access.Store
	auditAppender
	AuditLog(ctx context.Context, before int64, limit int) ([]models.AuditEntry, error)
}

// apiRoute is one route of the API as gin knows it: a method and a pattern
// (c.FullPath()), never a raw path.
type apiRoute struct{ method, pattern string }

func (r apiRoute) String() string { return r.method + " " + r.pattern }

// apiRights is the API's rights table: the one place that says which
// models.Right each route needs. apiAuth refuses a route it has no entry
// for, and TestAPIRoutesHaveRights fails when a route under /api/ is
// registered without one, so a forgotten entry is a test failure and a
// 500, never an open door.
func apiRights() map[apiRoute]models.Right {
	return map[apiRoute]models.Right{
		{http.MethodGet, apiPrefix + "/leads"}:         models.RightLeads,
		{http.MethodGet, apiPrefix + "/leads/:id"}:     models.RightLeads,
		{http.MethodPatch, apiPrefix + "/leads/:id"}:   models.RightLeads,
		{http.MethodGet, apiPrefix + "/leads.csv"}:     models.RightLeads,
		{http.MethodGet, apiPrefix + "/marketing.csv"}: models.RightMarketingExport,
		{http.MethodGet, apiPrefix + "/audit"}:         models.RightAdministration,

		{http.MethodPost, apiPrefix + "/subjects/access"}: models.RightDataSubjects,
		{http.MethodPost, apiPrefix + "/subjects/erase"}:  models.RightDataSubjects,
		{http.MethodPost, apiPrefix + "/suppressions"}:    models.RightDataSubjects,
	}
}

// addAPIRoutes adds the inbox API, /api/v1, for bearer tokens. Every route
// of the group passes apiAuth, which knows the rights table.
func addAPIRoutes(r *gin.Engine, d Deps) {
	auth := access.NewAuthenticator(d.Store, d.Config.AdminToken.Reveal())
	auth.Now = d.Now
	keys := &secretKey{store: d.Store, name: cursorSecretName}
	audit := auditor{store: d.Store, now: d.Now, log: d.Log}
	dbl := d.Config.DoubleOptIn

	api := r.Group(apiPrefix, apiRecovery(d.Log), apiAuth(auth, apiRights(), d.Log))
	api.GET("/leads", leadsList(d.Store, keys, audit, dbl, d.Log))
	api.GET("/leads/:id", leadShow(d.Store, audit, dbl, emailsTo(d.Config.SalesTo), d.Log))
	api.PATCH("/leads/:id", leadUpdate(d.Store, d.Now, dbl, d.Log))
	api.GET("/leads.csv", leadsExport(d.Store, audit, dbl, d.Now, d.Log))
	api.GET("/marketing.csv", marketingExport(d.Store, audit, dbl, d.Now, d.Log))
	api.GET("/audit", auditList(d.Store, keys, audit, d.Log))
	api.POST("/subjects/access", subjectAccess(d.Store, d.Now, dbl, emailsTo(d.Config.SalesTo), d.Log))
	api.POST("/subjects/erase", subjectErase(d.Store, d.Now, d.Log))
	api.POST("/suppressions", suppressionAdd(d.Store, d.Now, d.Log))
}

// isAPIPath reports whether a request is meant for the API, so that the
// router's 404 and 405 answer it in the API's words.
func isAPIPath(path string) bool {
	return path == "/api" || strings.HasPrefix(path, "/api/")
}
