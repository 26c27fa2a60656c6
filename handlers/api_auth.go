package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
)

// principalKey is where apiAuth leaves the request's access.Principal.
const principalKey = "principal"

// principalOf returns who the request comes from, as apiAuth found it.
func principalOf(c *gin.Context) access.Principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(access.Principal)
	return pr
}

// bearerChecker turns a bearer token into a principal
// (access.Authenticator does).
type bearerChecker interface {
	Bearer(ctx context.Context, token string) (access.Principal, error)
}

// apiAuth admits a request to the API only with a bearer token whose role
// has the right that rights names for the route. It fails closed: a route
// missing from rights is refused whoever asks (and logged, since it is a
// bug), a missing or unknown token gets 401, a token without the right
// 403. Every answer of the API, refusals included, is marked no-store:
// they hold personal data, or say who may read it.
func apiAuth(auth bearerChecker, rights map[apiRoute]models.Right, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		route := apiRoute{c.Request.Method, c.FullPath()}
		right, ok := rights[route]
		if !ok {
			apiInternal(c, log, fmt.Errorf("API route %s has no entry in the rights table", route))
			return
		}
		token, ok := bearerToken(c.Request.Header)
		if !ok {
			apiUnauthorized(c)
			return
		}
		p, err := auth.Bearer(c.Request.Context(), token)
		if errors.Is(err, access.ErrUnauthorized) {
			apiUnauthorized(c)
			return
		}
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		if !p.Can(right) {
			apiError(c, http.StatusForbidden, "forbidden")
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN"
// header (RFC 6750 §2.1; the scheme is case-insensitive). More than one
// Authorization header is refused rather than guessed at: a proxy and the
// server could each pick a different one.
func bearerToken(h http.Header) (string, bool) {
	vs := h.Values("Authorization")
	if len(vs) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(vs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// apiUnauthorized is the 401 of the contract, with the challenge that
// tells a client which scheme to use.
func apiUnauthorized(c *gin.Context) {
	c.Header("WWW-Authenticate", "Bearer")
	apiError(c, http.StatusUnauthorized, "unauthorized")
}

// apiRecovery answers a panic in an API handler with the API's JSON 500
// rather than the site's error page, and logs the cause.
func apiRecovery(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		apiInternal(c, log, fmt.Errorf("panic: %v", err))
	})
}
