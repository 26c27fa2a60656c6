package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

const requestIDKey = "request_id"

// requestID returns the id the requestIDs middleware gave this request.
func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// requestIDs tags each request with a short random id, returned in
// X-Request-Id and written in every log line about it, so a user's
// "reference abc123" leads an operator to the cause.
func requestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := models.NewToken(8)
		c.Set(requestIDKey, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// accessLog writes one structured line per request. It logs the route
// pattern, never the path: paths carry opt-out and confirm tokens.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "(no route)"
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", c.Writer.Status()),
			slog.Duration("duration", time.Since(start)),
		)
	}
}

// recovery turns a panic into the generic error answer and a log line with
// the request id; the stack never reaches the client.
func recovery(r *renderer) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		r.internalError(c, fmt.Errorf("panic: %v", err))
	})
}

// limitBody caps what a handler can read; reading past it fails with
// *http.MaxBytesError, which the handler answers with 413.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// isTooLarge reports whether err came from the body limit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// wantsJSON decides the answer's format: JSON when the body is JSON or the
// client asks for JSON, the HTML page otherwise.
func wantsJSON(r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/json" {
		return true
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return true
		}
	}
	return false
}
