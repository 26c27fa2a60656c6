// Command seed fills a Leadbox database with N leads through the real
// storage code, as production writes them: each lead with its consent
// event (the box ticked on about half) and its outbox rows, committed by
// the SQLite engine's group-commit writer from many goroutines at once.
// Then, as the mail sender would have, it marks the emails sent (claimed
// and recorded in batches), confirms the consent of one lead in 60 and has
// one in 200 opt out (each its own transaction, as in production, so
// these are kept few), so that the inbox's filters and the marketing
// export meet a realistic ledger.
//
// Usage:
//
//	go run ./bench/seed -db /tmp/big.db -n 1000000
//	go run ./bench/seed -db /tmp/old.db -n 1000000 -days 811   # 10 % past a 730-day retention
//
// The file must not exist. Names, companies and messages come from small
// word lists with a counter, so every lead differs and searches find
// rare and common words alike ("quote" is in about one message in four;
// "zebra" only in the leads whose number ends in 999).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

func main() {
	db := flag.String("db", "", "database file to create (must not exist)")
	n := flag.Int("n", 100_000, "how many leads")
	workers := flag.Int("workers", 256, "goroutines submitting at once (the group commit's group size)")
	days := flag.Int("days", 365, "the leads are spread over this many days up to now (811 puts 10 % past the default 730-day retention)")
	flag.Parse()
	if err := run(context.Background(), *db, *n, *workers, time.Duration(*days)*24*time.Hour); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

var (
	firstNames = []string{"Anna", "Piotr", "Maria", "Jan", "Ewa", "Tomasz", "Sam", "Alex", "Kasia", "Marek", "Olga", "Jakub"}
	lastNames  = []string{"Nowak", "Kowalski", "Wiśniewska", "Example", "Smith", "Lewandowski", "Zielińska", "Brown"}
	companies  = []string{"Example Ltd", "Acme Sp. z o.o.", "Northwind", "Contoso", "", "Fabrikam", ""}
	messages   = []string{
		"Could you send us a quote for a mobile app?",
		"We need help with our online shop, how soon could you start?",
		"Please call me about a quote for a web portal.",
		"Looking for a team to take over maintenance of our Go backend.",
		"Do you do UX audits? We would like one for our booking flow.",
		"Interested in a quote for a data pipeline on AWS.",
		"Can we talk about an MVP for a fintech product next week?",
	}
)

func run(ctx context.Context, path string, n, workers int, span time.Duration) error {
	if path == "" {
		return fmt.Errorf("-db is required")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists; seed writes a new database", path)
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	ct, err := store.ConsentTextVersion(ctx, "I agree to be contacted about other offerings by email.")
	if err != nil {
		return err
	}

	start := time.Now()
	// Leads are spread over the last span (a year by default), oldest
	// first, so date filters and retention have something to cut.
	t0 := start.Add(-span)
	step := span / time.Duration(max(n, 1))
	confirmable := make([]int64, n) // lead i's row id, for the leads decide confirms
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				id, err := submit(ctx, store, ct.ID, i, t0.Add(time.Duration(i)*step))
				if err != nil {
					errs <- err
					return
				}
				confirmable[i] = id
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("%d leads committed in %s (%.0f leads/s)\n", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())

	mark := time.Now()
	sent, err := markSent(ctx, store)
	if err != nil {
		return err
	}
	fmt.Printf("%d emails marked sent in %s\n", sent, time.Since(mark).Round(time.Millisecond))

	mark = time.Now()
	confirmed, withdrawn, err := decide(ctx, store, confirmable)
	if err != nil {
		return err
	}
	fmt.Printf("%d consents confirmed and %d withdrawn in %s\n", confirmed, withdrawn, time.Since(mark).Round(time.Millisecond))
	fmt.Printf("total %s, %d cores\n", time.Since(start).Round(time.Millisecond), runtime.NumCPU())
	return nil
}

// email is lead i's address: every lead is another person.
func email(i int64) string { return fmt.Sprintf("lead%d@example.com", i) }

// submit commits lead i as the submission handler would, and returns its
// row id.
func submit(ctx context.Context, store models.Store, textID, i int64, at time.Time) (int64, error) {
	msg := messages[i%int64(len(messages))]
	if i%1000 == 999 {
		msg += " (Our mascot is a zebra.)"
	}
	lead := &models.Lead{
		PublicID:    models.NewKey(16),
		CreatedAt:   at,
		Name:        firstNames[i%int64(len(firstNames))] + " " + lastNames[(i/7)%int64(len(lastNames))],
		Email:       email(i),
		Phone:       fmt.Sprintf("+48 600 %03d %03d", (i/1000)%1000, i%1000),
		Company:     companies[i%int64(len(companies))],
		Message:     fmt.Sprintf("%s Lead %d.", msg, i),
		PageURL:     "https://www.example.com/contact/",
		UTMSource:   []string{"", "google", "newsletter", "linkedin"}[i%4],
		OptOutToken: models.NewKey(20),
	}
	consent := &models.ConsentEvent{
		Subject: models.NormalizeEmail(lead.Email), Purpose: models.PurposeMarketingEmail, At: at,
		Action: models.ActionNotGiven, Method: models.MethodForm, IP: "192.0.2.10",
		UserAgent: "Mozilla/5.0 (seed)", ConsentTextID: &textID,
	}
	outbox := []models.OutboxMessage{{Kind: models.KindSalesNotification, Recipient: "Sales <sales@example.com>", CreatedAt: at}}
	if i%2 == 0 {
		consent.Action = models.ActionGiven
		token, expires := models.NewKey(20), at.Add(7*24*time.Hour)
		lead.ConfirmToken, lead.ConfirmExpiresAt = &token, &expires
		outbox = append(outbox, models.OutboxMessage{Kind: models.KindConsentConfirmation, CreatedAt: at})
	}
	for j := range outbox {
		outbox[j].QueuedAt, outbox[j].NextAttemptAt = at, at
	}
	_, err := store.CreateLeadOnce(ctx, lead, consent, outbox, models.Guards{})
	return lead.ID, err
}

// markSent claims every due email and records it sent, in batches, as the
// mail sender does.
func markSent(ctx context.Context, store models.Store) (int, error) {
	total := 0
	for {
		now := time.Now().UTC()
		msgs, err := store.ClaimDue(ctx, now, 5000, now.Add(time.Minute))
		if err != nil || len(msgs) == 0 {
			return total, err
		}
		outcomes := make([]models.Outcome, len(msgs))
		for i, m := range msgs {
			outcomes[i] = models.Outcome{ID: m.ID, Status: models.StatusSent, At: m.CreatedAt.Add(2 * time.Second), Attempted: true}
		}
		if err := store.Record(ctx, outcomes); err != nil {
			return total, err
		}
		total += len(msgs)
	}
}

// decide confirms the consent of one lead in 60 (all of them ticked the
// box) and has one in 200 opt out, through the ledger's own writes.
func decide(ctx context.Context, store models.Store, ids []int64) (confirmed, withdrawn int, err error) {
	for i, id := range ids {
		switch {
		case i%200 == 3:
			ev := models.ConsentEvent{Subject: email(int64(i)), At: time.Now().UTC(), Method: models.MethodOneClick}
			if _, err := store.Withdraw(ctx, ev); err != nil {
				return confirmed, withdrawn, err
			}
			withdrawn++
		case i%60 == 0:
			lead := models.Lead{ID: id, Email: email(int64(i))}
			if _, err := store.Confirm(ctx, lead, models.ConsentEvent{At: time.Now().UTC(), Method: models.MethodConfirmLink}); err != nil {
				return confirmed, withdrawn, err
			}
			confirmed++
		}
	}
	return confirmed, withdrawn, nil
}
