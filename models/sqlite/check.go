package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// CheckIntegrity runs SQLite's integrity check on the database at path and
// returns the problems it found (none for a sound file). full runs
// integrity_check, which also compares every index with its table; quick
// runs quick_check, which skips that and is several times faster on a
// large file.
//
// It opens the file read-only and runs no migration: a damaged database
// must come out of the check exactly as it went in (the header, the
// journal mode, the schema untouched), so that `sqlite3 .recover` or a
// restore still has the original to work from.
func CheckIntegrity(ctx context.Context, path string, full bool) ([]string, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("check database %q: %w", path, err)
	}
	defer db.Close()
	pragma := "PRAGMA quick_check"
	if full {
		pragma = "PRAGMA integrity_check"
	}
	rows, err := db.QueryContext(ctx, pragma)
	if err != nil {
		// A file too damaged to read its schema fails here, which is a
		// finding, not a failure of the check.
		return []string{err.Error()}, nil
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("check database %q: %w", path, err)
		}
		if line != "ok" {
			problems = append(problems, strings.TrimSpace(line))
		}
	}
	if err := rows.Err(); err != nil {
		return append(problems, err.Error()), nil
	}
	return problems, nil
}

// openReadOnly opens an existing database file without write access: a
// URI filename with mode=ro. (Not _query_only as well: it also forbids
// VACUUM INTO's writing of the new file.)
func openReadOnly(path string) (*sql.DB, error) {
	file := DatabaseFile(path)
	if _, err := os.Stat(file); err != nil {
		return nil, err
	}
	dsn := "file:" + (&url.URL{Path: file}).EscapedPath() + "?mode=ro&_busy_timeout=10000"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}
