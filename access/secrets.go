// Package access holds the secrets behind Leadbox's sign-ins and API
// tokens, and the rules that use them: password hashing (argon2id), API
// tokens and session cookies (random, kept only as SHA-256 hashes),
// constant-time comparison, the throttling of failed sign-ins, and
// Authenticator, which turns a bearer token or a session cookie into a
// Principal with a role. Who may do what with that role is the domain's
// rights table (models.Role.Can).
//
// It reaches storage only through the small Store interface it declares,
// so it never imports a storage engine.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"strings"

	"github.com/leadbox/leadbox/models"
)

// TokenPrefix starts every API token, so that a token pasted into a
// ticket, a chat or a repository is recognisable as one (and secret
// scanners can look for it).
const TokenPrefix = "lbx_"

// secretBytes is the entropy of tokens and session cookies: 256 bits,
// beyond guessing however many requests an attacker makes.
const secretBytes = 32

// encoding writes secrets in lower-case base32 without padding: safe in
// URLs, headers and cookies, and unambiguous when read out.
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomSecret returns secretBytes from crypto/rand, encoded.
func randomSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return strings.ToLower(encoding.EncodeToString(b))
}

// NewToken returns a new API token: TokenPrefix and 256 random bits. Show
// it once and store only HashSecret of it.
func NewToken() string { return TokenPrefix + randomSecret() }

// NewSession returns a new session cookie value and the session's id, the
// hash under which the store keeps it: someone who reads the sessions
// table holds no cookie.
func NewSession() (cookie, id string) {
	cookie = randomSecret()
	return cookie, HashSecret(cookie)
}

// HashSecret returns the lowercase hex SHA-256 of a token or a session
// cookie, the form in which it is stored and looked up. A fast hash is
// enough for 256 random bits; passwords, which people choose, get
// HashPassword instead.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Equal compares two secrets in constant time. Both are hashed first, so
// that neither the content nor the length of the expected one leaks
// through how long the comparison takes.
func Equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// EnvToken returns LEADBOX_ADMIN_TOKEN as the API token it stands for:
// named models.EnvTokenName, with the admin role, and its hash. ok is
// false when the setting is empty (no such token).
func EnvToken(secret string) (t models.APIToken, ok bool) {
	if secret == "" {
		return models.APIToken{}, false
	}
	return models.APIToken{Name: models.EnvTokenName, Role: models.RoleAdmin, Hash: HashSecret(secret)}, true
}
