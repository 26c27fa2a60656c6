package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/models/sqlite"
)

// readOnlyCommands are the operator's commands that only read.
var readOnlyCommands = [][]string{
	{"consent", "p0@example.com"}, {"outbox"}, {"outbox", "--limit", "5"}, {"outbox", "cancelled"}, {"spam"},
	{"audit", "verify"}, {"user", "list"}, {"token", "list"},
}

// TestReadOnlyCommandsChangeNothing: the commands that only read open the
// database read-only: the file is the same byte for byte afterwards, even
// when its permissions would allow writing, and they answer as before.
func TestReadOnlyCommandsChangeNothing(t *testing.T) {
	ctx := context.Background()
	db, _ := seededDatabase(t, 3)
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range readOnlyCommands {
		var out bytes.Buffer
		if err := run(ctx, args, databaseEnv(db), nil, &out, &out); err != nil {
			t.Errorf("%v: %v (%s)", args, err, out.String())
		}
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Error("a read-only command changed the database file")
	}
	// And on a file nobody may write (root can anyway, so only where
	// the test runs as another user).
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	if f, err := os.OpenFile(db, os.O_WRONLY, 0); err == nil {
		_ = f.Close()
		t.Log("running as root: the read-only file is writable, skipping that half")
		return
	}
	for _, args := range readOnlyCommands {
		var out bytes.Buffer
		if err := run(ctx, args, databaseEnv(db), nil, &out, &out); err != nil {
			t.Errorf("%v on a read-only file: %v", args, err)
		}
	}
}

// TestReadOnlyCommandsOnAnotherSchema: a read-only command does not
// migrate; on a database of an older schema it says to start the server
// of this release first, on a newer one to run the newer release, and in
// both cases leaves the file as it was.
func TestReadOnlyCommandsOnAnotherSchema(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change string
		want   []string
		is     error
	}{
		{"older", "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)",
			[]string{"older than this release", "leadbox serve"}, sqlite.ErrSchemaOld},
		{"newer", "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '2030-01-01')",
			[]string{"newer than this release", "run the newer release"}, sqlite.ErrSchemaTooNew},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := seededDatabase(t, 1)
			conn, err := sql.Open("sqlite3", db)
			if err != nil {
				t.Fatal(err)
			}
			_, err = conn.Exec(tt.change)
			_ = conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(db)
			for _, args := range readOnlyCommands {
				var out bytes.Buffer
				err := run(ctx, args, databaseEnv(db), nil, &out, &out)
				if !errors.Is(err, tt.is) {
					t.Errorf("%v: %v, want %v", args, err, tt.is)
					continue
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%v: %q does not say %q", args, err, w)
					}
				}
			}
			if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
				t.Error("a read-only command changed the file")
			}
		})
	}
}

// TestWritingCommandsStillWrite: optout and outbox retry, beside the
// read-only ones, still open the database for writing.
func TestWritingCommandsStillWrite(t *testing.T) {
	ctx := context.Background()
	db, _ := seededDatabase(t, 1)
	var out bytes.Buffer
	if err := run(ctx, []string{"optout", "p0@example.com"}, databaseEnv(db), nil, &out, &out); err != nil {
		t.Fatalf("optout: %v (%s)", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"consent", "p0@example.com"}, databaseEnv(db), nil, &out, &out); err != nil {
		t.Fatalf("consent: %v", err)
	}
	if !strings.Contains(out.String(), "withdrawn") {
		t.Errorf("consent after optout, read-only:\n%s\nwant the withdrawal", out.String())
	}
}
