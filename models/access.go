package models

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role decides what a user or an API token may do (see Can).
type Role string

// The roles of the contract's rights table.
const (
	RoleAdmin     Role = "admin"
	RoleSales     Role = "sales"
	RoleMarketing Role = "marketing"
)

// Roles lists every role, in the order the contract's table gives them.
func Roles() []Role { return []Role{RoleAdmin, RoleSales, RoleMarketing} }

// ParseRole returns the role called s, or an error naming the roles there
// are.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles(), r) {
		return "", fmt.Errorf("unknown role %q: want admin, sales or marketing", s)
	}
	return r, nil
}

// Right is one row of the contract's rights table: something a role may or
// may not do.
type Right string

// The rights of the contract's table, one per row.
const (
	// RightLeads: list, search and read leads, change their status, and
	// export leads.csv.
	RightLeads Right = "leads"
	// RightMarketingExport: marketing.csv, the addresses that may receive
	// marketing now.
	RightMarketingExport Right = "marketing_export"
	// RightDataSubjects: a person's data-subject access and erasure, and
	// suppressions.
	RightDataSubjects Right = "data_subjects"
	// RightAdministration: the audit log, users and tokens.
	RightAdministration Right = "administration"
)

// rightsTable is the contract's table, the one place that says which role
// has which right. A right or role missing here is refused (Can fails
// closed).
var rightsTable = map[Right][]Role{
	RightLeads:           {RoleAdmin, RoleSales},
	RightMarketingExport: {RoleAdmin, RoleSales, RoleMarketing},
	RightDataSubjects:    {RoleAdmin},
	RightAdministration:  {RoleAdmin},
}

// Rights lists every right the table knows, so that a caller can check
// that each of its routes names one of them.
func Rights() []Right {
	return []Right{RightLeads, RightMarketingExport, RightDataSubjects, RightAdministration}
}

// Can reports whether the role has the right. An unknown role (the zero
// value included) has none.
func (r Role) Can(right Right) bool { return slices.Contains(rightsTable[right], r) }

// ErrDuplicate is returned when a record would take a unique name (a
// user's email, a token's name) that another already has.
var ErrDuplicate = errors.New("already exists")

// User is a person who signs in to the web inbox.
type User struct {
	ID int64 `gorm:"primaryKey"`
	// Email is the address the user signs in with, in NormalizeEmail's
	// form, so that "Ann@Example.com" and "ann@example.com" are one user.
	Email string `gorm:"not null"`
	Role  Role   `gorm:"not null"`
	// PasswordHash is an argon2id hash in its PHC string form, parameters
	// included; the password itself is never stored.
	PasswordHash string    `gorm:"not null"`
	CreatedAt    time.Time `gorm:"not null"`
	LastSignInAt *time.Time
}

// APIToken is a bearer token of the API. Only the SHA-256 of the token is
// stored: a copy of the database grants nothing.
type APIToken struct {
	ID int64 `gorm:"primaryKey"`
	// Name is what the operator calls the token (revoke NAME) and what
	// the audit log names as the actor of its requests.
	Name string `gorm:"not null"`
	Role Role   `gorm:"not null"`
	// Hash is the lowercase hex SHA-256 of the token: tokens are 256
	// random bits, which no one can guess from a fast hash, so a slow
	// password hash would only make every API request slow.
	Hash       string    `gorm:"not null"`
	CreatedAt  time.Time `gorm:"not null"`
	LastUsedAt *time.Time
}

// TableName keeps the table name readable.
func (APIToken) TableName() string { return "api_tokens" }

// Token names that mean something else in the audit log: EnvTokenName is
// LEADBOX_ADMIN_TOKEN's, CLIActor is the command line's.
const (
	EnvTokenName = "env"
	CLIActor     = "cli"
)

// ValidTokenName checks a name given to a new token. Names are short
// words, because they show in listings and, as actors, in the audit log,
// where a space or a look-alike of another actor would mislead.
func ValidTokenName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("a token name is 1 to 64 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("token name %q: use letters, digits, '-', '_' and '.' only", name)
		}
	}
	if lower := strings.ToLower(name); lower == EnvTokenName || lower == CLIActor || strings.Contains(lower, "@") {
		return fmt.Errorf("token name %q is reserved", name)
	}
	return nil
}

// Session lifetimes of the web inbox: a session ends after SessionIdle
// without a request, and SessionMaxAge after sign-in whatever happens, so
// a stolen cookie does not last for ever.
const (
	SessionIdle   = 12 * time.Hour
	SessionMaxAge = 7 * 24 * time.Hour
)

// Session is a signed-in user of the web inbox. ID is the SHA-256 of the
// cookie's value, so the sessions table cannot be replayed as cookies.
type Session struct {
	ID         string    `gorm:"primaryKey"`
	UserID     int64     `gorm:"not null"`
	CreatedAt  time.Time `gorm:"not null"`
	LastSeenAt time.Time `gorm:"not null"`
}

// SessionCutoffs returns the limits a session must be within at now: it
// was last seen after idle and created after absolute.
func SessionCutoffs(now time.Time) (idle, absolute time.Time) {
	return now.Add(-SessionIdle), now.Add(-SessionMaxAge)
}

// ExpiredAt reports whether the session has ended by now, idle too long
// or too old.
func (s Session) ExpiredAt(now time.Time) bool {
	idle, absolute := SessionCutoffs(now)
	return !s.LastSeenAt.After(idle) || !s.CreatedAt.After(absolute)
}

// Sign-in throttling: after MaxSignInFailures failed sign-ins for one
// account or one client within SignInWindow, every attempt is refused
// until the window has passed.
const (
	MaxSignInFailures = 5
	SignInWindow      = 15 * time.Minute
)
