package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-sqlite3"
)

// The pace of BackupFile: backupStepPages pages per call of
// sqlite3_backup_step, then backupPause while no snapshot is held. Each
// step reads from the page cache or the disk while the server keeps
// writing (in WAL mode a reader never blocks the writer); the pause leaves
// the CPU to requests between steps. 1024 pages of 4 KiB copy a 1.3 GB
// database in about 330 steps.
const (
	backupStepPages = 1024
	backupPause     = 2 * time.Millisecond
)

// backupRestarts is how many times the copy may start again because the
// database changed between two steps before BackupFile holds one read
// transaction for the rest of the copy. See BackupFile.
const backupRestarts = 2

// BackupFile writes a consistent copy of the database at path to a new
// file dst while a server may be using it, with SQLite's online backup
// API in steps.
//
// Each step is its own read of the database, so while nobody writes no
// snapshot is held for the whole copy. When the database changes between
// two steps SQLite starts the copy again (that is what keeps it
// consistent); a database written all the time would never finish, so
// after backupRestarts restarts the source connection holds one read
// transaction until the copy is done: one snapshot, copied page by page
// without rebuilding anything (unlike VACUUM INTO). While that snapshot is
// held the server cannot checkpoint what it writes, and the first
// checkpoint after the copy, in a commit of the server's, copies all of it
// at once: measured at a million leads under full load, that checkpoint
// (60-100 MiB) is what raises submissions' p99, so the held part of the
// copy goes as fast as it can: no pause, and no fsync of the copy until it
// is complete (the copy is a temp file, worthless until then). The
// server's journal_size_limit shrinks the log back after that checkpoint.
//
// The copy goes to a temp file beside dst and ends in rollback (DELETE)
// journal mode: one self-contained file, no -wal or -shm beside it,
// readable from read-only media; the server switches a restored copy back
// to WAL when it opens it. It is fsynced and linked to dst only once
// quick_check passes on it.
//
// Like CheckIntegrity it opens the database read-only and runs no
// migration: a backup must not change what it copies, least of all a
// damaged file. It refuses to overwrite a file.
func BackupFile(ctx context.Context, path, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("back up to %q: the file exists; choose a new name", dst)
	}
	src, err := openReadOnly(path)
	if err != nil {
		return fmt.Errorf("back up %q: %w", path, err)
	}
	defer src.Close()

	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return fmt.Errorf("back up to %q: %w", dst, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(tmpName)
			os.Remove(tmpName + "-journal")
		}
	}()
	if err := copyDatabase(ctx, src, tmpName); err != nil {
		return fmt.Errorf("back up to %q: %w", dst, err)
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("back up to %q: %w", dst, err)
	}
	// Link, not rename: a file that appeared at dst meanwhile is kept.
	if err := os.Link(tmpName, dst); err != nil {
		return fmt.Errorf("back up to %q: %w", dst, err)
	}
	done = true
	os.Remove(tmpName)
	return syncFile(filepath.Dir(dst))
}

// copyDatabase copies the database src into the new file at tmp with the
// backup API, sets its journal mode to DELETE and checks it. Until then
// the copy has no journal and no fsync: a crash leaves a temp file that
// nothing uses, and BackupFile fsyncs the finished copy.
func copyDatabase(ctx context.Context, src *sql.DB, tmp string) error {
	dst, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: tmp}).EscapedPath()+"?_busy_timeout=10000&_synchronous=OFF&_journal_mode=OFF")
	if err != nil {
		return err
	}
	defer dst.Close()
	dstConn, err := dst.Conn(ctx)
	if err != nil {
		return err
	}
	defer dstConn.Close()
	srcConn, err := src.Conn(ctx)
	if err != nil {
		return err
	}
	defer srcConn.Close()

	err = dstConn.Raw(func(d any) error {
		return srcConn.Raw(func(s any) error {
			return stepBackup(ctx, d.(*sqlite3.SQLiteConn), s.(*sqlite3.SQLiteConn))
		})
	})
	if err != nil {
		return err
	}
	// The pages copied include the source's header, which says WAL.
	var mode string
	if err := dstConn.QueryRowContext(ctx, "PRAGMA journal_mode = DELETE").Scan(&mode); err != nil {
		return err
	}
	if mode != "delete" {
		return fmt.Errorf("journal mode of the copy: %s, want delete", mode)
	}
	var check string
	if err := dstConn.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&check); err != nil {
		return err
	}
	if check != "ok" {
		return fmt.Errorf("the copy fails its check: %s", check)
	}
	return nil
}

// stepBackup copies src into dst in steps of backupStepPages pages, and
// holds a read transaction on src after backupRestarts restarts.
func stepBackup(ctx context.Context, dst, src *sqlite3.SQLiteConn) (err error) {
	b, err := dst.Backup("main", src, "main")
	if err != nil {
		return err
	}
	held := false
	defer func() {
		err = errors.Join(err, b.Close())
		if held {
			_, _ = src.Exec("ROLLBACK", nil)
		}
	}()
	restarts, last := 0, -1
	for {
		finished, err := b.Step(backupStepPages)
		if err != nil || finished {
			return err
		}
		// Remaining only goes down while the copy goes on; a copy that
		// started again has at least as much left.
		left := b.Remaining()
		if last >= 0 && left >= last {
			restarts++
			if restarts >= backupRestarts && !held {
				if err := holdRead(src); err != nil {
					return fmt.Errorf("hold a read transaction: %w", err)
				}
				held = true
			}
		}
		last = left
		if err := ctx.Err(); err != nil {
			return err
		}
		// Once a snapshot is held, every moment of the copy grows the
		// log that the server must checkpoint afterwards: no pause.
		if !held {
			time.Sleep(backupPause)
		}
	}
}

// holdRead opens a read transaction on conn that lasts until ROLLBACK.
// BEGIN alone reads nothing; the SELECT takes the snapshot, which
// sqlite3_backup_step then uses instead of opening (and closing) its own.
func holdRead(conn *sqlite3.SQLiteConn) error {
	if _, err := conn.Exec("BEGIN", nil); err != nil {
		return err
	}
	rows, err := conn.Query("SELECT count(*) FROM sqlite_schema", nil)
	if err != nil {
		_, _ = conn.Exec("ROLLBACK", nil)
		return err
	}
	vals := make([]driver.Value, 1)
	err = rows.Next(vals)
	if err = errors.Join(err, rows.Close()); err != nil {
		_, _ = conn.Exec("ROLLBACK", nil)
	}
	return err
}

// syncFile flushes a file or a directory to the disk.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}
