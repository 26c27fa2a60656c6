package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSpamIsCountedNotKept: bot posts get a success answer, leave no lead,
// and show up in `leadbox spam` by reason once the server has flushed its
// tallies (at the latest on shutdown).
func TestSpamIsCountedNotKept(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := map[string]string{"LEADBOX_RATE_LIMIT": "0", "LEADBOX_DATABASE": filepath.Join(t.TempDir(), "leadbox.db")}
	base, done, _ := startServe(t, ctx, env)

	post := func(v url.Values) {
		t.Helper()
		resp, err := http.PostForm(base+"/contact", v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK { // the thank-you page after the 303
			t.Fatalf("spam post answered %d, want the thank-you page", resp.StatusCode)
		}
	}
	lead := url.Values{"name": {"Bot"}, "email": {"bot@example.com"}, "message": {"Buy now"}}
	for range 2 {
		v := url.Values{"_gotcha": {"http://spam.example"}}
		for k, vs := range lead {
			v[k] = vs
		}
		post(v)
	}
	forged := url.Values{"_ts": {"v1.0.forged"}}
	for k, vs := range lead {
		forged[k] = vs
	}
	post(forged)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}

	var out bytes.Buffer
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"spam"}, getenv, nil, &out, &out); err != nil {
		t.Fatalf("leadbox spam: %v\n%s", err, out.String())
	}
	for _, want := range []string{"honeypot   2", "time_trap  1"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(want), " ")+" ") {
			t.Errorf("leadbox spam output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(context.Background(), []string{"consent", "bot@example.com"}, getenv, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "No consent events recorded") {
		t.Errorf("spam left consent records:\n%s", out.String())
	}
}
