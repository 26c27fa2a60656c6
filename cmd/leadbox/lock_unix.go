//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/leadbox/leadbox/models/sqlite"
)

// lockDatabase makes sure one `leadbox serve` at a time uses the database
// at path. Duplicate detection and the per-address limit on confirmation
// emails are kept in the single writer's memory, so a second server on the
// same file would double what those let through. The lock is an flock on
// path + ".serve.lock", released when the process ends, however it ends.
// Sub-commands do not take it: they may run beside the server.
func lockDatabase(path string) (release func(), err error) {
	// One file, however it is named (a file: URI, a symlink).
	path = sqlite.DatabaseFile(path)
	f, err := os.OpenFile(path+".serve.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("LEADBOX_DATABASE: create the lock beside the database: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("LEADBOX_DATABASE: another `leadbox serve` is using %q; run one server per database "+
				"(duplicate detection and the confirmation-email limit are kept in its memory)", path)
		}
		return nil, fmt.Errorf("LEADBOX_DATABASE: lock %q: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}

// writableFolder says, in the operator's terms, when the server could not
// create or write the database in its folder: SQLite's own message for it
// is "unable to open database file: no such file or directory".
func writableFolder(path string) error {
	dir := filepath.Dir(sqlite.DatabaseFile(path))
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return fmt.Errorf("LEADBOX_DATABASE: cannot write in the folder %q (%v): the server creates the database and its -wal and -shm files there; "+
			"in Docker, a bind-mounted folder must belong to uid 10001", dir, err)
	}
	return nil
}
