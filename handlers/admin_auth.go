package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
)

// sessions is how the web inbox knows its users: the Authenticator that
// signs them in and recognises their session cookies, the cookies'
// attributes, and the key of the CSRF tokens.
type sessions struct {
	auth *access.Authenticator
	keys *csrfKeys
	// secure: LEADBOX_BASE_URL is https, so cookies travel over TLS only
	// and take the __Host- prefix, which a browser accepts only from this
	// very host over TLS: a sibling subdomain cannot plant one.
	secure bool
	log    *slog.Logger
}

// Cookie names, without the __Host- prefix that https adds.
const (
	sessionCookieName = "leadbox_session"
	signInCookieName  = "leadbox_signin"
)

// cookieName is the name a cookie has on this installation.
func (s *sessions) cookieName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

// cookie returns the value of one of our cookies, "" without it.
func (s *sessions) cookie(c *gin.Context, name string) string {
	v, err := c.Cookie(s.cookieName(name))
	if err != nil {
		return ""
	}
	return v
}

// setCookie sets one of our cookies for the browser's session (no
// Max-Age: the server decides how long a session lasts, see
// models.SessionIdle). A negative maxAge deletes it.
func (s *sessions) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     s.cookieName(name),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secure,
		// Strict: a page elsewhere cannot make the browser send it, so
		// no cross-site request acts as the user (CSRF tokens are the
		// second line).
		SameSite: http.SameSiteStrictMode,
	})
}

// Keys of what adminGate puts in the request's context.
const (
	adminPrincipalKey = "admin.principal"
	csrfTokenKey      = "admin.csrf"
)

// adminPrincipal is the signed-in user adminGate found (zero on public
// routes).
func adminPrincipal(c *gin.Context) access.Principal {
	p, _ := c.Get(adminPrincipalKey)
	pr, _ := p.(access.Principal)
	return pr
}

// adminGate is the one guard of every /admin route. It looks the route up
// in rights and refuses one without an entry (fail closed); it sends a
// request without a valid session to the sign-in page (remembering a page
// of the inbox that was asked for); it answers 403 when the user's role
// lacks the route's right; and it refuses, with 403, every POST but the
// sign-in whose csrf field is not the session's token, before the
// handler can change anything.
func adminGate(rights map[string]adminAccess, s *sessions, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		route := c.Request.Method + " " + c.FullPath()
		rule, ok := rights[route]
		if !ok {
			s.log.ErrorContext(c.Request.Context(), "admin route without a rights entry: refused",
				"route", route, "request_id", requestID(c))
			adminError(c, rend, http.StatusForbidden, "forbidden")
			return
		}
		if rule.public {
			c.Next()
			return
		}
		ctx := c.Request.Context()
		cookie := s.cookie(c, sessionCookieName)
		p, err := s.auth.Session(ctx, cookie)
		if errors.Is(err, access.ErrUnauthorized) {
			toSignIn(c)
			return
		}
		if err != nil {
			rend.internalError(c, err)
			return
		}
		key, err := s.keys.get(ctx)
		if err != nil {
			rend.internalError(c, err)
			return
		}
		sessionID := access.HashSecret(cookie)
		c.Set(adminPrincipalKey, p)
		c.Set(csrfTokenKey, csrfToken(key, csrfSession, sessionID))
		if !rule.anyRole && !p.Can(rule.right) {
			adminError(c, rend, http.StatusForbidden, "forbidden")
			return
		}
		if c.Request.Method == http.MethodPost && !validCSRF(key, csrfSession, sessionID, c.PostForm("csrf")) {
			adminError(c, rend, http.StatusForbidden, "csrf")
			return
		}
		c.Next()
	}
}

// toSignIn sends a request without a session to the sign-in page. A page
// of the inbox that was asked for with GET travels along as next, so the
// user lands on it after signing in (a link to a lead in a chat message).
func toSignIn(c *gin.Context) {
	target := "/admin/login"
	if c.Request.Method == http.MethodGet {
		if next := localAdminPath(c.Request.URL.RequestURI()); next != "" && next != "/admin" {
			target += "?" + url.Values{"next": {next}}.Encode()
		}
	}
	c.Redirect(http.StatusSeeOther, target)
	c.Abort()
}

// homeOf is where a user lands after signing in: the lead list, or for a
// role that may not read leads (marketing) the one page it may see.
func homeOf(p access.Principal) string {
	if p.Can(models.RightLeads) {
		return "/admin"
	}
	return "/admin/marketing"
}

// localAdminPath returns p when it is a page of the web inbox on this
// server, "" otherwise: the wanted page after sign-in comes from the URL,
// which anyone can write, and must not send a user elsewhere (an open
// redirect) or back to the sign-in itself.
func localAdminPath(p string) string {
	if p == "" || len(p) > 2048 || strings.ContainsAny(p, "\\\x00\r\n\t") || strings.HasPrefix(p, "//") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		return ""
	}
	if u.Path != "/admin" && !strings.HasPrefix(u.Path, "/admin/") || path.Clean(u.Path) != u.Path {
		return ""
	}
	if u.Path == "/admin/login" || u.Path == "/admin/logout" {
		return ""
	}
	return p
}

// adminHeaders sets what every answer under /admin carries, whatever
// handler (or none: a 404) makes it. Inbox pages hold personal data, so
// no cache keeps them; they are framed by nobody, even where the public
// form may be (LEADBOX_FRAME_ANCESTORS), and run no script at all.
func adminHeaders() gin.HandlerFunc {
	const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	return func(c *gin.Context) {
		if p := c.Request.URL.Path; p == "/admin" || strings.HasPrefix(p, "/admin/") {
			h := c.Writer.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "same-origin")
		}
		c.Next()
	}
}
