package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/leadbox/leadbox/models"
)

// maxConfirmEntries bounds the memory of the confirmation limit: 100,000
// emails in a day cost 6.05 MiB measured at the cap (ring, map and the
// map's spare room), not the 4 MB once estimated. Beyond that the oldest are forgotten and checks that reach
// back past them ask the database instead (see confirmationsOf).
var maxConfirmEntries = 100_000

// confirmIndex counts the confirmation emails queued per person in the last
// ConfirmWindow. Like recentLeads it is owned by the group committer's
// goroutine: the limit is checked and the email queued in the same write
// transaction, so two submissions at once cannot both slip under it, and
// no query runs for it on the submission path.
//
// People are kept as a keyed 64-bit hash of their normalised address, not
// the address: smaller, and a collision (about 1 in 10^10 for 100,000
// addresses) only makes the limit stricter for two people at once.
type confirmIndex struct {
	seed  maphash.Seed
	ring  []confirmEntry // in commit order, which is time order to the millisecond
	head  int            // index of the oldest entry in ring
	size  int
	count map[uint64]int32
	// from is the start of what the index knows: every confirmation
	// queued at or after it is counted. Forgetting one to stay within
	// maxConfirmEntries moves it forward.
	from time.Time
}

type confirmEntry struct {
	person uint64
	at     int64 // UnixNano
}

func newConfirmIndex(seed maphash.Seed) *confirmIndex {
	return &confirmIndex{seed: seed, count: make(map[uint64]int32)}
}

// key is the person the limit counts for (see personKey).
func (c *confirmIndex) key(subject string) uint64 { return personKey(c.seed, subject) }

// personKey is the person the limit counts for: their mailbox, so that
// victim+1@, victim+2@ ... (RFC 5233 subaddresses, which most providers
// deliver to victim@) share one count instead of each having its own.
func personKey(seed maphash.Seed, subject string) uint64 {
	return maphash.String(seed, models.Mailbox(subject))
}

// subaddressRange returns the arguments of confirmationsSQL that find a
// mailbox's subaddresses through the subject index: subjects after
// "local+" and before "local," (the next byte), ending in "@domain".
func subaddressRange(subject string) (from, to, like string) {
	m := models.Mailbox(subject)
	at := strings.LastIndexByte(m, '@')
	if at < 0 {
		return m + "+", m + ",", ""
	}
	escape := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return m[:at] + "+", m[:at] + ",", "%" + escape.Replace(m[at:])
}

// known returns the number of confirmations queued for person at or after
// since, and false when the index cannot tell because it forgot some of
// that period.
func (c *confirmIndex) known(person uint64, since time.Time) (int, bool) {
	if since.Before(c.from) {
		return 0, false
	}
	c.expire(since)
	return int(c.count[person]), true
}

// expire forgets the entries older than since from the front of the ring.
// The index then knows nothing before since: a later check reaching back
// further (after the clock was set back) asks the database.
func (c *confirmIndex) expire(since time.Time) {
	dropped := false
	for c.size > 0 && c.ring[c.head].at < since.UnixNano() {
		c.drop()
		dropped = true
	}
	if dropped && since.After(c.from) {
		c.from = since
	}
}

// drop forgets the oldest entry.
func (c *confirmIndex) drop() {
	e := c.ring[c.head]
	if c.count[e.person]--; c.count[e.person] <= 0 {
		delete(c.count, e.person)
	}
	c.head = (c.head + 1) % len(c.ring)
	c.size--
}

// add counts a committed confirmation email, forgetting the oldest beyond
// maxConfirmEntries.
func (c *confirmIndex) add(person uint64, at time.Time) {
	if len(c.ring) < maxConfirmEntries && c.size == len(c.ring) {
		c.grow()
	}
	if c.size == len(c.ring) {
		forgotten := time.Unix(0, c.ring[c.head].at)
		c.drop()
		// Checks reaching back to the forgotten entry's time are no longer
		// complete.
		if after := forgotten.Add(time.Nanosecond); after.After(c.from) {
			c.from = after
		}
	}
	c.ring[(c.head+c.size)%len(c.ring)] = confirmEntry{person: person, at: at.UnixNano()}
	c.size++
	c.count[person]++
}

// forget drops what the index counts for person (an erased address). Its
// ring entries are blanked (person 0, which no address's hash is in
// practice), so that their expiry later leaves a new count alone.
func (c *confirmIndex) forget(person uint64) {
	if _, ok := c.count[person]; !ok {
		return
	}
	delete(c.count, person)
	for i := range c.size {
		if e := &c.ring[(c.head+i)%len(c.ring)]; e.person == person {
			e.person = 0
		}
	}
}

// grow doubles the ring (up to maxConfirmEntries), keeping the order.
func (c *confirmIndex) grow() {
	n := min(max(2*len(c.ring), 1024), maxConfirmEntries)
	ring := make([]confirmEntry, n)
	for i := range c.size {
		ring[i] = c.ring[(c.head+i)%len(c.ring)]
	}
	c.ring, c.head = ring, 0
}

// load fills the index with the confirmation emails queued in the last
// ConfirmWindow, so the limit survives a restart. It walks the outbox from
// the newest row back and stops at the first row older than the window,
// whatever its kind, so start-up reads one day of the outbox at most.
func (c *confirmIndex) load(ctx context.Context, db queryer, now time.Time) error {
	since := now.Add(-models.ConfirmWindow)
	c.from = since
	rows, err := db.QueryContext(ctx, `SELECT o.created_at, c.subject FROM outbox o
		LEFT JOIN consent_events c ON o.kind = ? AND c.lead_id = o.lead_id AND c.method = ?
		ORDER BY o.id DESC`, models.KindConsentConfirmation, models.MethodForm)
	if err != nil {
		return fmt.Errorf("load confirmation counts: %w", err)
	}
	defer rows.Close()
	var latest []confirmEntry // newest first
	for rows.Next() {
		var at time.Time
		var subject sql.NullString
		if err := rows.Scan(&at, &subject); err != nil {
			return fmt.Errorf("load confirmation counts: %w", err)
		}
		if at.Before(since) {
			break
		}
		if !subject.Valid { // not a confirmation email
			continue
		}
		if len(latest) == maxConfirmEntries {
			// More than the index holds: it knows only what came after
			// the newest one left out.
			c.from = at.Add(time.Nanosecond)
			break
		}
		latest = append(latest, confirmEntry{person: c.key(subject.String), at: at.UnixNano()})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load confirmation counts: %w", err)
	}
	for i := len(latest) - 1; i >= 0; i-- {
		c.add(latest[i].person, time.Unix(0, latest[i].at))
	}
	return nil
}

// confirmationsSQL counts, inside the write transaction, what the index
// forgot: the confirmation emails queued for a person since a time. Each
// lead has exactly one consent event made by its form; later events about
// the same lead (confirmed, withdrawn) must not count it again.
//
// A person's mailbox is the address and its subaddresses (see key).
const confirmationsSQL = `SELECT count(*) FROM consent_events c JOIN outbox o ON o.lead_id = c.lead_id
	WHERE (c.subject = ? OR (c.subject > ? AND c.subject < ? AND c.subject LIKE ? ESCAPE '\'))
	AND c.purpose = ? AND c.method = '` + models.MethodForm + `' AND o.` + kindIsConfirmation + ` AND o.created_at >= ?`
