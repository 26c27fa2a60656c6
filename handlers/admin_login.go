package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
)

// adminLoginPage is the data of admin_login.html.
type adminLoginPage struct {
	adminPageData
	Email string
	Next  string
	Token string
	// Reload asks the browser to load the page again at once: it came
	// from a link on another site, which makes the browser leave out the
	// SameSite=Strict session cookie; the reload is this site's own, so
	// the cookie comes along and a signed-in user goes on to Next.
	Reload bool
	// Problem says why the form is shown again: "credentials" (unknown
	// email or wrong password, deliberately not told apart), "throttled"
	// or "expired" (the form's token did not match); the template has
	// the words.
	Problem string
}

// maxEmailField bounds the email typed into the sign-in form (RFC 5321's
// longest address); longer input is kept out of the page shown again.
const maxEmailField = 254

// signInForm shows the sign-in form with status. The form's token is tied
// to a random sign-in cookie, which is kept when the browser has one, so
// that two tabs opened on the form both work.
func signInForm(c *gin.Context, s *sessions, rend *renderer, status int, page adminLoginPage) {
	key, err := s.keys.get(c.Request.Context())
	if err != nil {
		rend.internalError(c, err)
		return
	}
	value := s.cookie(c, signInCookieName)
	if len(value) < 32 {
		value = models.NewToken(32)
		s.setCookie(c, signInCookieName, value, 0)
	}
	page.adminPageData = adminPageData{pageData: pageData{Site: rend.site}}
	page.Token = csrfToken(key, csrfSignIn, value)
	page.Next = localAdminPath(page.Next)
	if len(page.Email) > maxEmailField {
		page.Email = ""
	}
	rend.page(c, status, "admin_login", page)
}

// loginShow serves the sign-in form, or sends a user who is signed in
// already on to the page asked for (or their home).
func loginShow(s *sessions, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		next := c.Query("next")
		if cookie := s.cookie(c, sessionCookieName); cookie != "" {
			p, err := s.auth.Session(c.Request.Context(), cookie)
			switch {
			case err == nil:
				target := localAdminPath(next)
				if target == "" {
					target = homeOf(p)
				}
				c.Redirect(http.StatusSeeOther, target)
				return
			case !errors.Is(err, access.ErrUnauthorized):
				rend.internalError(c, err)
				return
			}
		}
		// A link to the inbox in a chat or an email is a cross-site
		// navigation, which leaves out the session cookie; Sec-Fetch-Site
		// says so (the whole redirect chain counts), and a reload, no
		// longer cross-site, brings the cookie if there is one.
		reload := c.GetHeader("Sec-Fetch-Site") == "cross-site"
		signInForm(c, s, rend, http.StatusOK, adminLoginPage{Next: next, Reload: reload})
	}
}

// loginSubmit signs a user in: a new session (a new id at every sign-in,
// so a session id planted before cannot be ridden after), its cookie,
// and 303 to the page asked for or the user's home. An unknown email and
// a wrong password get the same 401 page; after too many failures for the
// account or the client (access.Authenticator decides), 429, whatever the
// password.
func loginSubmit(s *sessions, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		email := strings.TrimSpace(c.PostForm("email"))
		page := adminLoginPage{Email: email, Next: c.PostForm("next")}
		key, err := s.keys.get(ctx)
		if err != nil {
			rend.internalError(c, err)
			return
		}
		if !validCSRF(key, csrfSignIn, s.cookie(c, signInCookieName), c.PostForm("csrf")) {
			page.Problem = "expired"
			signInForm(c, s, rend, http.StatusForbidden, page)
			return
		}
		cookie, p, err := s.auth.SignIn(ctx, email, c.PostForm("password"), c.ClientIP())
		switch {
		case errors.Is(err, access.ErrThrottled):
			page.Problem = "throttled"
			// The earliest moment is not known here; the whole window
			// is always enough.
			c.Header("Retry-After", strconv.Itoa(int(models.SignInWindow.Seconds())))
			signInForm(c, s, rend, http.StatusTooManyRequests, page)
			return
		case errors.Is(err, access.ErrBadCredentials):
			page.Problem = "credentials"
			signInForm(c, s, rend, http.StatusUnauthorized, page)
			return
		case err != nil:
			rend.internalError(c, err)
			return
		}
		// A session this browser still had ends: one sign-in, one session.
		if old := s.cookie(c, sessionCookieName); old != "" {
			if err := s.auth.SignOut(ctx, old); err != nil {
				s.log.WarnContext(ctx, "end the previous session at sign-in", "err", err, "request_id", requestID(c))
			}
		}
		s.setCookie(c, sessionCookieName, cookie, 0)
		s.setCookie(c, signInCookieName, "", -1)
		target := localAdminPath(page.Next)
		if target == "" {
			target = homeOf(p)
		}
		c.Redirect(http.StatusSeeOther, target)
	}
}

// logout ends the session (adminGate has checked its CSRF token) and
// sends the browser to the sign-in page; the cookie, even if kept, is
// refused from now on.
func logout(s *sessions, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.auth.SignOut(c.Request.Context(), s.cookie(c, sessionCookieName)); err != nil {
			rend.internalError(c, err)
			return
		}
		s.setCookie(c, sessionCookieName, "", -1)
		c.Redirect(http.StatusSeeOther, "/admin/login")
	}
}
