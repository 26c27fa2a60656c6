package handlers

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// apiError answers with the contract's short JSON error, {"error": code}.
func apiError(c *gin.Context, status int, code string) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, gin.H{"error": code})
}

// apiValidation answers 422 with a readable message per bad parameter or
// body field.
func apiValidation(c *gin.Context, fields map[string]string) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(http.StatusUnprocessableEntity, gin.H{"error": "validation", "fields": fields})
}

// apiInternal logs the cause for operators, under the request id and the
// route pattern (never the path or query, which carry ids and search
// terms), and answers clients only with a reference.
func apiInternal(c *gin.Context, log *slog.Logger, err error) {
	log.ErrorContext(c.Request.Context(), "internal error", "err", err,
		"request_id", requestID(c), "method", c.Request.Method, "route", c.FullPath())
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{
		"error":      "internal",
		"message":    "Something went wrong on our side. Please try again in a minute.",
		"request_id": requestID(c),
	})
}

// apiTime writes a time as the API does everywhere: RFC 3339 in UTC, to
// the second.
func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// apiTimeOrNull is apiTime, or JSON null for the zero time or nil.
func apiTimeOrNull(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := apiTime(*t)
	return &s
}
