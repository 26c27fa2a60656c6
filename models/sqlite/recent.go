package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/leadbox/leadbox/models"
)

// maxRecent bounds the memory of duplicate detection: 50,000 entries cost
// 5.9 MiB measured at the cap (a map entry and a ring slot each, with the
// map's spare room), not the 3 MB once estimated from the key's size; with
// each lead's public id (see recentLead) 6.7 MiB, against 4.4 without by
// the same measure (live heap after a GC). Duplicates are double clicks and
// browser retries, seconds apart, so forgetting the oldest entries under a
// flood loses nothing that matters.
const maxRecent = 50_000

// dupKey identifies "the same submission": the same person, consent choice
// and message. A hash keeps the key small whatever the message's length;
// 128 bits of SHA-256, because a collision would drop a real lead as a
// duplicate (odds about 10^-34 per submission against 50,000 entries).
type dupKey [16]byte

func keyOf(subject, action, message string) dupKey {
	h := sha256.New()
	for _, s := range []string{subject, action, message} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return dupKey(h.Sum(sum[:0]))
}

// recentLead is a committed lead's id and creation time (UnixNano), and
// its public id, which is what the answer to its duplicates needs besides
// its consent choice (the same as theirs: it is part of the key). With it
// the writer answers a duplicate from memory; reading the earlier lead
// instead halved the rate at which a replayed submission was answered
// (see docs/performance.md, "Repeated submissions"). The public id costs
// 2.3 MiB at the cap (see maxRecent).
type recentLead struct {
	id       int64
	at       int64
	publicID string
}

// recentOf is what the index keeps of a committed lead.
func recentOf(lead *models.Lead) recentLead {
	return recentLead{id: lead.ID, at: lead.CreatedAt.UnixNano(), publicID: lead.PublicID}
}

func (l recentLead) since(t time.Time) bool { return l.at >= t.UnixNano() }

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
func (r *recentLeads) find(k dupKey, since time.Time) (recentLead, bool) {
	l, ok := r.byKey[k]
	if !ok || !l.since(since) {
		return recentLead{}, false
	}
	return l, true
}

// add remembers a committed lead, forgetting the oldest beyond maxRecent.
func (r *recentLeads) add(k dupKey, l recentLead) {
	if _, ok := r.byKey[k]; ok {
		r.byKey[k] = l
		return
	}
	if len(r.ring) < maxRecent {
		r.ring = append(r.ring, k)
	} else {
		delete(r.byKey, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % maxRecent
	}
	r.byKey[k] = l
}

// forget drops k (an erased submission): its ring slots are blanked, so
// that recycling them later cannot drop a newer entry of the same key.
func (r *recentLeads) forget(k dupKey) {
	if _, ok := r.byKey[k]; !ok {
		return
	}
	delete(r.byKey, k)
	for i := range r.ring {
		if r.ring[i] == k {
			r.ring[i] = dupKey{}
		}
	}
}

// load fills the index from the latest leads in the database, so duplicate
// detection survives a restart.
func (r *recentLeads) load(ctx context.Context, db queryer) error {
	rows, err := db.QueryContext(ctx, `SELECT l.id, l.created_at, c.subject, c.action, l.message, l.public_id
		FROM leads l JOIN consent_events c ON c.lead_id = l.id AND c.method = ?
		ORDER BY l.id DESC LIMIT ?`, models.MethodForm, maxRecent)
	if err != nil {
		return fmt.Errorf("load recent leads: %w", err)
	}
	defer rows.Close()
	var latest []recentLead
	var keys []dupKey
	for rows.Next() {
		var id int64
		var at time.Time
		var subject, action, message, publicID string
		if err := rows.Scan(&id, &at, &subject, &action, &message, &publicID); err != nil {
			return fmt.Errorf("load recent leads: %w", err)
		}
		latest = append(latest, recentLead{id: id, at: at.UnixNano(), publicID: publicID})
		keys = append(keys, keyOf(subject, action, message))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load recent leads: %w", err)
	}
	for i := len(latest) - 1; i >= 0; i-- { // oldest first
		r.add(keys[i], latest[i])
	}
	return nil
}
