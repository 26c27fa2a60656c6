package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheckDB: `leadbox check-db` says ok for a sound file and names the
// damage of a broken one with exit 1, and never changes the file.
func TestCheckDB(t *testing.T) {
	ctx := context.Background()
	db, _ := seededDatabase(t, 1)
	check := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"check-db"}, args...), databaseEnv(db), nil, &out, &out)
		return out.String(), err
	}
	for _, args := range [][]string{nil, {"--full"}} {
		if out, err := check(args...); err != nil || !strings.HasPrefix(out, "database ok") {
			t.Errorf("check-db %v on a sound file: %q, %v", args, out, err)
		}
	}

	damageIndex(t, db, "idx_leads_public_id")
	before, _ := os.ReadFile(db)
	out, err := check("--full")
	if err == nil || exitStatus(err, &bytes.Buffer{}) != 1 || !strings.HasPrefix(out, "database damaged") || !strings.Contains(out, "A damaged database") {
		t.Errorf("check-db on a damaged file: %q, %v; want the damage named, the way out, exit 1", out, err)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Error("check-db changed the damaged file")
	}
	var u usageError
	if _, err := check("extra"); !errors.As(err, &u) {
		t.Errorf("check-db extra: %v, want a usage error", err)
	}
}

// TestServeChecksIntegrityAtStart: serve checks the file beside serving
// and says in its log what it found.
func TestServeChecksIntegrityAtStart(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage bool
		want   string
	}{
		{"sound", false, "integrity check at start: ok"},
		// An index the start-up itself does not read.
		{"damaged", true, "the database is damaged"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := seededDatabase(t, 1)
			if tt.damage {
				damageIndex(t, db, "idx_leads_opt_out_token")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, done, logs := startServe(t, ctx, map[string]string{"LEADBOX_DATABASE": db})
			defer func() {
				if t.Failed() {
					t.Logf("server log:\n%s", logs)
				}
			}()
			waitUntil(t, "the check at start is logged", 10*time.Second, func() bool {
				return strings.Contains(logs.String(), tt.want)
			})
			cancel()
			<-done
		})
	}
}

// TestDamageMetByARequestFailsReadiness: an opt-out whose index page is
// damaged fails, and from then on /readyz answers 503, with one log line
// that says what to run, so the instance leaves the load balancer instead
// of failing some people's opt-outs unnoticed.
func TestDamageMetByARequestFailsReadiness(t *testing.T) {
	db, subs := seededDatabase(t, 1)
	damageIndex(t, db, "idx_leads_opt_out_token")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done, logs := startServe(t, ctx, map[string]string{"LEADBOX_DATABASE": db})
	get := func(path string) int {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get("/readyz"); got != http.StatusOK {
		t.Fatalf("readyz before any request met the damage: %d", got)
	}
	if got := get("/optout/" + subs[0].Lead.OptOutToken); got == http.StatusOK {
		t.Fatalf("an opt-out page on a damaged index answered 200")
	}
	checkDamagedNotReady(t, func() int { return get("/readyz") }, logs)
	cancel()
	<-done
}
