//go:build !unix

package main

// lockDatabase is a no-op where flock is not available: run one server per
// database there by hand (see lock_unix.go for why).
func lockDatabase(string) (func(), error) { return func() {}, nil }

// writableFolder is left to SQLite's own error where access(2) is missing.
func writableFolder(string) error { return nil }
