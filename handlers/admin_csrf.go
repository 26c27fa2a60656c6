package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
)

// CSRF tokens of the web inbox. A form's hidden csrf field holds
// HMAC-SHA256, under the installation's "csrf" secret, of a purpose and
// what the token is tied to:
//
//   - csrfSession: the session's id (the SHA-256 of its cookie). Every
//     POST under /admin but the sign-in needs it (adminGate checks). It
//     changes with every sign-in and dies with the session, and nothing
//     needs storing: any process on the database recomputes it.
//   - csrfSignIn: the value of a random sign-in cookie set by the sign-in
//     page. A page elsewhere can neither read that cookie nor make the
//     browser send it (SameSite=Strict), so it cannot sign a visitor in
//     to an account of its choosing (login CSRF). This does not depend on
//     an Origin header, which the base URL behind a proxy may not match.
const (
	csrfSession = "session"
	csrfSignIn  = "sign-in"
)

// csrfToken is the token of a purpose for id.
func csrfToken(key []byte, purpose, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF reports, in constant time, whether got is the token of
// purpose for id. A missing id (no cookie) never validates.
func validCSRF(key []byte, purpose, id, got string) bool {
	if id == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(csrfToken(key, purpose, id)), []byte(got))
}

// adminSecrets gives the installation's named secrets (models.Store.Secret).
type adminSecrets interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// csrfKeys fetches the "csrf" secret on first use and keeps it: it never
// changes, and asking storage on every request would put each page behind
// a write transaction (Secret creates the secret when it is missing).
type csrfKeys struct {
	store adminSecrets
	mu    sync.Mutex
	key   []byte
}

// get returns the key; a failure is not remembered, so the next request
// tries again.
func (k *csrfKeys) get(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil {
		key, err := k.store.Secret(ctx, "csrf")
		if err != nil {
			return nil, fmt.Errorf("csrf key: %w", err)
		}
		k.key = key
	}
	return k.key, nil
}
