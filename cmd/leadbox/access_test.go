package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // tamper opens the file with the plain driver

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

// The user, token and audit commands, driven through run as an operator
// types them: what they print, and the exit status main gives them.

const goodPassword = "correct horse battery"

// cliResult is what a person at a terminal sees of one command.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs leadbox with args, stdin and the settings env, and reports
// its outcome as main does (exitStatus).
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	code := exitStatus(err, &errOut)
	return cliResult{stdout: out.String(), stderr: errOut.String(), code: code}
}

// ok fails the test unless the command succeeded.
func (r cliResult) ok(t *testing.T, what string) cliResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit status %d, want 0\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
	}
	return r
}

// newDatabase makes the database a first `leadbox serve` would, and
// returns settings pointing at it.
func newDatabase(t *testing.T) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leadbox.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"LEADBOX_DATABASE": path}
}

// openStore opens the settings' database beside the commands, as a
// running server would hold it.
func openStore(t *testing.T, env map[string]string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), env["LEADBOX_DATABASE"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// auditLines returns the audit log as "actor action target" lines, oldest
// first.
func auditLines(t *testing.T, s *sqlite.Store) []string {
	t.Helper()
	es, err := s.AuditLog(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, es[i].Actor+" "+es[i].Action+" "+es[i].Target)
	}
	return out
}

func TestUserCommands(t *testing.T) {
	env := newDatabase(t)
	r := runCLI(t, env, goodPassword+"\n", "user", "add", "Ann@Example.com", "--role", "admin").ok(t, "user add ann")
	if r.stdout != "Added user ann@example.com with role admin.\n" || r.stderr != "" {
		t.Errorf("user add printed %q and %q on stderr", r.stdout, r.stderr)
	}
	// A pasted "Name <address>", the flag first, a Windows line ending
	// and no line after it.
	runCLI(t, env, "another fine password\r\n", "user", "add", "--role=sales", "Bob <bob@example.com>").ok(t, "user add bob")

	r = runCLI(t, env, "", "user", "list").ok(t, "user list")
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(rows) != 3 || !regexp.MustCompile(`^EMAIL\s+ROLE\s+CREATED \(UTC\)\s+LAST SIGN-IN \(UTC\)$`).MatchString(rows[0]) ||
		!regexp.MustCompile(`^ann@example\.com\s+admin\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+never$`).MatchString(rows[1]) ||
		!regexp.MustCompile(`^bob@example\.com\s+sales\s+\S+\s+never$`).MatchString(rows[2]) {
		t.Errorf("user list:\n%s", r.stdout)
	}

	s := openStore(t, env)
	for email, pw := range map[string]string{"ann@example.com": goodPassword, "bob@example.com": "another fine password"} {
		u, err := s.UserByEmail(t.Context(), email)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") || !access.CheckPassword(u.PasswordHash, pw) || access.CheckPassword(u.PasswordHash, pw+"\r") {
			t.Errorf("%s: stored hash %q does not check the password as typed, without its line ending", email, u.PasswordHash)
		}
	}
	bob, _ := s.UserByEmail(t.Context(), "bob@example.com")

	r = runCLI(t, env, "", "user", "remove", "BOB@example.com").ok(t, "user remove")
	if !strings.Contains(r.stdout, "Removed user bob@example.com") {
		t.Errorf("user remove printed %q", r.stdout)
	}
	if r := runCLI(t, env, "", "user", "list").ok(t, "user list"); strings.Contains(r.stdout, "bob@") {
		t.Errorf("user list after the removal still shows bob:\n%s", r.stdout)
	}
	ann, _ := s.UserByEmail(t.Context(), "ann@example.com")
	want := []string{"cli user.add " + models.UserTarget(ann.ID), "cli user.add " + models.UserTarget(bob.ID), "cli user.remove " + models.UserTarget(bob.ID)}
	if got := auditLines(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := runCLI(t, env, "", "user", "list"); r.code != 0 || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("user list: %+v", r)
	}
}

// TestUserCommandsBadInput: each mistake is refused with exit status 2
// and one line saying what is wrong, and changes nothing.
func TestUserCommandsBadInput(t *testing.T) {
	env := newDatabase(t)
	runCLI(t, env, goodPassword, "user", "add", "ann@example.com", "--role", "admin").ok(t, "user add")
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"unknown role", goodPassword, []string{"user", "add", "x@example.com", "--role", "root"}, `unknown role "root"`},
		{"role missing", goodPassword, []string{"user", "add", "x@example.com"}, "--role is required"},
		{"role without a value", goodPassword, []string{"user", "add", "x@example.com", "--role"}, "flag needs an argument"},
		{"short password", "elevenchars\n", []string{"user", "add", "x@example.com", "--role", "sales"}, "at least 12 characters"},
		{"short password before a long line", "elevenchars\n" + goodPassword + "\n", []string{"user", "add", "x@example.com", "--role", "sales"}, "at least 12 characters"},
		{"no password", "", []string{"user", "add", "x@example.com", "--role", "sales"}, "no password"},
		{"no email", goodPassword, []string{"user", "add", "--role", "sales"}, "give one EMAIL"},
		{"two emails", goodPassword, []string{"user", "add", "x@example.com", "y@example.com", "--role", "sales"}, "give one EMAIL"},
		{"not an email", goodPassword, []string{"user", "add", "x.example.com", "--role", "sales"}, "not an email address"},
		{"duplicate", goodPassword, []string{"user", "add", "ANN@example.com", "--role", "sales"}, "already a user ann@example.com"},
		{"unknown flag", goodPassword, []string{"user", "add", "x@example.com", "--role", "sales", "--admin"}, "flag provided but not defined: -admin"},
		{"remove unknown", "", []string{"user", "remove", "nobody@example.com"}, "no user nobody@example.com"},
		{"remove without email", "", []string{"user", "remove"}, "give one EMAIL"},
		{"list with arguments", "", []string{"user", "list", "all"}, "takes no arguments"},
		{"no sub-command", "", []string{"user"}, "say add, list or remove"},
		{"unknown sub-command", "", []string{"user", "delete", "ann@example.com"}, `unknown sub-command "delete"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, env, tt.stdin, tt.args...)
			if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "leadbox: user") ||
				strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("leadbox %s: exit %d, stdout %q, stderr %q; want exit 2 and one line saying %q",
					strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, goodPassword) {
				t.Errorf("the error repeats the password: %q", r.stderr)
			}
		})
	}
	s := openStore(t, env)
	if us, err := s.Users(t.Context()); err != nil || len(us) != 1 {
		t.Errorf("after refused commands: %d users (%v), want only ann", len(us), err)
	}
	if n := len(auditLines(t, s)); n != 1 {
		t.Errorf("after refused commands: %d audit entries, want 1", n)
	}
}

// TestBadInputNeedsNoDatabase: what was typed is judged before the
// database is looked for, so a typo is reported as one (exit 2) even on
// a machine without the database.
func TestBadInputNeedsNoDatabase(t *testing.T) {
	env := map[string]string{"LEADBOX_DATABASE": filepath.Join(t.TempDir(), "none.db")}
	for _, args := range [][]string{
		{"user", "add", "x@example.com", "--role", "root"},
		{"token", "create", "--role", "sales"},
		{"audit", "check"},
	} {
		if r := runCLI(t, env, goodPassword, args...); r.code != 2 {
			t.Errorf("leadbox %s: exit %d (%s), want 2", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	r := runCLI(t, env, "", "user", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "no database") {
		t.Errorf("user list without a database: exit %d, %q; want 1 and the missing database named", r.code, r.stderr)
	}
}

// TestUserRemoveEndsSessions: removing a user signs them out of a server
// that is running at the time.
func TestUserRemoveEndsSessions(t *testing.T) {
	env := newDatabase(t)
	runCLI(t, env, goodPassword, "user", "add", "ann@example.com", "--role", "sales").ok(t, "user add")
	server := access.NewAuthenticator(openStore(t, env), "")
	cookie, _, err := server.SignIn(t.Context(), "ann@example.com", goodPassword, "192.0.2.7")
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if _, err := server.Session(t.Context(), cookie); err != nil {
		t.Fatalf("session before the removal: %v", err)
	}
	if r := runCLI(t, env, "", "user", "list").ok(t, "user list"); strings.Contains(r.stdout, "never") {
		t.Errorf("user list after a sign-in shows no last sign-in:\n%s", r.stdout)
	}
	runCLI(t, env, "", "user", "remove", "ann@example.com").ok(t, "user remove")
	if _, err := server.Session(t.Context(), cookie); !errors.Is(err, access.ErrUnauthorized) {
		t.Errorf("the removed user's session: %v, want ErrUnauthorized", err)
	}
}

func TestTokenCommands(t *testing.T) {
	env := newDatabase(t)
	server := access.NewAuthenticator(openStore(t, env), "")

	r := runCLI(t, env, "", "token", "create", "--role", "sales", "--name", "crm").ok(t, "token create")
	if !regexp.MustCompile(`^lbx_[a-z2-7]{52}\n$`).MatchString(r.stdout) || r.stderr != "" {
		t.Fatalf("token create printed %q and %q on stderr; want the token alone on one line", r.stdout, r.stderr)
	}
	token := strings.TrimSpace(r.stdout)
	runCLI(t, env, "", "token", "create", "--name=zapier", "--role=marketing").ok(t, "token create zapier")

	p, err := server.Bearer(t.Context(), token)
	if err != nil || p.Name != "crm" || p.Role != models.RoleSales {
		t.Fatalf("the new token at the running server: %+v, %v", p, err)
	}
	for _, f := range []string{"", "-wal"} {
		b, _ := os.ReadFile(env["LEADBOX_DATABASE"] + f)
		if bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte(strings.TrimPrefix(token, "lbx_"))) {
			t.Errorf("the database file%s holds the token itself; only its hash may be stored", f)
		}
	}

	r = runCLI(t, env, "", "token", "list").ok(t, "token list")
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(rows) != 3 || !regexp.MustCompile(`^NAME\s+ROLE\s+CREATED \(UTC\)\s+LAST USED \(UTC\)$`).MatchString(rows[0]) ||
		!regexp.MustCompile(`^crm\s+sales\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\d{4}-\d\d-\d\dT\S+Z$`).MatchString(rows[1]) ||
		!regexp.MustCompile(`^zapier\s+marketing\s+\S+\s+never$`).MatchString(rows[2]) {
		t.Errorf("token list:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, strings.TrimPrefix(token, "lbx_")) || strings.Contains(r.stdout, access.HashSecret(token)) {
		t.Errorf("token list shows the token or its hash:\n%s", r.stdout)
	}

	r = runCLI(t, env, "", "token", "revoke", "crm").ok(t, "token revoke")
	if !strings.Contains(r.stdout, "Revoked token crm") {
		t.Errorf("token revoke printed %q", r.stdout)
	}
	if _, err := server.Bearer(t.Context(), token); !errors.Is(err, access.ErrUnauthorized) {
		t.Errorf("the revoked token at the running server: %v, want ErrUnauthorized at once", err)
	}
	if r := runCLI(t, env, "", "token", "list").ok(t, "token list"); strings.Contains(r.stdout, "crm") {
		t.Errorf("token list after the revocation:\n%s", r.stdout)
	}
	want := []string{"cli token.create token:crm", "cli token.create token:zapier", "cli token.revoke token:crm"}
	if got := auditLines(t, openStore(t, env)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTokenCommandsBadInput(t *testing.T) {
	env := newDatabase(t)
	runCLI(t, env, "", "token", "create", "--role", "sales", "--name", "crm").ok(t, "token create")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"token", "create", "--role", "sales"}, "--name is required"},
		{[]string{"token", "create", "--name", "x"}, "--role is required"},
		{[]string{"token", "create", "--role", "owner", "--name", "x"}, `unknown role "owner"`},
		{[]string{"token", "create", "--role", "admin", "--name", "env"}, `"env" is reserved`},
		{[]string{"token", "create", "--role", "admin", "--name", "my token"}, "letters, digits"},
		{[]string{"token", "create", "--role", "admin", "--name", "crm"}, `already a token named "crm"`},
		{[]string{"token", "create", "crm", "--role", "admin", "--name", "crm2"}, `unexpected "crm"`},
		{[]string{"token", "revoke", "nope"}, `no token named "nope"`},
		{[]string{"token", "revoke"}, "give one NAME"},
		{[]string{"token", "list", "-v"}, "takes no arguments"},
		{[]string{"token"}, "say create, list or revoke"},
	}
	for _, tt := range tests {
		r := runCLI(t, env, "", tt.args...)
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "leadbox: token") ||
			strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("leadbox %s: exit %d, stdout %q, stderr %q; want exit 2 and one line saying %q",
				strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.want)
		}
	}
	if r := runCLI(t, env, "", "token", "list").ok(t, "token list"); strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("after refused commands, token list:\n%s\nwant crm alone", r.stdout)
	}
}

// TestAuditVerify: the log of the commands verifies; an entry edited in
// the database file, by someone who first dropped the append-only
// trigger, is named, with exit status 1.
func TestAuditVerify(t *testing.T) {
	env := newDatabase(t)
	if r := runCLI(t, env, "", "audit", "verify").ok(t, "audit verify"); r.stdout != "audit log intact: 0 entries\n" {
		t.Errorf("audit verify of an empty log printed %q", r.stdout)
	}
	runCLI(t, env, goodPassword, "user", "add", "ann@example.com", "--role", "admin").ok(t, "user add")
	runCLI(t, env, "", "token", "create", "--role", "sales", "--name", "crm").ok(t, "token create")
	runCLI(t, env, "", "token", "revoke", "crm").ok(t, "token revoke")
	if r := runCLI(t, env, "", "audit", "verify").ok(t, "audit verify"); r.stdout != "audit log intact: 3 entries\n" {
		t.Errorf("audit verify printed %q, want %q", r.stdout, "audit log intact: 3 entries\n")
	}

	s := openStore(t, env)
	at := time.Now()
	if err := s.AppendAudit(context.Background(), &models.AuditEntry{At: at, Actor: "crm", Action: "lead.read", Target: "lead:abc"}); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env, "", "audit", "verify").ok(t, "audit verify"); r.stdout != "audit log intact: 4 entries\n" {
		t.Errorf("audit verify after an append by the server printed %q", r.stdout)
	}
	tamper(t, env["LEADBOX_DATABASE"], "DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET target = 'token:other' WHERE id = 2")
	r := runCLI(t, env, "", "audit", "verify")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "entry 2 does not match") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("audit verify of a tampered log: exit %d, stdout %q, stderr %q; want exit 1 naming entry 2", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, env, "", "audit"); r.code != 2 {
		t.Errorf("leadbox audit: exit %d, want 2 (usage)", r.code)
	}
}

// tamper runs stmts on the database file directly, as someone with the
// file and the sqlite3 shell would, outside Leadbox's rules.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}
