package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/internal/testlog"
)

// startServe runs `leadbox serve` on a free loopback port and returns its
// base URL and a channel with run's result.
func startServe(t *testing.T, ctx context.Context, env map[string]string) (string, <-chan error, *testlog.Buffer) {
	t.Helper()
	dir := t.TempDir()
	full := map[string]string{
		"LEADBOX_LISTEN":   "127.0.0.1:0",
		"LEADBOX_DATABASE": filepath.Join(dir, "leadbox.db"),
		"LEADBOX_MAIL_DIR": filepath.Join(dir, "mail"),
	}
	for k, v := range env {
		full[k] = v
	}
	logs := &testlog.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return full[k] }, nil, io.Discard, logs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "leadbox listening" {
				return "http://" + line.Addr, done, logs
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped before listening: %v\nlogs:\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start within 10s; logs:\n%s", logs)
	return "", nil, nil
}

func TestServeShutsDownGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done, logs := startServe(t, ctx, nil)

	// A raw connection, so the request is provably half-sent (headers and
	// part of the body) when SIGTERM arrives.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	form := url.Values{"name": {"Jane Doe"}, "email": {"jane@example.com"}, "message": {"Hello"}}.Encode()
	head := "POST /contact HTTP/1.1\r\nHost: leadbox\r\nAccept: application/json\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(form)) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head+form[:10]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the handler is now waiting for the rest of the body
	cancel()
	time.Sleep(100 * time.Millisecond)
	if _, err := io.WriteString(conn, form[10:]); err != nil {
		t.Fatalf("finishing the in-flight request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the in-flight response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("in-flight request during shutdown: status %d, want 201", resp.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v, want nil (exit code 0)", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("logs lack the stopped line:\n%s", logs)
	}
	if strings.Contains(logs.String(), "jane@example.com") || strings.Contains(logs.String(), "Jane Doe") {
		t.Errorf("logs contain personal data:\n%s", logs)
	}
}

// TestStartUpErrorsNameTheSetting: a database or mail folder that cannot
// be opened stops the server with an error naming the setting to fix, and
// a database URL's password is not repeated.
func TestStartUpErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, setting, value string
		// check-config opens neither the database nor the folder; it
		// catches only what the settings themselves show.
		checkConfigToo bool
	}{
		{"database in a missing folder", "LEADBOX_DATABASE", filepath.Join(dir, "missing", "leads.db"), false},
		{"database URL", "LEADBOX_DATABASE", "postgres://leadbox:s3cretpw@db.internal:5432/leadbox", true},
		{"mail folder under a file", "LEADBOX_MAIL_DIR", filepath.Join(file, "mail"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"LEADBOX_DATABASE": filepath.Join(t.TempDir(), "leads.db"), "LEADBOX_LISTEN": "127.0.0.1:0"}
			env[tt.setting] = tt.value
			for _, cmd := range []string{"serve", "check-config", "outbox"} {
				err := run(context.Background(), []string{cmd}, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
				if cmd == "check-config" && !tt.checkConfigToo || cmd == "outbox" && tt.setting != "LEADBOX_DATABASE" {
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tt.setting) {
					t.Errorf("%s: error %v, want one naming %s", cmd, err, tt.setting)
				}
				if err != nil && strings.Contains(err.Error(), "s3cretpw") {
					t.Errorf("%s: error %q repeats the password", cmd, err)
				}
			}
		})
	}
}

// TestCommandsNeedAnExistingDatabase: a sub-command pointed at a database
// that is not there (LEADBOX_DATABASE unset, a typo) must not create an
// empty one and report an opt-out recorded in it.
func TestCommandsNeedAnExistingDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "typo.db")
	env := map[string]string{"LEADBOX_DATABASE": db}
	for _, args := range [][]string{{"optout", "jane@example.com"}, {"consent", "jane@example.com"}, {"outbox"}, {"spam"},
		{"user", "list"}, {"user", "remove", "jane@example.com"}, {"token", "list"}, {"token", "revoke", "crm"},
		{"token", "create", "--role", "admin", "--name", "crm"}, {"audit", "verify"}} {
		var out strings.Builder
		err := run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "LEADBOX_DATABASE: no database at") {
			t.Errorf("leadbox %s: error %v (output %q), want one saying there is no database", strings.Join(args, " "), err, out.String())
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("a sub-command created %s (stat: %v)", db, err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	env := map[string]string{"LEADBOX_SMTP_PORT": "seventy", "LEADBOX_RATE_LIMIT": "-1"}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run with bad settings returned nil, want an error")
	}
	for _, name := range []string{"LEADBOX_SMTP_PORT", "LEADBOX_RATE_LIMIT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// TestCheckConfig: the operator sees every setting in effect, secrets
// redacted, and bad settings named, without a server starting.
func TestCheckConfig(t *testing.T) {
	env := map[string]string{
		"LEADBOX_SMTP_HOST": "smtp.example.com", "LEADBOX_SMTP_USERNAME": "leads", "LEADBOX_SMTP_PASSWORD": "hunter2",
		"LEADBOX_SALES_TO": "sales@example.com", "LEADBOX_DATABASE": filepath.Join(t.TempDir(), "not-created.db"),
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"check-config"}, func(k string) string { return env[k] }, nil, &out, io.Discard); err != nil {
		t.Fatalf("check-config: %v", err)
	}
	for _, want := range []string{"LEADBOX_SMTP_HOST=smtp.example.com", "LEADBOX_SMTP_PASSWORD=[redacted]", "LEADBOX_SMTP_CONNECTIONS=3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("check-config printed the SMTP password:\n%s", out.String())
	}
	if _, err := os.Stat(env["LEADBOX_DATABASE"]); !os.IsNotExist(err) {
		t.Errorf("check-config touched the database (stat: %v)", err)
	}

	env["LEADBOX_SMTP_CONNECTIONS"] = "0"
	err := run(context.Background(), []string{"check-config"}, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "LEADBOX_SMTP_CONNECTIONS") {
		t.Errorf("check-config with a bad setting = %v, want an error naming LEADBOX_SMTP_CONNECTIONS", err)
	}
}

// TestBaseURLFollowsListen: a server started on another port than the
// default, without LEADBOX_BASE_URL, puts its own port in the links and
// says where the base URL came from; a base URL on this machine that
// names another port is warned about. check-config shows the same.
func TestBaseURLFollowsListen(t *testing.T) {
	checkConfig := func(env map[string]string) string {
		t.Helper()
		var out strings.Builder
		if err := run(context.Background(), []string{"check-config"}, func(k string) string { return env[k] }, nil, &out, io.Discard); err != nil {
			t.Fatalf("check-config with %v: %v", env, err)
		}
		return out.String()
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"derived", map[string]string{"LEADBOX_LISTEN": "127.0.0.1:18100"}, []string{
			"LEADBOX_BASE_URL=http://localhost:18100\n",
			"# note: base URL derived from LEADBOX_LISTEN: links in emails start with http://localhost:18100; " +
				"a public server must set LEADBOX_BASE_URL to its public URL",
		}},
		{"any free port", map[string]string{"LEADBOX_LISTEN": "127.0.0.1:0"}, []string{
			"# note: base URL derived from LEADBOX_LISTEN: links in emails will start with http://localhost and the port chosen at start-up",
		}},
		{"old default after changing the port", map[string]string{"LEADBOX_LISTEN": "127.0.0.1:18100", "LEADBOX_BASE_URL": "http://localhost:8080"}, []string{
			"LEADBOX_BASE_URL=http://localhost:8080\n",
			"# warning: LEADBOX_BASE_URL http://localhost:8080 points at port 8080 of this machine, but LEADBOX_LISTEN 127.0.0.1:18100 listens on port 18100",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := checkConfig(tt.env)
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("check-config output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	if out := checkConfig(map[string]string{"LEADBOX_LISTEN": ":8080", "LEADBOX_BASE_URL": "https://leads.example.com"}); strings.Contains(out, "# ") {
		t.Errorf("check-config with a public base URL prints a note or warning:\n%s", out)
	}

	t.Run("serve, derived", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		base, done, logs := startServe(t, ctx, map[string]string{"LEADBOX_LISTEN": "127.0.0.1:0"})
		cancel()
		<-done
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
		want := "http://localhost:" + port
		note := logLine(t, logs.String(), "setting", "LEADBOX_BASE_URL")
		if note["level"] != "INFO" || !strings.Contains(note["msg"], "derived from LEADBOX_LISTEN: links in emails start with "+want+";") {
			t.Errorf("start-up note = %v, want an INFO line saying the links start with %s", note, want)
		}
		if got := logLine(t, logs.String(), "msg", "leadbox listening")["base_url"]; got != want {
			t.Errorf("listening with base_url %q, want %q (the port bound)", got, want)
		}
	})
	t.Run("serve, another port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port, given back for the server
		if err != nil {
			t.Fatal(err)
		}
		listen := ln.Addr().String()
		ln.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, done, logs := startServe(t, ctx, map[string]string{"LEADBOX_LISTEN": listen, "LEADBOX_BASE_URL": "http://localhost:1"})
		cancel()
		<-done
		warn := logLine(t, logs.String(), "setting", "LEADBOX_BASE_URL")
		if warn["level"] != "WARN" || !strings.Contains(warn["msg"], "links in emails will not reach this server") {
			t.Errorf("start-up line about the base URL = %v, want a warning", warn)
		}
	})
}

// logLine returns the first JSON log line whose key has the value want,
// as strings, failing the test when there is none.
func logLine(t *testing.T, logs, key, want string) map[string]string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line[key] != want {
			continue
		}
		out := map[string]string{}
		for k, v := range line {
			out[k] = fmt.Sprint(v)
		}
		return out
	}
	t.Fatalf("no log line with %s=%q:\n%s", key, want, logs)
	return nil
}

func TestUnknownCommand(t *testing.T) {
	var stderr strings.Builder
	err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, nil, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("run(frobnicate) = %v, want an unknown-command error", err)
	}
	if !strings.Contains(stderr.String(), "Usage") {
		t.Errorf("stderr = %q, want the usage text", stderr.String())
	}
}

// TestOneServerPerDatabase: a second `leadbox serve` on the same database
// would double what duplicate detection and the confirmation limit let
// through (both live in the server's memory), so it refuses to start.
// Sub-commands still run beside the server, and the lock goes with it.
func TestOneServerPerDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leadbox.db")
	env := map[string]string{"LEADBOX_DATABASE": db, "LEADBOX_LISTEN": "127.0.0.1:0"}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	_, done, _ := startServe(t, ctx, env)

	// The same file under other names: a file: URI, a symlink.
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(db, link); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{db, "file:" + db, "file://" + db, link} {
		second := map[string]string{"LEADBOX_DATABASE": name, "LEADBOX_LISTEN": "127.0.0.1:0"}
		ctx, stop := context.WithTimeout(context.Background(), 5*time.Second) // a server that did start stops
		err := run(ctx, []string{"serve"}, func(k string) string { return second[k] }, nil, io.Discard, io.Discard)
		stop()
		if err == nil || !strings.Contains(err.Error(), "another `leadbox serve` is using") {
			t.Errorf("a second serve on the same database as %q: %v, want a refusal", name, err)
		}
	}
	if err := run(context.Background(), []string{"outbox"}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Errorf("leadbox outbox beside the server: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("first serve: %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	_, done2, _ := startServe(t, ctx2, env) // fails the test if it cannot start
	cancel2()
	if err := <-done2; err != nil {
		t.Errorf("serve after the first stopped: %v", err)
	}
}

// TestLockIsReleased: the lock goes with release, not with the garbage
// collector.
func TestLockIsReleased(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leadbox.db")
	release, err := lockDatabase(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockDatabase(db); err == nil {
		t.Fatal("locked twice")
	}
	release()
	again, err := lockDatabase(db)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}
