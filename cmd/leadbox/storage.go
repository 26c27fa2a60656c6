package main

import (
	"context"
	"fmt"
	"os"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

// The storage engine is chosen here and nowhere else.

// openServing opens, creating it if needed, the database serve runs on. A
// SQLite file is one server's: the lock keeps a second one off it.
func openServing(ctx context.Context, database string, opts ...sqlite.Option) (models.Store, func(), error) {
	if err := writableFolder(database); err != nil {
		return nil, nil, err
	}
	release, err := lockDatabase(database)
	if err != nil {
		return nil, nil, err
	}
	store, err := sqlite.Open(ctx, database, opts...)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("LEADBOX_DATABASE: %w", err)
	}
	return store, func() {
		_ = store.Close()
		release()
	}, nil
}

// openExisting opens the database for a sub-command. Unlike serve, it never
// creates one: an opt-out recorded in a new, empty file next to the real
// database would say "done" and change nothing. Nor does it start the
// writer of new leads, whose indexes a command never uses.
func openExisting(ctx context.Context, database string, opts ...sqlite.Option) (models.Store, error) {
	if _, err := os.Stat(sqlite.DatabaseFile(database)); err != nil {
		return nil, fmt.Errorf("LEADBOX_DATABASE: no database at %q (%v): set it to the file `leadbox serve` uses", database, err)
	}
	store, err := sqlite.OpenForCommands(ctx, database, opts...)
	if err != nil {
		return nil, fmt.Errorf("LEADBOX_DATABASE: %w", err)
	}
	return store, nil
}

// openReadOnly opens the database for a sub-command that only reads:
// read-only and without migrating, so that it is quick on a large
// database and changes nothing, and refuses a database whose schema is
// not this release's, saying what to do.
func openReadOnly(ctx context.Context, database string) (models.Store, error) {
	if _, err := os.Stat(sqlite.DatabaseFile(database)); err != nil {
		return nil, fmt.Errorf("LEADBOX_DATABASE: no database at %q (%v): set it to the file `leadbox serve` uses", database, err)
	}
	store, err := sqlite.OpenReadOnly(ctx, database)
	if err != nil {
		return nil, fmt.Errorf("LEADBOX_DATABASE: %w", err)
	}
	return store, nil
}

// storeOptions are the engine's options the settings ask for: the webhook
// URLs every event the store commits is queued for, whichever command
// commits it (an operator's opt-out or purge as much as serve).
func storeOptions(cfg config.Config) []sqlite.Option {
	return []sqlite.Option{sqlite.WithWebhooks(cfg.WebhookURLs)}
}

// checkDatabase runs the engine's integrity check on the database, without
// opening it for use: no migration, no write.
func checkDatabase(ctx context.Context, database string, full bool) ([]string, error) {
	problems, err := sqlite.CheckIntegrity(ctx, database, full)
	if err != nil {
		return nil, fmt.Errorf("LEADBOX_DATABASE: %w", err)
	}
	return problems, nil
}

// backupDatabase copies the database to a new file dst while it may be in
// use, opening it read-only and without migrating.
func backupDatabase(ctx context.Context, database, dst string) error {
	if err := sqlite.BackupFile(ctx, database, dst); err != nil {
		return fmt.Errorf("LEADBOX_DATABASE: %w", err)
	}
	return nil
}
