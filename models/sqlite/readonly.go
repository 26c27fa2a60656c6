package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/leadbox/leadbox/models"
)

// readOnlyPragmas: mode=ro opens the file without write access, so that no
// statement can change it, nor the opening itself (no journal-mode switch,
// no migration, no -wal created by this process); _query_only refuses
// writes by statement as well, for a clear error if a bug tries one.
const readOnlyPragmas = "mode=ro&_busy_timeout=10000&_foreign_keys=on&_query_only=true"

// ErrSchemaOld means the database's schema is older than this release's:
// a read-only open cannot migrate it.
var ErrSchemaOld = errors.New("the database's schema is older than this release")

// OpenReadOnly opens an existing database for an operator's command that
// only reads (consent, outbox listings, spam, audit verify, user and token
// lists): read-only, without migrating, without the writer's indexes or
// secrets made on first use. It refuses a database whose schema is not
// exactly this release's, saying which way it differs: a newer one may
// mean something else by its rows, an older one lacks what the queries
// read until `leadbox serve` (or a command that writes) migrated it.
// Every write through the store fails.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	file := DatabaseFile(path)
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("open database %q read-only: %w", path, err)
	}
	r, err := openPool(ctx, "file:"+(&url.URL{Path: file}).EscapedPath(), readOnlyPragmas, 2)
	if err != nil {
		return nil, fmt.Errorf("open database %q read-only: %w", path, err)
	}
	s := &Store{w: r, r: r}
	if err := s.readOnlySetup(ctx, path); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) readOnlySetup(ctx context.Context, path string) error {
	if err := s.watchForDamage(s.r); err != nil {
		return fmt.Errorf("open database %q read-only: %w", path, err)
	}
	if err := s.checkVersion(ctx); err != nil {
		return err
	}
	if err := s.checkSchema(ctx); err != nil {
		return fmt.Errorf("open database %q read-only: %w", path, err)
	}
	// The address-hash secret is made at the first open for serving; a
	// database without one holds no keyed hash that a lookup could miss.
	var key []byte
	err := s.r.WithContext(ctx).Raw("SELECT value FROM settings WHERE name = ?", models.AddressHashSecret).Row().Scan(&key)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("open database %q read-only: secret %s: %w", path, models.AddressHashSecret, err)
	}
	s.addresses = models.NewAddressHasher(key)
	return nil
}

// checkSchema compares the database's schema version with this release's.
func (s *Store) checkSchema(ctx context.Context) error {
	latest := migrations[len(migrations)-1].version
	var tables int
	if err := s.r.WithContext(ctx).Raw(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).
		Row().Scan(&tables); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	current := 0
	if tables > 0 {
		if err := s.r.WithContext(ctx).Raw("SELECT coalesce(max(version), 0) FROM schema_migrations").Row().Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
	}
	switch {
	case current > latest:
		return fmt.Errorf("%w: version %d, and this release knows up to %d; run the newer release, or restore the backup made before it",
			ErrSchemaTooNew, current, latest)
	case current < latest:
		return fmt.Errorf("%w: version %d, this release's is %d; this command only reads and does not migrate: start `leadbox serve` of this release once (it migrates at start), then run it again",
			ErrSchemaOld, current, latest)
	}
	return nil
}
