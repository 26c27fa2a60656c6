package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// tokenLen is the length of opt-out and confirmation tokens: a 6-byte time
// prefix and 20 random bytes in unpadded lower-case base32 (see
// models.NewKey).
const tokenLen = 42

// validToken rejects anything that cannot be a token before the database
// is asked, so every kind of bad token is answered the same way.
func validToken(t string) bool {
	if len(t) != tokenLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !(c >= 'a' && c <= 'z') && !(c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// lookupLead finds the lead a token belongs to, answering 404 (or an
// internal error) itself when there is none; ok reports whether to go on.
func lookupLead(c *gin.Context, rend *renderer, find func(token string) (models.Lead, error)) (models.Lead, bool) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Robots-Tag", "noindex")
	token := c.Param("token")
	if !validToken(token) {
		tokenNotFound(c, rend)
		return models.Lead{}, false
	}
	lead, err := find(token)
	if errors.Is(err, models.ErrNotFound) {
		tokenNotFound(c, rend)
		return models.Lead{}, false
	}
	if err != nil {
		rend.internalError(c, err)
		return models.Lead{}, false
	}
	return lead, true
}

func tokenNotFound(c *gin.Context, rend *renderer) {
	rend.errorPage(c, http.StatusNotFound, "Link not recognised",
		"This link is incomplete or not one of ours. Please open it again from the email, or copy the whole address into your browser.")
}

// maskEmail shows enough of an address for its owner to recognise it and
// little enough that a forwarded link does not reveal it: a***@example.com.
func maskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 {
		return "***"
	}
	first := []rune(addr[:at])[0]
	return string(first) + "***" + addr[at:]
}
