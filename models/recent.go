package models

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"time"
)

// maxRecent bounds the memory of duplicate detection: about 100 bytes per
// entry, so 50,000 entries stay near 5 MB. Duplicates are double clicks and
// browser retries, seconds apart, so forgetting the oldest entries under a
// flood loses nothing that matters.
const maxRecent = 50_000

// dupKey identifies "the same submission": the same person, consent choice
// and message. A hash keeps the key small whatever the message's length.
type dupKey [sha256.Size]byte

func keyOf(subject, action, message string) dupKey {
	h := sha256.New()
	for _, s := range []string{subject, action, message} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k dupKey
	h.Sum(k[:0])
	return k
}

type recentLead struct {
	id int64
	at time.Time
}

// recentLeads remembers the latest submissions for duplicate detection. It
// is owned by the group committer's goroutine, the only writer of leads,
// so it needs no lock and sees every lead as it is committed. Looking
// duplicates up here instead of in the database keeps a query out of the
// single writer's path, where it cost more than the inserts themselves.
type recentLeads struct {
	byKey map[dupKey]recentLead
	ring  []dupKey // insertion order, to forget the oldest first
	next  int
}

func newRecentLeads() *recentLeads {
	return &recentLeads{byKey: make(map[dupKey]recentLead), ring: make([]dupKey, 0, 1024)}
}

// find returns the lead with key made at or after since.
func (r *recentLeads) find(k dupKey, since time.Time) (int64, bool) {
	l, ok := r.byKey[k]
	if !ok || l.at.Before(since) {
		return 0, false
	}
	return l.id, true
}

// add remembers a committed lead, forgetting the oldest beyond maxRecent.
func (r *recentLeads) add(k dupKey, id int64, at time.Time) {
	if _, ok := r.byKey[k]; ok {
		r.byKey[k] = recentLead{id: id, at: at}
		return
	}
	if len(r.ring) < maxRecent {
		r.ring = append(r.ring, k)
	} else {
		delete(r.byKey, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % maxRecent
	}
	r.byKey[k] = recentLead{id: id, at: at}
}

// load fills the index from the latest leads in the database, so duplicate
// detection survives a restart.
func (r *recentLeads) load(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT l.id, l.created_at, c.subject, c.action, l.message
		FROM leads l JOIN consent_events c ON c.lead_id = l.id AND c.method = ?
		ORDER BY l.id DESC LIMIT ?`, MethodForm, maxRecent)
	if err != nil {
		return fmt.Errorf("load recent leads: %w", err)
	}
	defer rows.Close()
	var latest []recentLead
	var keys []dupKey
	for rows.Next() {
		var l recentLead
		var subject, action, message string
		if err := rows.Scan(&l.id, &l.at, &subject, &action, &message); err != nil {
			return fmt.Errorf("load recent leads: %w", err)
		}
		latest, keys = append(latest, l), append(keys, keyOf(subject, action, message))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load recent leads: %w", err)
	}
	for i := len(latest) - 1; i >= 0; i-- { // oldest first
		r.add(keys[i], latest[i].id, latest[i].at)
	}
	return nil
}
