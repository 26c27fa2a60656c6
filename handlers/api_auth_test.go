package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/handlers"
	"github.com/leadbox/leadbox/models"
)

// apiRoutes lists the routes under /api/ that the real router has, as
// "METHOD pattern".
func apiRoutes(t *testing.T, app *testApp) []gin.RouteInfo {
	t.Helper()
	eng, ok := app.handler.(*gin.Engine)
	if !ok {
		t.Fatalf("NewServer returned a %T, not the *gin.Engine these tests walk", app.handler)
	}
	var out []gin.RouteInfo
	for _, r := range eng.Routes() {
		if strings.HasPrefix(r.Path, "/api/") {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		t.Fatal("the router has no route under /api/")
	}
	return out
}

// TestAPIRoutesHaveRights: every route registered under /api/ has an entry
// in the rights table, naming a right the domain knows, and the table
// names no route that does not exist. A new route without an entry fails
// here (and apiAuth refuses it with a 500).
func TestAPIRoutesHaveRights(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	table := handlers.APIRights()
	registered := map[string]bool{}
	for _, r := range apiRoutes(t, app) {
		key := r.Method + " " + r.Path
		registered[key] = true
		right, ok := table[key]
		if !ok {
			t.Errorf("route %s has no entry in the API's rights table (handlers/api_routes.go, apiRights)", key)
			continue
		}
		if !slices.Contains(models.Rights(), right) {
			t.Errorf("route %s needs right %q, which models.Rights does not list", key, right)
		}
	}
	for key := range table {
		if !registered[key] {
			t.Errorf("the rights table names %s, which is not a route", key)
		}
	}
}

// TestAPIEveryRouteRefusesWithoutToken walks the router: whatever route is
// added under /api/, it answers 401 to a request without a token.
func TestAPIEveryRouteRefusesWithoutToken(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	for _, r := range apiRoutes(t, app) {
		path := strings.ReplaceAll(r.Path, ":id", "x")
		res := app.api(t, r.Method, path, "", []byte(`{"status":"won"}`))
		checkJSON(t, res, http.StatusUnauthorized, `{"error":"unauthorized"}`)
		if got := res.header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("%s %s: WWW-Authenticate = %q, want Bearer", r.Method, path, got)
		}
	}
}

// TestAPIUnauthorized: a missing, malformed, unknown or revoked token gets
// the contract's 401, the same for each.
func TestAPIUnauthorized(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	good := app.apiToken(t, "crm", models.RoleAdmin)
	revoked := app.apiToken(t, "old-crm", models.RoleAdmin)
	if err := app.store.RevokeToken(context.Background(), "old-crm", models.Origin{Actor: models.CLIActor}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"no header", nil},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}},
		{"other scheme", http.Header{"Authorization": {"Basic " + good}}},
		{"no scheme", http.Header{"Authorization": {good}}},
		{"unknown token", http.Header{"Authorization": {"Bearer lbx_" + strings.Repeat("a", 52)}}},
		{"revoked token", http.Header{"Authorization": {"Bearer " + revoked}}},
		{"token with a tail", http.Header{"Authorization": {"Bearer " + good + " extra"}}},
		{"two headers", http.Header{"Authorization": {"Bearer " + good, "Bearer " + good}}},
		{"env token not set", http.Header{"Authorization": {"Bearer " + strings.Repeat("e", 40)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := app.do(t, http.MethodGet, "/api/v1/leads", "", nil, tc.header)
			checkJSON(t, res, http.StatusUnauthorized, `{"error":"unauthorized"}`)
			if got := res.header.Get("WWW-Authenticate"); got != "Bearer" {
				t.Errorf("WWW-Authenticate = %q, want Bearer", got)
			}
		})
	}
	// The scheme is case-insensitive (RFC 7235).
	res := app.do(t, http.MethodGet, "/api/v1/leads", "", nil, http.Header{"Authorization": {"bearer " + good}})
	if res.status != http.StatusOK {
		t.Errorf("lower-case scheme: got %v, want 200", res)
	}
}

// TestAPIEnvToken: LEADBOX_ADMIN_TOKEN is an admin token named env.
func TestAPIEnvToken(t *testing.T) {
	t.Parallel()
	env := strings.Repeat("k", 40)
	app := newTestServer(t, withSetting("LEADBOX_ADMIN_TOKEN", env))
	res := app.api(t, http.MethodGet, "/api/v1/audit", env, nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET /api/v1/audit with the env token: got %v, want 200", res)
	}
	es := app.auditSince(t, 0)
	if last := es[len(es)-1]; last.Actor != models.EnvTokenName || last.Action != "audit.read" {
		t.Errorf("last audit entry = %+v, want audit.read by env", last)
	}
}

// TestAPIRights checks the contract's rights table through the API: list,
// read, change and leads.csv for admin and sales; marketing.csv for all
// three; the audit log for admin only. A refusal changes nothing and
// reads nothing.
func TestAPIRights(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	id := app.newLead(t, nil)
	tokens := map[models.Role]string{}
	for _, role := range models.Roles() {
		tokens[role] = app.apiToken(t, "tok-"+string(role), role)
	}
	routes := []struct {
		method, path string
		allowed      []models.Role
	}{
		{http.MethodGet, "/api/v1/leads", []models.Role{models.RoleAdmin, models.RoleSales}},
		{http.MethodGet, "/api/v1/leads/" + id, []models.Role{models.RoleAdmin, models.RoleSales}},
		{http.MethodPatch, "/api/v1/leads/" + id, []models.Role{models.RoleAdmin, models.RoleSales}},
		{http.MethodGet, "/api/v1/leads.csv", []models.Role{models.RoleAdmin, models.RoleSales}},
		{http.MethodGet, "/api/v1/marketing.csv", []models.Role{models.RoleAdmin, models.RoleSales, models.RoleMarketing}},
		{http.MethodGet, "/api/v1/audit", []models.Role{models.RoleAdmin}},
		{http.MethodPost, "/api/v1/subjects/access", []models.Role{models.RoleAdmin}},
		{http.MethodPost, "/api/v1/subjects/erase", []models.Role{models.RoleAdmin}},
		{http.MethodPost, "/api/v1/suppressions", []models.Role{models.RoleAdmin}},
	}
	if got, want := len(routes), len(handlers.APIRights()); got != want {
		t.Fatalf("this test checks %d routes, the API has %d: add the new ones", got, want)
	}
	for _, rt := range routes {
		for _, role := range models.Roles() {
			var body []byte
			switch rt.method {
			case http.MethodPatch:
				body = []byte(`{"note":"by ` + string(role) + `"}`)
			case http.MethodPost:
				body = []byte(`{"email":"someone.else@example.com"}`)
			}
			before := app.auditCount(t)
			res := app.api(t, rt.method, rt.path, tokens[role], body)
			if slices.Contains(rt.allowed, role) {
				if res.status != http.StatusOK && (rt.method != http.MethodPost || res.status != http.StatusCreated) {
					t.Errorf("%s %s as %s: got %v, want 200 (or 201 for a new suppression)", rt.method, rt.path, role, res)
				}
				continue
			}
			checkJSON(t, res, http.StatusForbidden, `{"error":"forbidden"}`)
			if n := app.auditCount(t); n != before {
				t.Errorf("%s %s as %s: refused, yet the audit log grew from %d to %d entries", rt.method, rt.path, role, before, n)
			}
		}
	}
	// The marketing role's PATCH left no note.
	res := app.api(t, http.MethodGet, "/api/v1/leads/"+id, tokens[models.RoleAdmin], nil)
	var d struct {
		History []struct{ Note string } `json:"history"`
	}
	if err := json.Unmarshal([]byte(res.body), &d); err != nil {
		t.Fatalf("decode lead: %v", err)
	}
	for _, h := range d.History {
		if h.Note == "by marketing" {
			t.Errorf("history has the note of a refused PATCH: %+v", d.History)
		}
	}
}

// TestAPIUnknownRoutes: the router's 404 and 405 under /api/ are the API's
// JSON, not the site's pages.
func TestAPIUnknownRoutes(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	token := app.apiToken(t, "crm", models.RoleAdmin)
	checkJSON(t, app.api(t, http.MethodGet, "/api/v1/nothing", token, nil), http.StatusNotFound, `{"error":"not_found"}`)
	checkJSON(t, app.api(t, http.MethodDelete, "/api/v1/leads", token, nil), http.StatusMethodNotAllowed, `{"error":"method_not_allowed"}`)
}
