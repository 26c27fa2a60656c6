package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leadbox/leadbox/models"
)

// Errors of Authenticator. The HTTP layer maps them to answers: 401 for
// ErrUnauthorized and ErrBadCredentials, 429 for ErrThrottled.
var (
	// ErrUnauthorized: no token or session, or one that is unknown,
	// revoked or expired.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrBadCredentials: a sign-in with an unknown email or a wrong
	// password; which of the two is deliberately not said.
	ErrBadCredentials = errors.New("unknown email or wrong password")
	// ErrThrottled: too many failed sign-ins for the account or from the
	// client within models.SignInWindow; the password was not checked.
	ErrThrottled = errors.New("too many failed sign-ins")
)

// Store is what Authenticator needs of storage (models.Store has it all).
type Store interface {
	TokenByHash(ctx context.Context, hash string) (models.APIToken, error)
	TouchToken(ctx context.Context, id int64, at time.Time) error
	UserByEmail(ctx context.Context, email string) (models.User, error)
	CreateSession(ctx context.Context, s models.Session) error
	SessionByID(ctx context.Context, id string, now time.Time) (models.Session, models.User, error)
	TouchSession(ctx context.Context, id string, now time.Time) error
	EndSession(ctx context.Context, id string) error
	ReserveSignIn(ctx context.Context, at time.Time, keys ...string) (reserved []int64, allowed bool, err error)
	ForgetSignIn(ctx context.Context, reserved []int64) error
	Secret(ctx context.Context, name string) ([]byte, error)
}

// Principal is who a request comes from: a user of the inbox or an API
// token.
type Principal struct {
	// Name is what the audit log records as the actor: the token's name
	// (models.EnvTokenName for LEADBOX_ADMIN_TOKEN) or the user's email.
	Name string
	Role models.Role
	// UserID is the signed-in user's id, 0 for a token.
	UserID int64
}

// Can reports whether the principal's role has the right.
func (p Principal) Can(r models.Right) bool { return p.Role.Can(r) }

// touchEvery is how stale a token's last use or a session's last sight
// may be before a request writes it again: the times are for people to
// read and for the 12-hour idle limit, and a minute changes neither, while
// a write per request would put every API call behind the single writer.
const touchEvery = time.Minute

// maxHashing bounds the password checks running at once. Each takes 64
// MiB (see passwordParams); a flood of sign-ins from many addresses,
// which per-client throttling does not stop, must queue rather than
// exhaust the memory of a small server.
const maxHashing = 4

// Authenticator checks API tokens, signs users in and out, and recognises
// their sessions. Everything it decides on lives in the database, so every
// process sharing it agrees: a token revoked or a user removed by one is
// refused by all at their next request.
type Authenticator struct {
	store   Store
	env     models.APIToken
	envSet  bool
	hashing chan struct{}
	// Now is the clock; tests set it.
	Now func() time.Time
}

// NewAuthenticator returns an Authenticator on store. adminToken is
// LEADBOX_ADMIN_TOKEN ("" for none), accepted as an admin token named
// models.EnvTokenName.
func NewAuthenticator(store Store, adminToken string) *Authenticator {
	env, ok := EnvToken(adminToken)
	return &Authenticator{store: store, env: env, envSet: ok, hashing: make(chan struct{}, maxHashing), Now: time.Now}
}

// Bearer returns the principal of an API token (the value after
// "Bearer "), or ErrUnauthorized. A token's last use is recorded.
func (a *Authenticator) Bearer(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthorized
	}
	hash := HashSecret(token)
	if a.envSet && Equal(hash, a.env.Hash) {
		return Principal{Name: a.env.Name, Role: a.env.Role}, nil
	}
	t, err := a.store.TokenByHash(ctx, hash)
	if errors.Is(err, models.ErrNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("check token: %w", err)
	}
	now := a.Now().UTC()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchEvery {
		if err := a.store.TouchToken(ctx, t.ID, now); err != nil {
			return Principal{}, fmt.Errorf("check token: %w", err)
		}
	}
	return Principal{Name: t.Name, Role: t.Role}, nil
}

// SignIn checks an email and password typed into the sign-in form from
// the client at ip. On success it starts a session and returns the value
// for the session cookie. After models.MaxSignInFailures failures for the
// account or from the client within models.SignInWindow it returns
// ErrThrottled without checking the password, until enough of those
// failures are older than the window. Refused attempts are not counted
// themselves: if they were, anyone could keep a colleague locked out for
// ever by trying every few minutes.
func (a *Authenticator) SignIn(ctx context.Context, email, password, ip string) (cookie string, p Principal, err error) {
	now := a.Now().UTC()
	secret, err := a.store.Secret(ctx, "sign_in_throttle")
	if err != nil {
		return "", Principal{}, fmt.Errorf("sign in: %w", err)
	}
	// The attempt counts as a failure before its password is checked, in
	// the same transaction as the count: otherwise a burst of guesses sent
	// at once would all be checked before the first failure was recorded.
	// A right password takes it back.
	reserved, allowed, err := a.store.ReserveSignIn(ctx, now, AccountKey(secret, email), ClientKey(ip))
	if err != nil {
		return "", Principal{}, fmt.Errorf("sign in: %w", err)
	}
	if !allowed {
		return "", Principal{}, ErrThrottled
	}
	u, err := a.store.UserByEmail(ctx, models.NormalizeEmail(email))
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return "", Principal{}, fmt.Errorf("sign in: %w", err)
	}
	ok, err := a.checkPassword(ctx, u.PasswordHash, password) // "" for an unknown user: as slow, never true
	if err != nil {
		return "", Principal{}, err
	}
	if !ok {
		return "", Principal{}, ErrBadCredentials // the reserved failure stands
	}
	if err := a.store.ForgetSignIn(ctx, reserved); err != nil {
		return "", Principal{}, fmt.Errorf("sign in: %w", err)
	}
	cookie, id := NewSession()
	if err := a.store.CreateSession(ctx, models.Session{ID: id, UserID: u.ID, CreatedAt: now, LastSeenAt: now}); err != nil {
		return "", Principal{}, fmt.Errorf("sign in: %w", err)
	}
	return cookie, Principal{Name: u.Email, Role: u.Role, UserID: u.ID}, nil
}

// checkPassword runs CheckPassword when one of maxHashing slots is free.
func (a *Authenticator) checkPassword(ctx context.Context, hash, password string) (bool, error) {
	select {
	case a.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.hashing }()
	return CheckPassword(hash, password), nil
}

// Session returns the principal of a session cookie's value, or
// ErrUnauthorized when there is no such session or it has expired. The
// session's last sight is moved to now, which keeps it from idling out.
func (a *Authenticator) Session(ctx context.Context, cookie string) (Principal, error) {
	if cookie == "" {
		return Principal{}, ErrUnauthorized
	}
	now := a.Now().UTC()
	id := HashSecret(cookie)
	s, u, err := a.store.SessionByID(ctx, id, now)
	if errors.Is(err, models.ErrNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("check session: %w", err)
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		err := a.store.TouchSession(ctx, id, now)
		if errors.Is(err, models.ErrNotFound) { // ended or removed since it was read
			return Principal{}, ErrUnauthorized
		}
		if err != nil {
			return Principal{}, fmt.Errorf("check session: %w", err)
		}
	}
	return Principal{Name: u.Email, Role: u.Role, UserID: u.ID}, nil
}

// SignOut ends the session of a cookie's value.
func (a *Authenticator) SignOut(ctx context.Context, cookie string) error {
	if cookie == "" {
		return nil
	}
	if err := a.store.EndSession(ctx, HashSecret(cookie)); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}
