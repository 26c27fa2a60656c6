package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// at0 is the suite's "now" for access records: times are passed in, so
// expiry is tested without waiting.
func at0() time.Time { return time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC) }

// cli is the origin of a change made on the command line at at.
func cli(at time.Time) models.Origin { return models.Origin{Actor: models.CLIActor, At: at} }

// addUser adds a user with a made-up password hash.
func addUser(t *testing.T, s models.Store, email string, role models.Role) models.User {
	t.Helper()
	t0 := at0()
	u := models.User{Email: email, Role: role, PasswordHash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", CreatedAt: t0}
	if err := s.AddUser(context.Background(), &u, cli(t0)); err != nil {
		t.Fatalf("AddUser(%s): %v", email, err)
	}
	return u
}

// auditEntries returns the whole audit log, oldest first.
func auditEntries(t *testing.T, s models.Store) []models.AuditEntry {
	t.Helper()
	es, err := s.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

// lastAudit is the newest entry's action and target, "" when the log is
// empty.
func lastAudit(t *testing.T, s models.Store) string {
	t.Helper()
	es, err := s.AuditLog(context.Background(), 0, 1)
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	if len(es) == 0 {
		return ""
	}
	return es[0].Actor + " " + es[0].Action + " " + es[0].Target
}

func testUsers(t *testing.T, e Engine) {
	t0 := at0()
	ctx := context.Background()
	s := e.Open(t)
	bob := addUser(t, s, "bob@example.com", models.RoleSales)
	ann := addUser(t, s, "ann@example.com", models.RoleAdmin)
	if bob.ID == 0 || ann.ID == 0 || bob.ID == ann.ID {
		t.Fatalf("user ids %d and %d, want two distinct ids", bob.ID, ann.ID)
	}
	if got, want := lastAudit(t, s), "cli user.add "+models.UserTarget(ann.ID); got != want {
		t.Errorf("audit entry of the addition: %q, want %q", got, want)
	}

	dup := models.User{Email: "ann@example.com", Role: models.RoleSales, PasswordHash: "x", CreatedAt: t0}
	err := s.AddUser(ctx, &dup, cli(t0))
	if !errors.Is(err, models.ErrDuplicate) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("AddUser of a taken email: %v, want ErrDuplicate saying it already exists", err)
	}
	if n := len(auditEntries(t, s)); n != 2 {
		t.Errorf("%d audit entries after a refused addition, want the 2 of the additions: the entry commits with its change or not at all", n)
	}

	us, err := s.Users(ctx)
	if err != nil || len(us) != 2 || us[0].Email != "ann@example.com" || us[1].Email != "bob@example.com" {
		t.Fatalf("Users = %+v, %v; want ann and bob, by email", us, err)
	}
	if us[0].Role != models.RoleAdmin || !us[0].CreatedAt.Equal(t0) || us[0].LastSignInAt != nil || us[0].PasswordHash == "" {
		t.Errorf("ann reads back as %+v", us[0])
	}
	if u, err := s.UserByEmail(ctx, "bob@example.com"); err != nil || u.ID != bob.ID || u.Role != models.RoleSales {
		t.Errorf("UserByEmail(bob) = %+v, %v", u, err)
	}
	if _, err := s.UserByEmail(ctx, "carol@example.com"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("UserByEmail of no user: %v, want ErrNotFound", err)
	}

	if err := s.RemoveUser(ctx, "bob@example.com", cli(t0.Add(time.Hour))); err != nil {
		t.Fatalf("RemoveUser: %v", err)
	}
	if got, want := lastAudit(t, s), "cli user.remove "+models.UserTarget(bob.ID); got != want {
		t.Errorf("audit entry of the removal: %q, want %q", got, want)
	}
	if _, err := s.UserByEmail(ctx, "bob@example.com"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("UserByEmail after the removal: %v, want ErrNotFound", err)
	}
	if err := s.RemoveUser(ctx, "bob@example.com", cli(t0)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("RemoveUser of no user: %v, want ErrNotFound", err)
	}
	if n := len(auditEntries(t, s)); n != 3 {
		t.Errorf("%d audit entries, want 3 (two additions, one removal)", n)
	}
	for _, en := range auditEntries(t, s) {
		if strings.Contains(en.Target, "@") {
			t.Errorf("audit target %q holds an address; targets are ids", en.Target)
		}
	}
}

// testRemoveUserEndsSessions: a removed user is signed out everywhere at
// once; nobody else is.
func testRemoveUserEndsSessions(t *testing.T, e Engine) {
	t0 := at0()
	ctx := context.Background()
	s := e.Open(t)
	ann := addUser(t, s, "ann@example.com", models.RoleAdmin)
	bob := addUser(t, s, "bob@example.com", models.RoleSales)
	for _, sess := range []models.Session{
		{ID: "ann-laptop", UserID: ann.ID, CreatedAt: t0, LastSeenAt: t0},
		{ID: "ann-phone", UserID: ann.ID, CreatedAt: t0, LastSeenAt: t0},
		{ID: "bob-laptop", UserID: bob.ID, CreatedAt: t0, LastSeenAt: t0},
	} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession(%s): %v", sess.ID, err)
		}
	}
	if err := s.RemoveUser(ctx, "ann@example.com", cli(t0)); err != nil {
		t.Fatalf("RemoveUser: %v", err)
	}
	now := t0.Add(time.Minute)
	for _, id := range []string{"ann-laptop", "ann-phone"} {
		if _, _, err := s.SessionByID(ctx, id, now); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("SessionByID(%s) after the user was removed: %v, want ErrNotFound", id, err)
		}
	}
	if n := rows(t, e, s, "sessions", "user_id = ?", ann.ID); n != 0 {
		t.Errorf("%d sessions of the removed user left in the database, want 0", n)
	}
	if _, u, err := s.SessionByID(ctx, "bob-laptop", now); err != nil || u.ID != bob.ID {
		t.Errorf("bob's session after ann's removal: user %d, %v; want bob's, still valid", u.ID, err)
	}
}

func testTokens(t *testing.T, e Engine) {
	t0 := at0()
	ctx := context.Background()
	s := e.Open(t)
	crm := models.APIToken{Name: "crm", Role: models.RoleSales, Hash: strings.Repeat("a", 64), CreatedAt: t0}
	zap := models.APIToken{Name: "zapier", Role: models.RoleMarketing, Hash: strings.Repeat("b", 64), CreatedAt: t0}
	for _, tok := range []*models.APIToken{&zap, &crm} {
		if err := s.CreateToken(ctx, tok, cli(t0)); err != nil {
			t.Fatalf("CreateToken(%s): %v", tok.Name, err)
		}
	}
	if got, want := lastAudit(t, s), "cli token.create "+models.TokenTarget("crm"); got != want {
		t.Errorf("audit entry of the creation: %q, want %q", got, want)
	}
	dup := models.APIToken{Name: "crm", Role: models.RoleAdmin, Hash: strings.Repeat("c", 64), CreatedAt: t0}
	if err := s.CreateToken(ctx, &dup, cli(t0)); !errors.Is(err, models.ErrDuplicate) {
		t.Errorf("CreateToken of a taken name: %v, want ErrDuplicate", err)
	}
	if _, err := s.TokenByHash(ctx, strings.Repeat("c", 64)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("the refused duplicate's hash finds a token: %v", err)
	}

	got, err := s.TokenByHash(ctx, crm.Hash)
	if err != nil || got.ID != crm.ID || got.Name != "crm" || got.Role != models.RoleSales || got.LastUsedAt != nil {
		t.Fatalf("TokenByHash(crm) = %+v, %v", got, err)
	}
	used := t0.Add(time.Hour)
	if err := s.TouchToken(ctx, crm.ID, used); err != nil {
		t.Fatalf("TouchToken: %v", err)
	}
	ts, err := s.Tokens(ctx)
	if err != nil || len(ts) != 2 || ts[0].Name != "crm" || ts[1].Name != "zapier" {
		t.Fatalf("Tokens = %+v, %v; want crm and zapier, by name", ts, err)
	}
	if ts[0].LastUsedAt == nil || !ts[0].LastUsedAt.Equal(used) || ts[1].LastUsedAt != nil {
		t.Errorf("last used: crm %v, zapier %v; want %v and never", ts[0].LastUsedAt, ts[1].LastUsedAt, used)
	}

	if err := s.RevokeToken(ctx, "crm", cli(t0)); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if _, err := s.TokenByHash(ctx, crm.Hash); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("TokenByHash right after the revocation: %v, want ErrNotFound", err)
	}
	if got, want := lastAudit(t, s), "cli token.revoke "+models.TokenTarget("crm"); got != want {
		t.Errorf("audit entry of the revocation: %q, want %q", got, want)
	}
	if err := s.RevokeToken(ctx, "crm", cli(t0)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("RevokeToken of no token: %v, want ErrNotFound", err)
	}
	if _, err := s.TokenByHash(ctx, zap.Hash); err != nil {
		t.Errorf("the other token after the revocation: %v", err)
	}
	// A revoked name may be given to a new token.
	again := models.APIToken{Name: "crm", Role: models.RoleSales, Hash: strings.Repeat("d", 64), CreatedAt: t0}
	if err := s.CreateToken(ctx, &again, cli(t0)); err != nil {
		t.Errorf("CreateToken with a revoked token's name: %v", err)
	}
	if _, err := s.TokenByHash(ctx, crm.Hash); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("the revoked token works again under its reused name: %v", err)
	}
}

func testSessions(t *testing.T, e Engine) {
	t0 := at0()
	ctx := context.Background()
	s := e.Open(t)
	ann := addUser(t, s, "ann@example.com", models.RoleAdmin)
	if err := s.CreateSession(ctx, models.Session{ID: "s1", UserID: ann.ID, CreatedAt: t0, LastSeenAt: t0}); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if u, _ := s.UserByEmail(ctx, ann.Email); u.LastSignInAt == nil || !u.LastSignInAt.Equal(t0) {
		t.Errorf("last sign-in %v, want %v", u.LastSignInAt, t0)
	}
	lookup := func(id string, now time.Time) error {
		t.Helper()
		sess, u, err := s.SessionByID(ctx, id, now)
		if err == nil && (sess.ID != id || sess.UserID != ann.ID || u.Email != ann.Email || u.Role != models.RoleAdmin) {
			t.Errorf("SessionByID(%s) = %+v, %+v", id, sess, u)
		}
		return err
	}
	if err := lookup("s1", t0.Add(time.Hour)); err != nil {
		t.Errorf("a session an hour old: %v", err)
	}
	if err := lookup("nope", t0); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("an unknown session: %v, want ErrNotFound", err)
	}
	if err := lookup("s1", t0.Add(models.SessionIdle)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("a session idle for %v: %v, want ErrNotFound", models.SessionIdle, err)
	}

	// Touched before the idle limit, it lives on, up to the absolute one.
	seen := t0
	for seen.Add(models.SessionIdle - time.Hour).Before(t0.Add(models.SessionMaxAge)) {
		seen = seen.Add(models.SessionIdle - time.Hour)
		if err := s.TouchSession(ctx, "s1", seen); err != nil {
			t.Fatalf("TouchSession at %v: %v", seen, err)
		}
	}
	if err := lookup("s1", seen.Add(time.Hour)); err != nil {
		t.Errorf("a session seen an hour ago, %v after sign-in: %v", seen.Add(time.Hour).Sub(t0), err)
	}
	if err := lookup("s1", t0.Add(models.SessionMaxAge)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("a session %v after sign-in, seen recently: %v, want ErrNotFound", models.SessionMaxAge, err)
	}
	if err := s.TouchSession(ctx, "s1", t0.Add(models.SessionMaxAge)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("TouchSession of an expired session: %v, want ErrNotFound", err)
	}

	// Purge deletes what has expired and nothing else.
	later := t0.Add(models.SessionMaxAge)
	if err := s.CreateSession(ctx, models.Session{ID: "s2", UserID: ann.ID, CreatedAt: later, LastSeenAt: later}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeSessions(ctx, later.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("PurgeSessions = %d, %v; want the 1 expired session", n, err)
	}
	if err := lookup("s2", later.Add(time.Minute)); err != nil {
		t.Errorf("the live session after a purge: %v", err)
	}
	if err := s.EndSession(ctx, "s2"); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if err := lookup("s2", later.Add(time.Minute)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("a session after sign-out: %v, want ErrNotFound", err)
	}
	if err := s.EndSession(ctx, "s2"); err != nil {
		t.Errorf("EndSession of a session that is gone: %v, want nil", err)
	}
}

func testSignInFailures(t *testing.T, e Engine) {
	t0 := at0()
	ctx := context.Background()
	s := e.Open(t)
	const account, client = "account:4f2a", "ip:192.0.2.7"
	fail := func(at time.Time, keys ...string) {
		t.Helper()
		if _, allowed, err := s.ReserveSignIn(ctx, at, keys...); err != nil || !allowed {
			t.Fatalf("ReserveSignIn = %v, %v; want an attempt allowed and counted", allowed, err)
		}
	}
	for _, m := range []time.Duration{0, 5, 10} {
		fail(t0.Add(m*time.Minute), account, client)
	}
	fail(t0.Add(11*time.Minute), "ip:198.51.100.1")
	count := func(key string, now time.Time) int {
		t.Helper()
		return int(rows(t, e, s, "sign_in_failures", "key = ? AND at > ?", key, now.Add(-models.SignInWindow).UTC()))
	}
	for _, c := range []struct {
		key  string
		now  time.Duration
		want int
	}{
		{account, 12 * time.Minute, 3},
		{client, 12 * time.Minute, 3},
		{"ip:198.51.100.1", 12 * time.Minute, 1},
		{"account:other", 12 * time.Minute, 0},
		{account, 15 * time.Minute, 2}, // the first is exactly a window old
		{account, 26 * time.Minute, 0},
	} {
		if got := count(c.key, t0.Add(c.now)); got != c.want {
			t.Errorf("failures of %s at +%v: %d, want %d", c.key, c.now, got, c.want)
		}
	}
	// A new failure forgets those that no longer count, so the table
	// holds minutes of failures, not years.
	fail(t0.Add(time.Hour), account)
	if n := rows(t, e, s, "sign_in_failures"); n != 1 {
		t.Errorf("%d failure rows kept after an hour, want only the new one", n)
	}

	// A right password takes its attempt back.
	reserved, _, err := s.ReserveSignIn(ctx, t0.Add(time.Hour), account, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetSignIn(ctx, reserved); err != nil {
		t.Fatal(err)
	}
	if got := count(account, t0.Add(time.Hour)); got != 1 {
		t.Errorf("after a right attempt, %d failures of the account, want the 1 before it", got)
	}
}

// testSignInBurst: attempts made at the same moment cannot all pass the
// count: at most MaxSignInFailures of a burst are allowed, for the account
// and for the client alike, and the refused ones record nothing.
func testSignInBurst(t *testing.T, e Engine) {
	t0 := at0()
	ctx := context.Background()
	s := e.Open(t)
	const n = 40
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// One account from many clients, as a botnet would.
			_, ok, err := s.ReserveSignIn(ctx, t0, "account:victim", fmt.Sprintf("ip:192.0.2.%d", i))
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != models.MaxSignInFailures {
		t.Errorf("%d of %d simultaneous attempts allowed for one account, want %d", got, n, models.MaxSignInFailures)
	}
	if n := rows(t, e, s, "sign_in_failures", "key = ?", "account:victim"); n != models.MaxSignInFailures {
		t.Errorf("%d failures recorded for the account, want %d (refused attempts record nothing)", n, models.MaxSignInFailures)
	}
}

// appendAudits appends n entries, a minute apart from t0 and with a time
// finer than a microsecond, and returns them as sealed.
func appendAudits(t *testing.T, s models.Store, n int) []models.AuditEntry {
	t.Helper()
	t0 := at0()
	var out []models.AuditEntry
	for i := range n {
		e := models.AuditEntry{
			At:    t0.Add(time.Duration(i)*time.Minute + 123456789*time.Nanosecond),
			Actor: "ann@example.com", Action: "lead.read", Target: fmt.Sprintf("lead:%d", i+1), IP: "192.0.2.7",
		}
		if err := s.AppendAudit(context.Background(), &e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// verify returns VerifyAudit's check, failing the test on an error.
func verify(t *testing.T, s models.Store) models.AuditCheck {
	t.Helper()
	c, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return c
}

func testAuditChain(t *testing.T, e Engine) {
	ctx := context.Background()
	s := e.Open(t)
	if c := verify(t, s); !c.Intact() || c.Entries != 0 {
		t.Errorf("an empty log verifies as %+v, want intact with 0 entries", c)
	}
	written := appendAudits(t, s, 5)
	got := auditEntries(t, s)
	if len(got) != 5 {
		t.Fatalf("%d entries read back, want 5", len(got))
	}
	for i, en := range got {
		prev := models.AuditGenesis
		if i > 0 {
			prev = got[i-1].Hash
		}
		if en.ID != int64(i+1) || en.PrevHash != prev || len(en.Hash) != 64 || strings.ToLower(en.Hash) != en.Hash {
			t.Errorf("entry %d: id %d, prev_hash %s, hash %q; want id %d, prev_hash %s, lowercase hex", i, en.ID, en.PrevHash, en.Hash, i+1, prev)
		}
		if en != written[i] || !en.At.Equal(written[i].At) {
			t.Errorf("entry %d reads back as %+v, want %+v as sealed", i, en, written[i])
		}
	}
	if c := verify(t, s); !c.Intact() || c.Entries != 5 {
		t.Errorf("VerifyAudit = %+v, want intact with 5 entries", c)
	}
	page, err := s.AuditLog(ctx, 4, 2)
	if err != nil || len(page) != 2 || page[0].ID != 3 || page[1].ID != 2 {
		t.Errorf("AuditLog(before 4, limit 2) = %+v, %v; want entries 3 and 2", page, err)
	}
	s = e.Reopen(t, s)
	appendAudits(t, s, 1)
	if c := verify(t, s); !c.Intact() || c.Entries != 6 {
		t.Errorf("after a restart and an append, VerifyAudit = %+v, want intact with 6 entries", c)
	}
}

// testAuditConcurrentAppends: appends at the same moment all land, one
// after another, in one chain.
func testAuditConcurrentAppends(t *testing.T, e Engine) {
	t0 := at0()
	s := e.Open(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			en := models.AuditEntry{At: t0, Actor: "crm", Action: "lead.read", Target: fmt.Sprintf("lead:%d", i)}
			if err := s.AppendAudit(context.Background(), &en); err != nil {
				t.Errorf("AppendAudit: %v", err)
			}
		})
	}
	wg.Wait()
	if c := verify(t, s); !c.Intact() || c.Entries != n {
		t.Errorf("after %d simultaneous appends VerifyAudit = %+v, want intact with %d entries", n, c, n)
	}
}

// testAuditAppendOnly: the database refuses to change or delete entries.
func testAuditAppendOnly(t *testing.T, e Engine) {
	s := e.Open(t)
	appendAudits(t, s, 2)
	db := e.DB(s)
	for name, err := range map[string]error{
		"update": db.Exec("UPDATE audit_log SET actor = ? WHERE id = 1", "someone@example.com").Error,
		"delete": db.Exec("DELETE FROM audit_log WHERE id = 2").Error,
	} {
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s of an audit entry: %v, want the database's append-only refusal", name, err)
		}
	}
	if c := verify(t, s); !c.Intact() || c.Entries != 2 {
		t.Errorf("after refused edits VerifyAudit = %+v, want intact with 2 entries", c)
	}
}

// testAuditTampering: someone with the database file drops the append-only
// guard and edits the log; VerifyAudit names the first entry that no
// longer matches.
func testAuditTampering(t *testing.T, e Engine) {
	if e.DropAppendOnly == nil {
		t.Fatal("Engine.DropAppendOnly is required to show that tampering is found")
	}
	tests := []struct {
		name     string
		tamper   func(t *testing.T, s models.Store, entries []models.AuditEntry) error
		firstBad int64
	}{
		{"a target changed", func(t *testing.T, s models.Store, _ []models.AuditEntry) error {
			return e.DB(s).Exec("UPDATE audit_log SET target = 'lead:999' WHERE id = 3").Error
		}, 3},
		{"a time changed", func(t *testing.T, s models.Store, es []models.AuditEntry) error {
			return e.DB(s).Exec("UPDATE audit_log SET at = ? WHERE id = 2", es[1].At.Add(time.Second)).Error
		}, 2},
		{"the last entry's actor changed", func(t *testing.T, s models.Store, _ []models.AuditEntry) error {
			return e.DB(s).Exec("UPDATE audit_log SET actor = 'someone-else' WHERE id = 5").Error
		}, 5},
		{"an entry changed and its hash recomputed", func(t *testing.T, s models.Store, es []models.AuditEntry) error {
			forged := es[2]
			forged.Target = "lead:999"
			forged.Seal(&es[1])
			return e.DB(s).Exec("UPDATE audit_log SET target = ?, hash = ? WHERE id = 3", forged.Target, forged.Hash).Error
		}, 4},
		{"an entry deleted", func(t *testing.T, s models.Store, _ []models.AuditEntry) error {
			return e.DB(s).Exec("DELETE FROM audit_log WHERE id = 3").Error
		}, 4},
		{"the first entry deleted", func(t *testing.T, s models.Store, _ []models.AuditEntry) error {
			return e.DB(s).Exec("DELETE FROM audit_log WHERE id = 1").Error
		}, 2},
		// What is left after the newest entries go is still a chain: the
		// recorded end of the log tells.
		{"the newest entry deleted", func(t *testing.T, s models.Store, _ []models.AuditEntry) error {
			return e.DB(s).Exec("DELETE FROM audit_log WHERE id = 5").Error
		}, 5},
		{"the newest two deleted", func(t *testing.T, s models.Store, _ []models.AuditEntry) error {
			return e.DB(s).Exec("DELETE FROM audit_log WHERE id >= 4").Error
		}, 4},
		{"every entry deleted", func(t *testing.T, s models.Store, _ []models.AuditEntry) error {
			return e.DB(s).Exec("DELETE FROM audit_log").Error
		}, 1},
		{"an entry forged at the end", func(t *testing.T, s models.Store, es []models.AuditEntry) error {
			forged := models.Origin{Actor: "someone", At: es[4].At}.Entry("lead.read", "lead:x")
			forged.ID = 6
			forged.Seal(&es[4])
			return e.DB(s).Create(&forged).Error
		}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := e.Open(t)
			entries := appendAudits(t, s, 5)
			e.DropAppendOnly(t, s, "audit_log")
			if err := tt.tamper(t, s, entries); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			c := verify(t, s)
			if c.FirstBad != tt.firstBad || c.Problem == "" || c.Intact() {
				t.Errorf("VerifyAudit = %+v, want entry %d named as the first that does not match", c, tt.firstBad)
			}
		})
	}
}
