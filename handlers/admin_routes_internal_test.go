package handlers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/templates"
)

// TestAdminRoutesHaveRights walks the real router: every route under
// /admin must have an entry in adminRights, naming a right of the
// domain's table (or saying plainly that it is public or open to every
// signed-in user), and every entry must still be a route.
func TestAdminRoutesHaveRights(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	h, err := NewServer(Deps{Config: cfg})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	rights := adminRights()
	seen := map[string]bool{}
	for _, r := range h.(*gin.Engine).Routes() {
		if r.Path != "/admin" && !strings.HasPrefix(r.Path, "/admin/") {
			continue
		}
		route := r.Method + " " + r.Path
		seen[route] = true
		rule, ok := rights[route]
		switch {
		case !ok:
			t.Errorf("route %s has no entry in adminRights: add one (it is refused until then)", route)
		case rule.public && (rule.anyRole || rule.right != ""):
			t.Errorf("route %s is public and also asks for a role or a right", route)
		case !rule.public && !rule.anyRole && !slices.Contains(models.Rights(), rule.right):
			t.Errorf("route %s asks for right %q, which the rights table does not know", route, rule.right)
		}
	}
	if len(seen) == 0 {
		t.Fatal("no /admin routes found")
	}
	for route := range rights {
		if !seen[route] {
			t.Errorf("adminRights has %s, which is no route", route)
		}
	}
}

// TestAdminGateFailsClosed: a route the table does not know is refused,
// before anyone's session is even looked at.
func TestAdminGateFailsClosed(t *testing.T) {
	rend, err := newRenderer(templates.FS, site{Company: "Acme"}, nil, "error", "admin_error")
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Group("/admin", adminGate(adminRights(), &sessions{log: slog.New(slog.DiscardHandler)}, rend)).
		GET("/new-page", func(c *gin.Context) { c.String(http.StatusOK, "secret") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/admin/new-page", nil))
	if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "secret") {
		t.Errorf("GET of a route without a rights entry: %d %s, want 403", w.Code, w.Body)
	}
}
