// Package storetest is the conformance suite of Leadbox's storage engines:
// what every engine must do, written once against models.Store. An engine's
// own tests call Run with a way to open a fresh database; a new engine is
// done when it passes. Engine internals (pragmas, in-memory indexes, the
// SQL a lookup uses) are tested beside the engine instead.
package storetest

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// Engine is how the suite reaches one storage engine.
type Engine struct {
	// Open opens a new, empty database for one test and closes it when
	// the test ends.
	Open func(t *testing.T) models.Store
	// Reopen closes s and opens its database again, as a restart does;
	// the new store is closed when the test ends.
	Reopen func(t *testing.T, s models.Store) models.Store
	// DB is a connection to s's database that may write and that the
	// Store's rules do not guard: the suite uses it to count rows and to
	// show that the database itself refuses what code must never do.
	DB func(s models.Store) *gorm.DB
	// DropAppendOnly removes whatever makes the database refuse updates
	// and deletes of table's rows (triggers, rules, grants), as someone
	// with the database file or its owner's password could: the suite
	// then edits the audit log to show that the hash chain finds it.
	DropAppendOnly func(t *testing.T, s models.Store, table string)
}

// Run runs every case of the suite against e.
func Run(t *testing.T, e Engine) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, Engine)
	}{
		{"CreateLead", testCreateLead},
		{"CreateLeadAllOrNothing", testCreateLeadAllOrNothing},
		{"LeadConsentIsItsSubmissions", testLeadConsentIsItsSubmissions},
		{"ConsentTextVersion", testConsentTextVersion},
		{"Duplicates", testDuplicates},
		{"DuplicatesSurviveRestart", testDuplicatesSurviveRestart},
		{"SimultaneousDuplicates", testSimultaneousDuplicates},
		{"TickingAgainAfterAnOptOut", testTickingAgainAfterAnOptOut},
		{"EarlierSubmission", testEarlierSubmission},
		{"LedgerAppendOnly", testLedgerAppendOnly},
		{"OptOutByToken", testOptOutByToken},
		{"ConfirmByToken", testConfirmByToken},
		{"OutboxClaimAndLease", testOutboxClaimAndLease},
		{"OutboxOutcomes", testOutboxOutcomes},
		{"OutboxPagesAndCounts", testOutboxPagesAndCounts},
		{"OutboxLanes", testOutboxLanes},
		{"ConfirmationLimit", testConfirmationLimit},
		{"ConfirmationLimitCountsMailboxes", testConfirmationLimitCountsMailboxes},
		{"ConfirmationLimitAcrossSpellings", testConfirmationLimitAcrossSpellings},
		{"ConfirmationLimitSimultaneous", testConfirmationLimitSimultaneous},
		{"ConfirmationLimitSurvivesRestart", testConfirmationLimitSurvivesRestart},
		{"SpamTallies", testSpamTallies},
		{"Secrets", testSecrets},
		{"InboxList", testInboxList},
		{"InboxMarketingAgrees", testInboxMarketingAgrees},
		{"InboxDetailAndUpdate", testInboxDetailAndUpdate},
		{"MarketingContacts", testMarketingContacts},
		{"InboxSearchFoldsCase", testInboxSearchFoldsCase},
		{"MarketingContactProvesTheConfirmedConsent", testMarketingContactProvesTheConfirmedConsent},
		{"Users", testUsers},
		{"RemoveUserEndsSessions", testRemoveUserEndsSessions},
		{"Tokens", testTokens},
		{"Sessions", testSessions},
		{"SignInFailures", testSignInFailures},
		{"SignInBurst", testSignInBurst},
		{"AuditChain", testAuditChain},
		{"AuditConcurrentAppends", testAuditConcurrentAppends},
		{"AuditAppendOnly", testAuditAppendOnly},
		{"AuditTampering", testAuditTampering},
		{"SubjectAccess", testSubjectAccess},
		{"Erasure", testErasure},
		{"ErasureForgetsSubmissions", testErasureForgetsSubmissions},
		{"ErasedOptOutStaysOptedOut", testErasedOptOutStaysOptedOut},
		{"Suppression", testSuppression},
		{"PrivacyLink", testPrivacyLink},
		{"Leases", testLeases},
		{"Purge", testPurge},
		{"NoNoteOnAnErasedLead", testNoNoteOnAnErasedLead},
		{"MarketingExportLeavesOutSuppressedAndErased", testMarketingExportLeavesOutSuppressedAndErased},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}

// wording is the consent text the suite's submissions were shown.
const wording = "Email me offers."

// Submission is the records of one form submission, as the handlers build
// them: a lead, its consent event, a sales notification and, when the box
// was ticked, a confirmation email.
type Submission struct {
	Lead    *models.Lead
	Consent *models.ConsentEvent
	Outbox  []models.OutboxMessage
}

// NewSubmission returns a ticked submission from email, made now, ready for
// CreateLeadOnce.
func NewSubmission(t *testing.T, s models.Store, email string) Submission {
	t.Helper()
	ct, err := s.ConsentTextVersion(context.Background(), wording)
	if err != nil {
		t.Fatalf("ConsentTextVersion: %v", err)
	}
	now := time.Now().UTC()
	confirm := models.NewKey(20)
	expires := now.Add(7 * 24 * time.Hour)
	return Submission{
		Lead: &models.Lead{
			PublicID: models.NewKey(16), CreatedAt: now, Name: "Ann", Email: email,
			Message: "Hello", OptOutToken: models.NewKey(20), ConfirmToken: &confirm, ConfirmExpiresAt: &expires,
		},
		Consent: &models.ConsentEvent{
			Subject: models.NormalizeEmail(email), Purpose: models.PurposeMarketingEmail, At: now,
			Action: models.ActionGiven, Method: models.MethodForm, IP: "192.0.2.1", ConsentTextID: &ct.ID,
		},
		Outbox: []models.OutboxMessage{
			{Kind: models.KindSalesNotification, Recipient: "Sales <sales@example.com>", CreatedAt: now},
			{Kind: models.KindConsentConfirmation, CreatedAt: now},
		},
	}
}

// at moves a submission to another time.
func (sub Submission) at(t time.Time) Submission {
	sub.Lead.CreatedAt, sub.Consent.At = t, t
	for i := range sub.Outbox {
		sub.Outbox[i].CreatedAt = t
	}
	return sub
}

// create commits sub under guards.
func create(t *testing.T, s models.Store, sub Submission, g models.Guards) models.Created {
	t.Helper()
	c, err := s.CreateLeadOnce(context.Background(), sub.Lead, sub.Consent, sub.Outbox, g)
	if err != nil {
		t.Fatalf("CreateLeadOnce: %v", err)
	}
	return c
}

// rows counts the rows of table that match where (nothing: all of them).
func rows(t *testing.T, e Engine, s models.Store, table string, where ...any) int64 {
	t.Helper()
	q := e.DB(s).Table(table)
	if len(where) > 0 {
		q = q.Where(where[0], where[1:]...)
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// counts is how many leads, consent events and outbox rows exist.
func counts(t *testing.T, e Engine, s models.Store) [3]int64 {
	t.Helper()
	return [3]int64{rows(t, e, s, "leads"), rows(t, e, s, "consent_events"), rows(t, e, s, "outbox")}
}

// withinMinute is the duplicate guard of a one-minute window.
func withinMinute() models.Guards {
	return models.Guards{DuplicateSince: time.Now().UTC().Add(-time.Minute)}
}
