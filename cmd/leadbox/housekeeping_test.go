package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

// TestHousekeepingPurgesExpiredSessions: a session past its idle limit is
// deleted by the periodic task; a live one stays.
func TestHousekeepingPurgesExpiredSessions(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "leads.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	u := models.User{Email: "sales@example.com", Role: models.RoleSales, PasswordHash: "x", CreatedAt: time.Now().UTC()}
	if err := store.AddUser(ctx, &u, models.Origin{Actor: "test", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	old := now.Add(-models.SessionIdle - time.Minute)
	for id, seen := range map[string]time.Time{"expired": old, "live": now} {
		if err := store.CreateSession(ctx, models.Session{ID: id, UserID: u.ID, CreatedAt: seen, LastSeenAt: seen}); err != nil {
			t.Fatal(err)
		}
	}
	hctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- housekeeping(store, 10*time.Millisecond, slog.New(slog.DiscardHandler))(hctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := store.SessionByID(ctx, "expired", old)
		if errors.Is(err, models.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired session is still stored after 5 s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("housekeeping returned %v", err)
	}
	if _, _, err := store.SessionByID(ctx, "live", now); err != nil {
		t.Errorf("the live session: %v, want it kept", err)
	}
}
