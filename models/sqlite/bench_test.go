package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// benchStore opens a store on a new SQLite file, with the production
// settings (synchronous=FULL), and returns it with the id of a consent
// wording.
func benchStore(b *testing.B) (*Store, int64) {
	b.Helper()
	return benchStoreWith(b, openOptions{submissions: true})
}

// benchStoreWith is benchStore opened with opts.
func benchStoreWith(b *testing.B, opts openOptions) (*Store, int64) {
	b.Helper()
	ctx := context.Background()
	s, err := open(ctx, filepath.Join(b.TempDir(), "leads.db"), opts)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ct, err := s.ConsentTextVersion(ctx, "Email me offers.")
	if err != nil {
		b.Fatalf("ConsentTextVersion: %v", err)
	}
	return s, ct.ID
}

// createBenchLead commits one submission as the handler does (keys from
// NewKey, as the handler makes them): a lead, its
// consent event (box ticked) and two outbox rows, with the guards of the
// default settings (duplicates in 10 minutes, 3 confirmations a day).
func createBenchLead(ctx context.Context, s *Store, textID int64, n int64) error {
	now := time.Now().UTC()
	email := "lead-" + strconv.FormatInt(n, 10) + "@example.com"
	token := models.NewKey(20)
	expires := now.Add(7 * 24 * time.Hour)
	lead := &models.Lead{
		PublicID: models.NewKey(16), CreatedAt: now, Name: "Bench Lead", Email: email,
		Message: "Please call me about a quote.", OptOutToken: models.NewKey(20),
		ConfirmToken: &token, ConfirmExpiresAt: &expires,
	}
	ev := &models.ConsentEvent{
		Subject: models.NormalizeEmail(email), Purpose: models.PurposeMarketingEmail, At: now,
		Action: models.ActionGiven, Method: models.MethodForm, IP: "192.0.2.1", UserAgent: "bench",
		ConsentTextID: &textID,
	}
	outbox := []models.OutboxMessage{
		{Kind: models.KindSalesNotification, CreatedAt: now},
		{Kind: models.KindConsentConfirmation, CreatedAt: now},
	}
	_, err := s.CreateLeadOnce(ctx, lead, ev, outbox, models.Guards{
		DuplicateSince: now.Add(-10 * time.Minute), LimitConfirmations: true, MaxConfirmations: 3,
	})
	return err
}

// BenchmarkCreateLead commits one submission at a time: each pays a whole
// transaction and an fsync.
func BenchmarkCreateLead(b *testing.B) {
	s, textID := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		n++
		if err := createBenchLead(ctx, s, textID, n); err != nil {
			b.Fatalf("CreateLeadOnce: %v", err)
		}
	}
}

// BenchmarkCreateLeadParallel commits from 16 goroutines per CPU at once
// (32 on two cores, as many as bench/run's connections), where group
// commit pays off.
func BenchmarkCreateLeadParallel(b *testing.B) {
	benchCreateLeadParallel(b, openOptions{submissions: true})
}

// BenchmarkCreateLeadParallelCold is BenchmarkCreateLeadParallel while the
// in-memory indexes load (never, here): the duplicate and confirmation
// guards are queries in the writer, as in the first seconds after a start.
func BenchmarkCreateLeadParallelCold(b *testing.B) {
	benchCreateLeadParallel(b, openOptions{submissions: true, holdIndexes: make(chan struct{})})
}

func benchCreateLeadParallel(b *testing.B, opts openOptions) {
	s, textID := benchStoreWith(b, opts)
	ctx := context.Background()
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := createBenchLead(ctx, s, textID, seq.Add(1)); err != nil {
				b.Errorf("CreateLeadOnce: %v", err)
				return
			}
		}
	})
}

// BenchmarkCreateLeadDuplicateParallel is BenchmarkCreateLeadParallel
// with every submission the same one (a bot replaying one address, the
// box ticked): the first is stored, the rest are its duplicates.
func BenchmarkCreateLeadDuplicateParallel(b *testing.B) {
	s, textID := benchStore(b)
	waitBenchLoaded(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := createBenchLead(ctx, s, textID, 1); err != nil {
				b.Errorf("CreateLeadOnce: %v", err)
				return
			}
		}
	})
}

func waitBenchLoaded(b *testing.B, s *Store) {
	b.Helper()
	<-s.IndexesLoaded()
	if err := s.IndexLoadError(); err != nil {
		b.Fatal(err)
	}
}
