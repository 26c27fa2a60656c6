package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/leadbox/leadbox/models"
)

// maxGroup bounds one group commit, so one transaction never grows
// without limit under a flood.
const maxGroup = 256

// errFileGone: the database file is no longer the one opened.
var errFileGone = errors.New("database file gone")

// errStoreClosed is returned for leads created after Close.
var errStoreClosed = errors.New("store closed")

// groupCommitter is the single writer of new leads. SQLite has one writer
// at a time and, with synchronous=FULL, every commit waits for an fsync; so
// committing each submission on its own caps throughput at one commit per
// lead. Instead every request hands its lead to this goroutine, which takes
// all the requests waiting at that moment and commits them in one
// transaction. No request is held back to wait for others (the group is
// whatever queued up during the previous commit), so at low load it is a
// plain commit, and under load the groups grow by themselves.
//
// This is the hottest write in Leadbox, so it uses database/sql statements
// prepared once on the single writer connection rather than GORM: GORM
// prepares statements inside a transaction again in every transaction, and
// its reflection cost more than SQLite itself. Their column lists are
// written by hand, so TestFastPathWritesEveryColumn fails when a model
// gains a column they leave out.
//
// A request is answered only after the COMMIT returned: "201 means on disk"
// is unchanged. When any submission of a group fails, the transaction is
// rolled back and each is committed alone, so one bad submission cannot
// sink the others.
type groupCommitter struct {
	db    *sql.DB
	stmts leadStmts
	// recent (committed submissions, for duplicate detection) and
	// confirms (confirmation emails queued, for their limit) are the
	// in-memory indexes, owned by the writer goroutine. They are loaded
	// in the background after start (see warm.go): until then (warm is
	// false) the writer asks the database, inside its transaction.
	recent   *recentLeads
	confirms *confirmIndex
	warmth
	// seed keys the confirmation limit's people (confirmIndex.key): fixed
	// at start, since prepare computes keys in the callers' goroutines.
	seed maphash.Seed
	reqs chan *createReq // unbuffered: a request is either taken or not
	// jobs are writes that must not interleave with submissions (an
	// erasure): each runs alone in this goroutine, between two groups,
	// and then changes the in-memory indexes, so no submission sees the
	// database and the indexes disagree.
	jobs chan *writeJob
	// addresses computes models.AddressHash, to find a submission's
	// address on the suppression list.
	addresses *models.AddressHasher
	closing   chan struct{}
	done      chan struct{}
	// crowdedAt is when (UnixNano) a group last had busyGroup or more
	// submissions: requests queuing up behind the writer.
	crowdedAt atomic.Int64
	// cannotStore is set when a commit or a probe failed for want of
	// storage (see isStorageFailure), and cleared only by a probe that
	// succeeds (see Store.Ping): one lead squeezed into a nearly full disk
	// proves little. Leads cannot be kept, which readiness reports.
	cannotStore atomic.Bool
	// stored is when (UnixNano) a commit or a probe last succeeded;
	// readiness writes a probe when it is older than probeEvery, so that
	// a disk that filled up or turned read-only while nobody submitted
	// is noticed before a lead fails on it. probing keeps probes one at a
	// time.
	stored     atomic.Int64
	probeEvery time.Duration
	probing    sync.Mutex
	// path and file are the database file and what it was when opened,
	// to notice it deleted or replaced.
	path string
	file os.FileInfo
}

// busyGroup and busyFor define "the form is busy": a group of at least
// busyGroup submissions within the last busyFor.
const (
	busyGroup = 4
	busyFor   = 250 * time.Millisecond
)

// busy reports whether submissions are queuing up behind the writer.
func (g *groupCommitter) busy() bool {
	return time.Since(time.Unix(0, g.crowdedAt.Load())) < busyFor
}

type createReq struct {
	ctx     context.Context
	lead    *models.Lead
	consent *models.ConsentEvent
	outbox  []models.OutboxMessage
	guards  models.Guards
	// Worked out by prepare, before the writer takes the request.
	key    dupKey // what makes it the same submission
	person uint64 // whose confirmation emails it counts against
	hash   string // the address's keyed hash (models.AddressHash)
	// Set by the writer before result is closed.
	earlier int64 // id of the lead this one duplicates, or 0
	// known is the lead it duplicates as the in-memory index knows it,
	// enough to answer without reading it; its publicID is "" when the
	// database found the duplicate.
	known    recentLead
	dropped  bool // the confirmation email was over the limit
	recalled bool // a withdrawal was recalled from the suppression list
	err      error
	result   chan struct{}
}

// leadStmts are the statements of one submission.
type leadStmts struct {
	lead, consent, outbox *sql.Stmt
	// search writes the lead's text for the inbox's search (see
	// searchText).
	search *sql.Stmt
	// confirmations counts a person's confirmation emails when the
	// in-memory count cannot (see confirmIndex).
	confirmations *sql.Stmt
	// earlier finds a duplicate while the in-memory index of recent
	// submissions is not loaded yet (earlierSubmissionSQL).
	earlier *sql.Stmt
	// withdrawnAfter tells whether a person withdrew after a lead's
	// submission (see insert).
	withdrawnAfter *sql.Stmt
	// recall writes into the ledger a withdrawal known only by the
	// address's keyed hash, if there is one, and unsuppress marks it
	// written (see recallWithdrawal).
	recall, unsuppress *sql.Stmt
}

const (
	// The consent choice is part of what makes a submission the same: the
	// same message sent again with the box newly ticked is new consent.
	leadSQL = `INSERT INTO leads (public_id, created_at, name, email, email_key, phone, company, message,
		page_url, utm_source, utm_medium, utm_campaign, utm_term, utm_content, status,
		opt_out_token, confirm_token, confirm_expires_at, erased_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	searchSQL  = `INSERT INTO lead_search (lead_id, text) VALUES (?, ?)`
	consentSQL = `INSERT INTO consent_events (subject, purpose, at, action, method, lead_id, ip, user_agent,
		page_url, consent_text_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// withdrawnAfterSQL asks withdrawnSinceSQL of a lead's submission.
	withdrawnAfterSQL = `SELECT EXISTS (SELECT 1 FROM consent_events c
		WHERE c.lead_id = ? AND c.method = '` + models.MethodForm + `' AND ` + withdrawnSinceSQL + `)`
	// recallSQL is one statement that finds nothing almost always: an Exec
	// and its count, not a query whose rows must be read, which cost the
	// hot path some twenty allocations per submission more.
	recallSQL = `INSERT INTO consent_events (subject, purpose, at, action, method, lead_id, ip, user_agent, page_url, consent_text_id)
		SELECT ?, '` + models.PurposeMarketingEmail + `', withdrawn_at, '` + models.ActionWithdrawn + `', '` + models.MethodSuppressionList + `',
		NULL, '', '', '', NULL FROM suppressions WHERE address_hash = ? AND withdrawn_at IS NOT NULL`
	unsuppressSQL = `UPDATE suppressions SET withdrawn_at = NULL WHERE address_hash = ?`
	outboxSQL     = `INSERT INTO outbox (lead_id, kind, recipient, status, created_at, next_attempt_at, lease_until,
		queued_at, attempts, last_error, sent_at, message_id, event, target, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// startGroupCommitter prepares the writer's statements on db (the
// writer's one connection) and starts it. Its in-memory indexes are
// loaded from readers in the background (see warm.go), so that start-up
// does not wait for them: at a million leads that took seconds.
// noteDamage hears the load's errors, to tell a damaged file.
func startGroupCommitter(ctx context.Context, db, readers *sql.DB, path string, addresses *models.AddressHasher, noteDamage func(error), hold <-chan struct{}) (*groupCommitter, error) {
	file := DatabaseFile(path)
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("the database file: %w", err)
	}
	seed := maphash.MakeSeed()
	g := &groupCommitter{
		db:         db,
		path:       file,
		file:       fi,
		seed:       seed,
		recent:     newRecentLeads(),
		confirms:   newConfirmIndex(seed),
		warmth:     newWarmth(),
		probeEvery: probeInterval,
		reqs:       make(chan *createReq),
		jobs:       make(chan *writeJob),
		closing:    make(chan struct{}),
		addresses:  addresses,
		done:       make(chan struct{}),
	}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&g.stmts.lead, leadSQL}, {&g.stmts.search, searchSQL},
		{&g.stmts.consent, consentSQL}, {&g.stmts.outbox, outboxSQL},
		{&g.stmts.confirmations, confirmationsSQL}, {&g.stmts.withdrawnAfter, withdrawnAfterSQL},
		{&g.stmts.earlier, earlierSubmissionSQL},
		{&g.stmts.recall, recallSQL}, {&g.stmts.unsuppress, unsuppressSQL},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			g.stopLoad()
			g.closeStmts()
			return nil, fmt.Errorf("prepare lead statements: %w", err)
		}
		*p.dst = st
	}
	go g.loadIndexes(readers, noteDamage, hold)
	go g.run()
	return g, nil
}

// do hands one submission to the writer and waits for its group's commit.
// The request comes back with its outcome set (earlier, dropped, err).
// Once taken, the request is waited for even if ctx ends meanwhile: the
// writer is using the caller's records, and the commit is seconds away at
// worst (busy_timeout).
func (g *groupCommitter) do(ctx context.Context, lead *models.Lead, consent *models.ConsentEvent, outbox []models.OutboxMessage, guards models.Guards) *createReq {
	r := &createReq{ctx: ctx, lead: lead, consent: consent, outbox: outbox, guards: guards, result: make(chan struct{})}
	g.prepare(r)
	select {
	case g.reqs <- r:
	case <-g.closing:
		r.err = errStoreClosed
		return r
	case <-ctx.Done():
		r.err = ctx.Err()
		return r
	}
	<-r.result
	return r
}

// prepare does, in the caller's goroutine, every part of a submission's
// work that needs no other submission: hashing, defaults, random ids. The
// single writer is the bottleneck under load; what it does not have to do
// itself, the other cores do in parallel.
func (g *groupCommitter) prepare(r *createReq) {
	lead, consent := r.lead, r.consent
	lead.EmailKey = models.NormalizeEmail(lead.Email)
	if lead.Status == "" {
		lead.Status = models.LeadNew
	}
	if consent.At.IsZero() {
		consent.At = lead.CreatedAt
	}
	now := time.Now().UTC()
	for i := range r.outbox {
		m := &r.outbox[i]
		if m.Status == "" {
			m.Status = models.StatusPending
		}
		if m.MessageID == "" {
			m.MessageID = models.NewToken(16)
		}
		for _, t := range []*time.Time{&m.CreatedAt, &m.QueuedAt, &m.NextAttemptAt} {
			if t.IsZero() {
				*t = now
			}
		}
	}
	r.key = keyOf(consent.Subject, consent.Action, lead.Message)
	r.person = personKey(g.seed, consent.Subject)
	r.hash = g.addresses.Hash(consent.Subject)
}

func (g *groupCommitter) stop() {
	close(g.closing)
	g.stopWarming()
	<-g.done
	g.closeStmts()
}

func (g *groupCommitter) closeStmts() {
	for _, st := range []*sql.Stmt{g.stmts.lead, g.stmts.search, g.stmts.consent, g.stmts.outbox,
		g.stmts.confirmations, g.stmts.earlier, g.stmts.withdrawnAfter, g.stmts.recall, g.stmts.unsuppress} {
		if st != nil {
			_ = st.Close()
		}
	}
}

func (g *groupCommitter) run() {
	defer close(g.done)
	group := make([]*createReq, 0, maxGroup)
	for {
		select {
		case r := <-g.reqs:
			group = append(group[:0], r)
		case j := <-g.jobs:
			g.runJob(j)
			continue
		case w := <-g.warmed:
			g.takeWarm(w)
			continue
		case <-g.closing:
			return
		}
	collect:
		for len(group) < maxGroup {
			select {
			case r := <-g.reqs:
				group = append(group, r)
			default:
				break collect
			}
		}
		if len(group) >= busyGroup {
			g.crowdedAt.Store(time.Now().UnixNano())
		}
		g.commit(group)
		for _, r := range group {
			close(r.result)
		}
	}
}

// commit writes a group in one transaction and records each request's
// outcome. A request cancelled before its turn is skipped.
func (g *groupCommitter) commit(group []*createReq) {
	live := make([]*createReq, 0, len(group))
	for _, r := range group {
		if r.err = r.ctx.Err(); r.err == nil {
			live = append(live, r)
		}
	}
	err := g.inTx(func(st leadStmts) error {
		p := newUncommitted(len(live))
		for _, r := range live {
			if r.err = g.insert(st, r, p); r.err != nil {
				return r.err
			}
		}
		return nil
	})
	if err == nil {
		// A commit to a file deleted or replaced under the server goes
		// where nobody will look again: not a lead kept.
		if err = g.fileGone(); err != nil {
			g.cannotStore.Store(true)
			for _, r := range live {
				r.err = err
			}
			return
		}
	}
	g.noteStorage(err)
	if err == nil {
		g.remember(live)
		return
	}
	if len(live) == 1 {
		live[0].err = err
		return
	}
	// Nothing of the group was committed; commit each alone.
	for _, r := range live {
		r.err = g.inTx(func(st leadStmts) error { return g.insert(st, r, newUncommitted(1)) })
		g.noteStorage(r.err)
		if r.err == nil {
			g.remember([]*createReq{r})
		}
	}
}

// withdrawnSinceSQL is true when the person of consent event c withdrew
// after it: the rule by which ticking the box again is new consent, not a
// double click, both in the writer (insert) and in the reading twin of its
// duplicate check (earlierSubmissionSQL). Ids of consent events grow with
// time, and the person's events are found through idx_consent_subject.
const withdrawnSinceSQL = `EXISTS (SELECT 1 FROM consent_events w WHERE w.subject = c.subject
	AND w.purpose = c.purpose AND w.action = '` + models.ActionWithdrawn + `' AND w.id > c.id)`

// fileGone returns an error when the database file is no longer the one
// opened: deleted (connections keep writing to the unlinked file, lost at
// the next start) or replaced (a restore while running).
func (g *groupCommitter) fileGone() error {
	fi, err := os.Stat(g.path)
	if err != nil || !os.SameFile(fi, g.file) {
		return fmt.Errorf("%w: the database file %q was deleted or replaced while the server ran; restart it", errFileGone, g.path)
	}
	return nil
}

// noteStorage records whether a commit showed the database unable to keep
// leads (see cannotStore).
func (g *groupCommitter) noteStorage(err error) {
	switch {
	case err == nil:
		g.stored.Store(time.Now().UnixNano())
	case isStorageFailure(err):
		g.cannotStore.Store(true)
	}
}

// isStorageFailure reports errors that no retry of the same submission can
// fix: the disk is full or failing, the file is read-only, gone or not a
// database. A constraint or a bad value is the submission's own problem.
func isStorageFailure(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case sqlite3.ErrFull, sqlite3.ErrIoErr, sqlite3.ErrReadonly, sqlite3.ErrCantOpen,
		sqlite3.ErrCorrupt, sqlite3.ErrNotADB, sqlite3.ErrPerm:
		return true
	}
	return false
}

// uncommitted is what a group has written so far: the in-memory indexes
// learn it only once the group commits, but the group's later submissions
// must already see it.
type uncommitted struct {
	leads    map[dupKey]recentLead
	confirms map[uint64]int
}

func newUncommitted(n int) *uncommitted {
	return &uncommitted{leads: make(map[dupKey]recentLead, n), confirms: make(map[uint64]int)}
}

// insert writes one submission (see leadStmts.insert) after its guards:
// nothing when it duplicates a recent submission (r.earlier is set), and
// no confirmation email when the person already got the most allowed
// (r.dropped is set; the lead and its consent event are written). The
// outcome is decided again on every attempt, since a failed group's
// submissions are retried one by one.
func (g *groupCommitter) insert(st leadStmts, r *createReq, p *uncommitted) error {
	r.earlier, r.known, r.dropped, r.recalled = 0, recentLead{}, false, false
	dedupe := !r.guards.DuplicateSince.IsZero() && r.consent.Method == models.MethodForm
	if dedupe && !g.warm {
		id, err := g.earlierInDB(st, r)
		if err != nil {
			return err
		}
		if id != 0 {
			r.earlier = id
			return nil
		}
	}
	if dedupe && g.warm {
		if l, ok := g.recent.find(r.key, r.guards.DuplicateSince); ok {
			// The same ticked box after an opt-out is new consent, not a
			// double click: a person may change their mind back at once.
			// Asked only of a duplicate, which is rare, so the writer
			// still runs no query per submission.
			renewed := false
			if r.consent.Action == models.ActionGiven {
				err := st.withdrawnAfter.QueryRow(l.id).Scan(&renewed)
				if err != nil {
					return fmt.Errorf("look for an opt-out since the earlier submission: %w", err)
				}
			}
			if !renewed {
				r.earlier, r.known = l.id, l
				return nil
			}
		}
		if l, ok := p.leads[r.key]; ok && l.since(r.guards.DuplicateSince) {
			r.earlier, r.known = l.id, l
			return nil
		}
	}
	if r.guards.LimitConfirmations && r.queuesConfirmation() {
		n, err := g.confirmationsOf(st, r, p)
		if err != nil {
			return err
		}
		r.dropped = n >= r.guards.MaxConfirmations
	}
	if err := st.recallWithdrawal(r); err != nil {
		return err
	}
	if err := st.insert(r); err != nil {
		return err
	}
	if dedupe {
		p.leads[r.key] = recentOf(r.lead)
	}
	if r.countsConfirmation() {
		p.confirms[r.person]++
	}
	return nil
}

// confirmationsOf counts the confirmation emails queued for r's person in
// the ConfirmWindow before r, this group's included: from memory when the
// index covers the window, else from the database inside the transaction
// (which sees the group's own rows).
func (g *groupCommitter) confirmationsOf(st leadStmts, r *createReq, p *uncommitted) (int, error) {
	since := r.lead.CreatedAt.Add(-models.ConfirmWindow)
	if g.warm {
		if n, ok := g.confirms.known(r.person, since); ok {
			return n + p.confirms[r.person], nil
		}
	}
	// Not loaded yet, or forgotten: the database, which sees the group's
	// own rows.
	var n int
	from, to, like := subaddressRange(r.consent.Subject)
	err := st.confirmations.QueryRow(models.Mailbox(r.consent.Subject), from, to, like, models.PurposeMarketingEmail, since.UTC()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count confirmation emails: %w", err)
	}
	return n, nil
}

// queuesConfirmation reports whether r's outbox holds a confirmation email.
func (r *createReq) queuesConfirmation() bool {
	for _, m := range r.outbox {
		if m.Kind == models.KindConsentConfirmation {
			return true
		}
	}
	return false
}

// countsConfirmation reports whether r, once written, counts towards its
// person's confirmation limit: a confirmation email was queued with a
// submission's consent event (as confirmationsSQL counts them).
func (r *createReq) countsConfirmation() bool {
	return r.earlier == 0 && !r.dropped && r.consent.Method == models.MethodForm && r.queuesConfirmation()
}

// remember adds committed submissions to the in-memory indexes (or, while
// they load, to what they will learn once loaded).
func (g *groupCommitter) remember(reqs []*createReq) {
	if !g.warm {
		g.rememberCold(reqs)
		return
	}
	for _, r := range reqs {
		if r.err != nil || r.earlier != 0 {
			continue
		}
		if r.consent.Method == models.MethodForm {
			g.recent.add(r.key, recentOf(r.lead))
		}
		if r.countsConfirmation() {
			g.confirms.add(r.person, r.lead.CreatedAt)
		}
	}
}

// inTx runs f in one write transaction with the statements bound to it.
// The transaction serves many requests, so no single request's context may
// cancel it.
func (g *groupCommitter) inTx(f func(leadStmts) error) error {
	ctx := context.Background()
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// The writer pool has one connection, so these reuse the statements
	// prepared on it instead of preparing them again.
	st := leadStmts{
		lead:           tx.StmtContext(ctx, g.stmts.lead),
		search:         tx.StmtContext(ctx, g.stmts.search),
		consent:        tx.StmtContext(ctx, g.stmts.consent),
		outbox:         tx.StmtContext(ctx, g.stmts.outbox),
		confirmations:  tx.StmtContext(ctx, g.stmts.confirmations),
		earlier:        tx.StmtContext(ctx, g.stmts.earlier),
		withdrawnAfter: tx.StmtContext(ctx, g.stmts.withdrawnAfter),
		recall:         tx.StmtContext(ctx, g.stmts.recall),
		unsuppress:     tx.StmtContext(ctx, g.stmts.unsuppress),
	}
	if err := f(st); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// insert writes one submission, prepared: the lead, its consent event and
// its outbox messages (but a dropped confirmation email), filling in their
// ids.
func (st leadStmts) insert(r *createReq) error {
	lead, consent := r.lead, r.consent
	res, err := st.lead.Exec(lead.PublicID, lead.CreatedAt.UTC(), lead.Name, lead.Email, lead.EmailKey,
		lead.Phone, lead.Company, lead.Message, lead.PageURL,
		lead.UTMSource, lead.UTMMedium, lead.UTMCampaign, lead.UTMTerm, lead.UTMContent, lead.Status,
		lead.OptOutToken, lead.ConfirmToken, utcOrNil(lead.ConfirmExpiresAt), utcOrNil(lead.ErasedAt))
	if err != nil {
		return fmt.Errorf("insert lead: %w", err)
	}
	if lead.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	if _, err := st.search.Exec(lead.ID, searchText(lead)); err != nil {
		return fmt.Errorf("insert lead search text: %w", err)
	}
	consent.LeadID = &lead.ID
	res, err = st.consent.Exec(consent.Subject, consent.Purpose, consent.At.UTC(), consent.Action, consent.Method,
		consent.LeadID, consent.IP, consent.UserAgent, consent.PageURL, consent.ConsentTextID)
	if err != nil {
		return fmt.Errorf("insert consent event: %w", err)
	}
	if consent.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	for i := range r.outbox {
		m := &r.outbox[i]
		if r.dropped && m.Kind == models.KindConsentConfirmation {
			continue
		}
		m.LeadID = lead.ID
		res, err := st.outbox.Exec(m.LeadID, m.Kind, m.Recipient, m.Status, m.CreatedAt.UTC(), m.NextAttemptAt.UTC(),
			utcOrNil(m.LeaseUntil), m.QueuedAt.UTC(), m.Attempts, m.LastError, utcOrNil(m.SentAt), m.MessageID,
			m.Event, m.Target, m.Data)
		if err != nil {
			return fmt.Errorf("insert outbox message: %w", err)
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	lead.Consent = consent
	return nil
}

// recallWithdrawal writes into the ledger, before r's own consent event, a
// withdrawal that was known only by the address's keyed hash: a
// suppression recorded while Leadbox held nothing about the address, or
// the opt-out of an address that was erased since. The address is back,
// so its ledger can hold the decision again, and the decision is in force
// from when it was made: a submission with the box unticked leaves the
// person withdrawn, a ticked one is new consent after it. One look-up by
// primary key in a small table per submission.
func (st leadStmts) recallWithdrawal(r *createReq) error {
	res, err := st.recall.Exec(r.consent.Subject, r.hash)
	if err != nil {
		return fmt.Errorf("recall a withdrawal from the suppression list: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	if _, err := st.unsuppress.Exec(r.hash); err != nil {
		return fmt.Errorf("recall a withdrawal from the suppression list: %w", err)
	}
	r.recalled = true
	return nil
}

// writeJob is a write that runs alone in the writer goroutine (see
// groupCommitter.jobs). fn commits it and says what the in-memory indexes
// must forget.
type writeJob struct {
	fn   func() (forgetting, error)
	err  error
	done chan struct{}
}

// forgetting is what an erased address leaves in the in-memory indexes:
// its submissions' duplicate keys and its normalised address.
type forgetting struct {
	keys     []dupKey
	subjects []string
}

// exclusive runs fn alone in the writer goroutine and waits for it. Once
// taken, the job is waited for even if ctx ends (fn watches ctx itself).
func (g *groupCommitter) exclusive(ctx context.Context, fn func() (forgetting, error)) error {
	j := &writeJob{fn: fn, done: make(chan struct{})}
	select {
	case g.jobs <- j:
	case <-g.closing:
		return errStoreClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-j.done
	return j.err
}

func (g *groupCommitter) runJob(j *writeJob) {
	f, err := j.fn()
	if err == nil && !g.warm {
		g.forgetCold(f)
	} else if err == nil {
		for _, k := range f.keys {
			g.recent.forget(k)
		}
		for _, s := range f.subjects {
			g.confirms.forget(g.confirms.key(s))
		}
	}
	g.noteStorage(err)
	j.err = err
	close(j.done)
}

func utcOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}
