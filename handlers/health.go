package handlers

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz answers 200 while the process runs (liveness).
func healthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.String(http.StatusOK, "ok\n")
	}
}

// pinger is what readiness needs from the database.
type pinger interface {
	Ping(ctx context.Context) error
}

// readyz answers 200 when the database answers, 503 otherwise, so a load
// balancer stops sending forms to an instance that cannot store them. The
// log says why once when readiness is lost, and once when it is back, not
// at every probe.
func readyz(db pinger, log *slog.Logger) gin.HandlerFunc {
	var down atomic.Bool
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			if down.CompareAndSwap(false, true) {
				log.ErrorContext(ctx, "not ready", "err", err)
			}
			c.String(http.StatusServiceUnavailable, "database unavailable\n")
			return
		}
		if down.CompareAndSwap(true, false) {
			log.InfoContext(ctx, "ready again")
		}
		c.String(http.StatusOK, "ready\n")
	}
}

// serveAssets serves the embedded stylesheet.
func serveAssets(assets fs.FS) gin.HandlerFunc {
	files := http.FileServer(http.FS(assets))
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=86400")
		c.Request.URL.Path = c.Param("file")
		files.ServeHTTP(c.Writer, c.Request)
	}
}
