package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
)

// apiToken creates an API token with role, as `leadbox token create`
// does, and returns the token to send.
func (a *testApp) apiToken(t *testing.T, name string, role models.Role) string {
	t.Helper()
	token := access.NewToken()
	now := time.Now().UTC()
	rec := models.APIToken{Name: name, Role: role, Hash: access.HashSecret(token), CreatedAt: now}
	if err := a.store.CreateToken(context.Background(), &rec, models.Origin{Actor: models.CLIActor, At: now}); err != nil {
		t.Fatalf("CreateToken(%s): %v", name, err)
	}
	return token
}

// api sends an API request with token as its bearer token ("" for none)
// and a JSON body (nil for none).
func (a *testApp) api(t *testing.T, method, path, token string, body []byte) response {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return a.do(t, method, path, ct, body, h)
}

// newLead posts a valid JSON submission with the given fields changed and
// returns the lead's public id.
func (a *testApp) newLead(t *testing.T, set map[string]any) string {
	t.Helper()
	res := a.post(t, jsonBody, with(validFields(), set), nil)
	if res.status != http.StatusCreated {
		t.Fatalf("POST /contact: got %v, want 201", res)
	}
	var out struct {
		ID string `json:"id"`
	}
	decodeJSON(t, res, &out)
	return out.ID
}

// auditSince returns the audit entries after the first n, oldest first.
func (a *testApp) auditSince(t *testing.T, n int64) []models.AuditEntry {
	t.Helper()
	es, err := a.store.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	var out []models.AuditEntry
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].ID > n {
			out = append(out, es[i])
		}
	}
	return out
}

// auditCount is how many entries the audit log holds.
func (a *testApp) auditCount(t *testing.T) int64 {
	t.Helper()
	es, err := a.store.AuditLog(context.Background(), 0, 1)
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	if len(es) == 0 {
		return 0
	}
	return es[0].ID
}

// auditLine is what a test compares of an audit entry.
type auditLine struct{ Actor, Action, Target, IP string }

func auditLines(es []models.AuditEntry) []auditLine {
	out := make([]auditLine, len(es))
	for i, e := range es {
		out[i] = auditLine{e.Actor, e.Action, e.Target, e.IP}
	}
	return out
}

// compactJSON writes want, a JSON text written for people, as the server
// writes JSON, so that answers can be compared byte for byte.
func compactJSON(t *testing.T, want string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(want)); err != nil {
		t.Fatalf("the test's JSON does not parse: %v\n%s", err, want)
	}
	return b.String()
}

// checkJSON fails unless the answer is status with exactly the JSON want
// (written for people; compared compacted, keys in the order given).
func checkJSON(t *testing.T, r response, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %v, want %d", r, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want application/json; charset=utf-8", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if w := compactJSON(t, want); r.body != w {
		t.Errorf("body\n got %s\nwant %s", r.body, w)
	}
}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(at string) *testClock {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err)
	}
	return &testClock{t: t}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
