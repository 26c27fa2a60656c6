package handlers

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// originPolicy decides which browser origins may post the form. The form
// is meant to be posted from the company's own site, another origin, so a
// generic "same-origin only" CSRF guard would break the product; the list
// of allowed origins is the guard instead.
type originPolicy struct {
	allowed []string // exact origins, lower-case, from LEADBOX_ALLOWED_ORIGINS
	self    string   // this server's own origin (the hosted form)
}

func newOriginPolicy(allowed []string, selfOrigin string) originPolicy {
	return originPolicy{allowed: allowed, self: strings.ToLower(selfOrigin)}
}

// permits reports whether a browser request from origin may post. With no
// allowed origins configured every origin may (a plain HTML form on any
// site works, as without Leadbox); a request without Origin is not from a
// cross-site browser context and is always let through.
func (p originPolicy) permits(origin string) bool {
	if origin == "" || len(p.allowed) == 0 {
		return true
	}
	o := strings.ToLower(origin)
	return o == p.self || slices.Contains(p.allowed, o)
}

// corsHeaders lets the listed origins read the answers of fetch() posts:
// the exact origin is echoed (never "*"), credentials are not allowed (the
// form needs no cookies), and Vary: Origin keeps caches honest.
func (p originPolicy) corsHeaders(c *gin.Context) {
	c.Writer.Header().Add("Vary", "Origin")
	origin := c.GetHeader("Origin")
	if origin == "" || !slices.Contains(p.allowed, strings.ToLower(origin)) {
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
}

// preflight answers the browser's OPTIONS check before a JSON post.
func (p originPolicy) preflight() gin.HandlerFunc {
	return func(c *gin.Context) {
		p.corsHeaders(c)
		c.Writer.Header().Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
		if c.Writer.Header().Get("Access-Control-Allow-Origin") == "" {
			c.AbortWithStatus(http.StatusForbidden)
			return
		}
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Accept")
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
	}
}

// guard sets the CORS headers of a post and refuses, with 403, a browser
// post from an origin that is not allowed.
func (p originPolicy) guard(rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		p.corsHeaders(c)
		if !p.permits(c.GetHeader("Origin")) {
			c.Abort()
			rend.errorPage(c, http.StatusForbidden, "Form not accepted from this site",
				"This form may only be sent from the company's own website.")
			return
		}
		c.Next()
	}
}
