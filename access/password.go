package access

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// Password length limits. Twelve characters is the contract's floor; the
// ceiling only keeps absurd input (a pasted file) out, and is far above
// any password manager's output.
const (
	MinPasswordLength = 12
	MaxPasswordBytes  = 1024
)

// ErrPasswordTooShort is returned for a password under MinPasswordLength.
var ErrPasswordTooShort = fmt.Errorf("the password must be at least %d characters", MinPasswordLength)

// ValidatePassword checks a new password against the length limits.
func ValidatePassword(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return ErrPasswordTooShort
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("the password must be at most %d bytes", MaxPasswordBytes)
	case !utf8.ValidString(password):
		return errors.New("the password is not valid UTF-8")
	}
	return nil
}

// passwordParams are the argon2id parameters of new hashes: 64 MiB of
// memory, 2 passes, 1 lane (about 150 ms on one core of a small shared
// server). That is above OWASP's minimum (19 MiB, 2 passes) in the
// memory that makes guessing on GPUs expensive, at a cost paid only at
// sign-in, which a handful of staff do a few times a day. One lane keeps
// a sign-in to one core, so that it never starves the form of both cores
// of a small machine (Authenticator also bounds how many run at once).
// Every hash records its parameters, so raising them later leaves old
// hashes valid.
func passwordParams() *argon2id.Params {
	return &argon2id.Params{Memory: 64 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// maxMemoryKiB bounds the memory a stored hash may ask for when it is
// checked: a hash edited in the database to ask for terabytes would
// otherwise take the server down at the next sign-in.
const maxMemoryKiB = 1 << 20 // 1 GiB

// HashPassword returns the argon2id hash of a password, in the PHC string
// form that carries its parameters and random salt.
func HashPassword(password string) (string, error) {
	if err := ValidatePassword(password); err != nil {
		return "", err
	}
	h, err := argon2id.CreateHash(password, passwordParams())
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// CheckPassword reports whether password matches hash, in constant time.
// An empty hash (no such user) is checked against a hash of a password
// nobody knows, so that an unknown user takes as long to refuse as a
// wrong password: the time of an answer must not tell whether an account
// exists.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		hash = unknownUserHash
	}
	params, _, _, err := argon2id.DecodeHash(hash)
	if err != nil || params.Memory > maxMemoryKiB || params.Iterations > 16 || params.Parallelism == 0 {
		return false
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok && hash != unknownUserHash
}

// unknownUserHash is an argon2id hash, with passwordParams, of a random
// password that was thrown away (TestUnknownUserHash checks that its
// parameters follow passwordParams).
const unknownUserHash = "$argon2id$v=19$m=65536,t=2,p=1$YkRrflmGxbYeUa3UGnx4+g$dwGc5z6lI++AURD1nMTPpD+8Eayw5GxgxQJpweZHlsI"
