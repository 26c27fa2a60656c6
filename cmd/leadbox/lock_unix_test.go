//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestLockFileGoesWithCleanShutdown: the lock file is there while the
// server runs and gone once it has stopped cleanly, also when a crashed
// server had left one behind.
func TestLockFileGoesWithCleanShutdown(t *testing.T) {
	for _, leftOver := range []bool{false, true} {
		db := filepath.Join(t.TempDir(), "leadbox.db")
		lock := db + ".serve.lock"
		if leftOver {
			if err := os.WriteFile(lock, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		_, done, _ := startServe(t, ctx, map[string]string{"LEADBOX_DATABASE": db})
		if _, err := os.Stat(lock); err != nil {
			t.Errorf("left over %v: while serving, stat %s: %v; want the lock file there", leftOver, lock, err)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop")
		}
		if _, err := os.Stat(lock); !os.IsNotExist(err) {
			t.Errorf("left over %v: after a clean shutdown, stat %s: %v; want it removed", leftOver, lock, err)
		}
	}
}

// TestLockOnARemovedFileIsRetaken plays the race that removing the lock
// file opens: a second server opens the file just before the first removes
// it and locks it just after the first lets go. It then holds a lock on a
// file nobody else can find, which must not count, or a third server
// would create a new file, lock that, and run beside it.
func TestLockOnARemovedFileIsRetaken(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leadbox.db")
	lock := db + ".serve.lock"
	release, err := lockDatabase(db)
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.OpenFile(lock, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	release()
	if err := syscall.Flock(int(second.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("flock on the removed file: %v (the race is not what this test plays)", err)
	}
	if current, err := stillNamed(second, lock); current || err != nil {
		t.Errorf("stillNamed on a removed file = %v, %v; want false, nil", current, err)
	}
	third, err := lockDatabase(db)
	if err != nil {
		t.Fatalf("a server starting now must get the lock (the other one holds a removed file): %v", err)
	}
	defer third()
	if current, err := stillNamed(second, lock); current || err != nil {
		t.Errorf("stillNamed on a file replaced by a new one = %v, %v; want false, nil", current, err)
	}
	if _, err := lockDatabase(db); err == nil {
		t.Error("locked twice while the third server holds the lock")
	}
}
