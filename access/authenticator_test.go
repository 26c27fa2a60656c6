package access_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

const password = "correct horse battery"

// fixture is an Authenticator on a real SQLite file, with one admin user
// (ann@example.com) and a clock the test moves.
type fixture struct {
	auth  *access.Authenticator
	store *sqlite.Store
	now   time.Time
}

func newFixture(t *testing.T, adminToken string) *fixture {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "leadbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	f := &fixture{store: store, now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	f.auth = access.NewAuthenticator(store, adminToken)
	f.auth.Now = func() time.Time { return f.now }
	hash, err := access.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u := models.User{Email: "ann@example.com", Role: models.RoleAdmin, PasswordHash: hash, CreatedAt: f.now}
	if err := store.AddUser(t.Context(), &u, models.Origin{Actor: models.CLIActor, At: f.now}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) token(t *testing.T, name string, role models.Role) string {
	t.Helper()
	tok := access.NewToken()
	at := models.APIToken{Name: name, Role: role, Hash: access.HashSecret(tok), CreatedAt: f.now}
	if err := f.store.CreateToken(t.Context(), &at, models.Origin{Actor: models.CLIActor, At: f.now}); err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestBearer(t *testing.T) {
	ctx := context.Background()
	envToken := strings.Repeat("e", 40)
	f := newFixture(t, envToken)
	crm := f.token(t, "crm", models.RoleSales)

	p, err := f.auth.Bearer(ctx, crm)
	if err != nil || p.Name != "crm" || p.Role != models.RoleSales || p.UserID != 0 {
		t.Fatalf("Bearer(crm) = %+v, %v", p, err)
	}
	if !p.Can(models.RightLeads) || p.Can(models.RightAdministration) {
		t.Errorf("a sales token's rights: leads %v, administration %v", p.Can(models.RightLeads), p.Can(models.RightAdministration))
	}
	if p, err := f.auth.Bearer(ctx, envToken); err != nil || p.Name != models.EnvTokenName || p.Role != models.RoleAdmin {
		t.Errorf("Bearer(LEADBOX_ADMIN_TOKEN) = %+v, %v; want the admin token named env", p, err)
	}
	for name, tok := range map[string]string{
		"empty":                "",
		"unknown":              access.NewToken(),
		"the hash of a token":  access.HashSecret(crm),
		"a token cut short":    crm[:len(crm)-1],
		"the env token cut":    envToken[:39],
		"the env token's hash": access.HashSecret(envToken),
	} {
		if _, err := f.auth.Bearer(ctx, tok); !errors.Is(err, access.ErrUnauthorized) {
			t.Errorf("Bearer(%s) = %v, want ErrUnauthorized", name, err)
		}
	}

	// Revoked, it is refused by the very next request.
	if err := f.store.RevokeToken(ctx, "crm", models.Origin{Actor: models.CLIActor, At: f.now}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.Bearer(ctx, crm); !errors.Is(err, access.ErrUnauthorized) {
		t.Errorf("Bearer of a revoked token = %v, want ErrUnauthorized", err)
	}
}

func TestBearerRecordsLastUse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	tok := f.token(t, "crm", models.RoleSales)
	lastUsed := func() *time.Time {
		ts, err := f.store.Tokens(ctx)
		if err != nil || len(ts) != 1 {
			t.Fatalf("Tokens = %v, %v", ts, err)
		}
		return ts[0].LastUsedAt
	}
	first := f.now
	for _, step := range []time.Duration{0, 30 * time.Second} {
		f.now = first.Add(step)
		if _, err := f.auth.Bearer(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := lastUsed(); got == nil || !got.Equal(first) {
		t.Errorf("last used %v after uses at 0 and 30s, want %v (kept to the minute)", got, first)
	}
	f.now = first.Add(2 * time.Minute)
	if _, err := f.auth.Bearer(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); got == nil || !got.Equal(f.now) {
		t.Errorf("last used %v, want %v", got, f.now)
	}
	if _, err := access.NewAuthenticator(f.store, "").Bearer(ctx, strings.Repeat("e", 40)); !errors.Is(err, access.ErrUnauthorized) {
		t.Errorf("with no LEADBOX_ADMIN_TOKEN, a made-up token: %v, want ErrUnauthorized", err)
	}
}

func TestSignInAndSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	cookie, p, err := f.auth.SignIn(ctx, "Ann@Example.com", password, "192.0.2.7")
	if err != nil || cookie == "" || p.Name != "ann@example.com" || p.Role != models.RoleAdmin || p.UserID == 0 {
		t.Fatalf("SignIn = %q, %+v, %v", cookie, p, err)
	}
	if p2, err := f.auth.Session(ctx, cookie); err != nil || p2 != p {
		t.Errorf("Session = %+v, %v; want %+v", p2, err, p)
	}
	var stored int64
	if err := f.store.DB().Table("sessions").Where("id = ?", cookie).Count(&stored).Error; err != nil || stored != 0 {
		t.Errorf("the cookie's value is stored as a session id (%d rows, %v); only its hash may be", stored, err)
	}

	// Used, the session lives past the idle limit; left alone, it ends.
	for range 3 {
		f.now = f.now.Add(models.SessionIdle - time.Hour)
		if _, err := f.auth.Session(ctx, cookie); err != nil {
			t.Fatalf("a session used every %v: %v", models.SessionIdle-time.Hour, err)
		}
	}
	f.now = f.now.Add(models.SessionIdle)
	if _, err := f.auth.Session(ctx, cookie); !errors.Is(err, access.ErrUnauthorized) {
		t.Errorf("a session idle for %v: %v, want ErrUnauthorized", models.SessionIdle, err)
	}

	cookie, _, err = f.auth.SignIn(ctx, "ann@example.com", password, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.auth.SignOut(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.Session(ctx, cookie); !errors.Is(err, access.ErrUnauthorized) {
		t.Errorf("a session after sign-out: %v, want ErrUnauthorized", err)
	}

	cookie, _, err = f.auth.SignIn(ctx, "ann@example.com", password, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.RemoveUser(ctx, "ann@example.com", models.Origin{Actor: models.CLIActor, At: f.now}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.Session(ctx, cookie); !errors.Is(err, access.ErrUnauthorized) {
		t.Errorf("the session of a removed user: %v, want ErrUnauthorized", err)
	}
	for _, c := range []string{"", "made-up", access.HashSecret(cookie)} {
		if _, err := f.auth.Session(ctx, c); !errors.Is(err, access.ErrUnauthorized) {
			t.Errorf("Session(%q) = %v, want ErrUnauthorized", c, err)
		}
	}
}

// TestSignInFailures: a wrong password and an unknown email get the same
// error; the sixth attempt within the window is refused whatever the
// password, for the account from anywhere and for the client on any
// account, until the window has passed.
func TestSignInFailures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	signIn := func(email, pw, ip string) error {
		t.Helper()
		_, _, err := f.auth.SignIn(ctx, email, pw, ip)
		return err
	}
	if err := signIn("nobody@example.com", password, "192.0.2.1"); !errors.Is(err, access.ErrBadCredentials) {
		t.Errorf("an unknown email: %v, want ErrBadCredentials", err)
	}
	start := f.now
	for i := range models.MaxSignInFailures {
		f.now = start.Add(time.Duration(i) * time.Minute)
		// Each from another address in its own /64: only the account's
		// count grows.
		ip := "2001:db8:" + string(rune('a'+i)) + "::1"
		if err := signIn("ann@example.com", "wrong password!", ip); !errors.Is(err, access.ErrBadCredentials) {
			t.Fatalf("failure %d: %v, want ErrBadCredentials", i+1, err)
		}
	}
	if err := signIn("ANN@example.com", password, "198.51.100.1"); !errors.Is(err, access.ErrThrottled) {
		t.Errorf("the right password after %d failures: %v, want ErrThrottled", models.MaxSignInFailures, err)
	}
	f.now = start.Add(models.SignInWindow) // the first failure is now a window old
	if err := signIn("ann@example.com", password, "198.51.100.1"); err != nil {
		t.Errorf("the right password once the first failure aged out: %v", err)
	}

	// One client failing on many accounts is throttled too.
	f.now = start.Add(time.Hour)
	for i := range models.MaxSignInFailures {
		if err := signIn("user"+string(rune('a'+i))+"@example.com", "whatever password", "2001:db8:1:2::1"); !errors.Is(err, access.ErrBadCredentials) {
			t.Fatalf("failure %d from one client: %v", i+1, err)
		}
	}
	if err := signIn("ann@example.com", password, "2001:db8:1:2:ffff::9"); !errors.Is(err, access.ErrThrottled) {
		t.Errorf("the right password from a throttled /64: %v, want ErrThrottled", err)
	}
	if err := signIn("ann@example.com", password, "192.0.2.200"); err != nil {
		t.Errorf("the right password from another client: %v", err)
	}
}
