//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/leadbox/leadbox/models/sqlite"
)

// lockDatabase makes sure one `leadbox serve` at a time uses the database
// at path. Duplicate detection and the per-address limit on confirmation
// emails are kept in the single writer's memory, so a second server on the
// same file would double what those let through. The lock is an flock on
// path + ".serve.lock", released when the process ends, however it ends;
// release also removes the file, so a clean shutdown leaves nothing
// behind (a crash leaves it, unlocked, and the next start reuses it).
// Sub-commands do not take it: they may run beside the server.
func lockDatabase(path string) (release func(), err error) {
	// One file, however it is named (a file: URI, a symlink).
	path = sqlite.DatabaseFile(path)
	lockPath := path + ".serve.lock"
	// Because the file is removed, the file locked may be gone by the time
	// the lock is had: opened just before the previous server removed it,
	// locked just after that server let go. A lock on a removed file keeps
	// nobody out (the next server creates and locks a new one), so it is
	// dropped and taken again on the file that is there. Each retry means
	// another server stopped meanwhile; a few are plenty.
	for range 10 {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
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
		current, err := stillNamed(f, lockPath)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("LEADBOX_DATABASE: lock %q: %w", path, err)
		}
		if !current {
			_ = f.Close()
			continue
		}
		return func() {
			// Removed while still locked (the database is closed by
			// now): a server that opened the file before this finds it
			// locked, or once closed, no longer the file by that name
			// (stillNamed), and starts over on a new one.
			_ = os.Remove(lockPath)
			_ = f.Close()
		}, nil
	}
	return nil, fmt.Errorf("LEADBOX_DATABASE: lock %q: %s keeps being removed as it is locked; is another `leadbox serve` starting and stopping?", path, lockPath)
}

// stillNamed reports whether path still names the file f has open, and
// not a newer file by the same name, or nothing.
func stillNamed(f *os.File, path string) (bool, error) {
	open, err := f.Stat()
	if err != nil {
		return false, err
	}
	named, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(open, named), nil
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
