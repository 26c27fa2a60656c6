package handlers

import (
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"
)

// addRoutes is the whole URL map of Leadbox in one place.
func addRoutes(r *gin.Engine, d Deps, rend *renderer, in intake, contact formPolicy, assets fs.FS) {
	// Every page answers HEAD as it answers GET (RFC 9110 §9.3.2), without
	// the body: monitors and link checkers use it.
	get := func(path string, h gin.HandlerFunc) {
		r.GET(path, h)
		r.HEAD(path, h)
	}
	get("/contact", contactShow(rend, in, d.Now))
	origins := newOriginPolicy(d.Config.AllowedOrigins, d.Config.BaseURL.Scheme+"://"+d.Config.BaseURL.Host)
	r.OPTIONS("/contact", origins.preflight())
	r.POST("/contact", origins.guard(rend), contactSubmit(in, contact, d.Store, rend, d.Spam, d.Metrics, d.Notify, d.Now, d.Log))
	get("/contact/thanks", thanksShow(rend, d.Config.DoubleOptIn))

	// GET and HEAD show state and change nothing; only POST acts.
	get("/optout/:token", optOutShow(d.Store, d.Config.DoubleOptIn, rend))
	r.POST("/optout/:token", optOutSubmit(d.Store, d.Now, d.Log, rend))
	get("/confirm/:token", confirmShow(d.Store, d.Now, rend))
	r.POST("/confirm/:token", confirmSubmit(d.Store, d.Now, d.Log, rend))

	// The privacy pages: a request form, then the emailed link's page.
	links := &privacyLinks{store: d.Store, notify: d.Notify, now: d.Now, log: d.Log, slots: make(chan struct{}, maxPrivacyInFlight)}
	get("/privacy", privacyRequestShow(rend))
	r.POST("/privacy", privacyRequestSubmit(links, newRateLimit(d.Config.RateLimit, d.Now), rend))
	get("/privacy/:token", privacyShow(d.Store, d.PrivacyKey, d.Now, d.Config.DoubleOptIn, d.Config.Timezone, rend))
	r.POST("/privacy/:token", privacyAct(d.Store, d.PrivacyKey, d.Now, d.Config.DoubleOptIn, emailsTo(d.Config.SalesTo), d.Config.Timezone, rend))

	addAdminRoutes(r, d, d.Store, rend)

	get("/healthz", healthz())
	get("/readyz", readyz(d.Store, d.Log))
	addMetricsRoute(r, d.Config.MetricsNetworks, d.MetricsPage, rend)
	get("/assets/*file", serveAssets(assets))
	get("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/contact") })
	addAPIRoutes(r, d)

	// Links in emails never end in a slash; a redirect would only turn a
	// mistyped token into a 301 instead of the uniform 404.
	r.RedirectTrailingSlash = false

	r.NoRoute(func(c *gin.Context) {
		if isAPIPath(c.Request.URL.Path) {
			apiError(c, http.StatusNotFound, "not_found")
			return
		}
		notFound(c, rend)
	})
	r.NoMethod(func(c *gin.Context) {
		if isAPIPath(c.Request.URL.Path) {
			apiError(c, http.StatusMethodNotAllowed, "method_not_allowed")
			return
		}
		rend.errorPage(c, http.StatusMethodNotAllowed, "Not allowed", "This address does not accept that kind of request.")
	})
}
