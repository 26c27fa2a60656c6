package handlers

import (
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"
)

// addRoutes is the whole URL map of Leadbox in one place.
func addRoutes(r *gin.Engine, d Deps, rend *renderer, assets fs.FS) {
	r.GET("/contact", contactShow(rend, d.ConsentText.Text))
	r.POST("/contact", contactSubmit(d, rend))
	r.GET("/contact/thanks", thanksShow(rend))

	r.GET("/healthz", healthz())
	r.GET("/readyz", readyz(d.Store))
	r.GET("/assets/*file", serveAssets(assets))
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/contact") })

	r.NoRoute(func(c *gin.Context) {
		rend.errorPage(c, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	})
	r.NoMethod(func(c *gin.Context) {
		rend.errorPage(c, http.StatusMethodNotAllowed, "Not allowed", "This address does not accept that kind of request.")
	})
}
