package handlers

import (
	"strings"

	"github.com/gin-gonic/gin"
)

// securityPolicy is what the security headers say; built once from the
// settings.
type securityPolicy struct {
	// formActions are origins, besides our own, where a form on our pages
	// may end up: browsers apply form-action to the redirect after the
	// POST too, so a form whose _next leads to the company's site must name
	// that origin.
	formActions []string
	// frameAncestors may embed our pages; none means no framing at all.
	frameAncestors []string
	// thirdParty is the CAPTCHA provider's origins, whose script and frame
	// the hosted form loads; empty without a CAPTCHA.
	thirdParty string
	// hsts is set when the public URL is https.
	hsts bool
}

// csp is the Content-Security-Policy of every answer: nothing inline,
// nothing from elsewhere except an explicitly configured CAPTCHA widget.
func (p securityPolicy) csp() string {
	frame := "'none'"
	if len(p.frameAncestors) > 0 {
		frame = strings.Join(p.frameAncestors, " ")
	}
	d := []string{
		"default-src 'none'",
		"style-src 'self'",
		"img-src 'self'",
		"form-action " + strings.Join(append([]string{"'self'"}, p.formActions...), " "),
		"base-uri 'none'",
		"frame-ancestors " + frame,
	}
	if p.thirdParty != "" {
		d[1] = "style-src 'self' " + p.thirdParty
		d = append(d, "script-src "+p.thirdParty, "frame-src "+p.thirdParty, "connect-src "+p.thirdParty)
	}
	return strings.Join(d, "; ")
}

// headers sets the security headers every answer carries.
func (p securityPolicy) headers() gin.HandlerFunc {
	csp := p.csp()
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		if len(p.frameAncestors) == 0 {
			// For browsers that predate frame-ancestors.
			h.Set("X-Frame-Options", "DENY")
		}
		if p.hsts {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		c.Next()
	}
}
