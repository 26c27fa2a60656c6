package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// decisiveSQL is the action of a person's latest consent event that
// decides their marketing state (given, confirmed or withdrawn; NULL when
// there is none), found through idx_consent_subject newest first. It is
// how SQL filters by models.MarketingOf's states: a lead list filtered at
// the database, not in memory. Its mapping (marketingFilter) follows
// MarketingOf; the conformance suite checks the two agree.
const decisiveSQL = `(SELECT c.action FROM consent_events c
	WHERE c.subject = l.email_key AND c.purpose = '` + models.PurposeMarketingEmail + `'
	AND c.action IN ('` + models.ActionGiven + `', '` + models.ActionConfirmed + `', '` + models.ActionWithdrawn + `')
	ORDER BY c.id DESC LIMIT 1)`

// marketingFilter is the condition on decisiveSQL for one of
// models.MarketingStates.
func marketingFilter(state string, doubleOptIn bool) (string, error) {
	switch {
	case state == models.MarketingGiven && doubleOptIn:
		return decisiveSQL + " = 'confirmed'", nil
	case state == models.MarketingGiven:
		return decisiveSQL + " IN ('given', 'confirmed')", nil
	case state == models.MarketingPending && doubleOptIn:
		return decisiveSQL + " = 'given'", nil
	case state == models.MarketingPending:
		return "0", nil // without double opt-in nothing waits for a confirmation
	}
	switch state {
	case models.MarketingWithdrawn:
		return decisiveSQL + " = 'withdrawn'", nil
	case models.MarketingNotGiven:
		return decisiveSQL + " IS NULL", nil
	}
	return "", fmt.Errorf("no marketing state %q", state)
}

// searchText is what the inbox's search looks in: a lead's name, email,
// company and message, folded, one per line (so that a search cannot
// match across two of them).
func searchText(l *models.Lead) string {
	return fold(l.Name + "\n" + l.Email + "\n" + l.Company + "\n" + l.Message)
}

// fold makes text and search terms compare without regard to case, in
// every alphabet (Zoë and ZOË, Łódź and ŁÓDŹ).
func fold(s string) string { return strings.ToLower(s) }

// leadsWhere turns a filter into SQL conditions on leads l. Forms and
// spam are not kept yet: every lead is the contact form's and none is
// spam, so a filter for another form or for spam matches nothing.
func leadsWhere(f models.LeadFilter, doubleOptIn bool) (conds []string, args []any, err error) {
	if f.Spam || (f.Form != "" && f.Form != "contact") {
		return []string{"0"}, nil, nil
	}
	// An erased lead is kept for counts only: nothing in it is anybody's.
	conds = append(conds, "l.erased_at IS NULL")
	if f.Status != "" {
		// With a search, the unary + keeps SQLite from walking the status
		// index (and every lead of a common status) instead of lead_search
		// in order; see leadsQuery.
		cond := "l.status = ?"
		if strings.TrimSpace(f.Query) != "" {
			cond = "+l.status = ?"
		}
		conds, args = append(conds, cond), append(args, f.Status)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "l.created_at >= ?"), append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "l.created_at < ?"), append(args, f.Until.UTC())
	}
	if q := fold(strings.TrimSpace(f.Query)); strings.Contains(q, "\n") {
		conds = append(conds, "0") // the line break separates fields in searchText
	} else if q != "" {
		// A substring cannot use an index: this scans the narrow
		// lead_search rows newest first until the page is full.
		conds = append(conds, "instr(s.text, ?) > 0")
		args = append(args, q)
	}
	if f.Marketing != "" {
		cond, err := marketingFilter(f.Marketing, doubleOptIn)
		if err != nil {
			return nil, nil, err
		}
		conds = append(conds, cond)
	}
	return conds, args, nil
}

// Leads returns up to limit leads matching f, newest first, older than
// the lead with row id before (0: from the newest).
func (s *Store) Leads(ctx context.Context, f models.LeadFilter, before int64, limit int, doubleOptIn bool) ([]models.LeadItem, error) {
	if limit <= 0 {
		return nil, nil
	}
	conds, args, err := leadsWhere(f, doubleOptIn)
	if err != nil {
		return nil, fmt.Errorf("list leads: %w", err)
	}
	query, order := leadsQuery(f, conds, before > 0)
	if before > 0 {
		args = append(args, before)
	}
	rows, err := s.r.WithContext(ctx).Raw(query+" ORDER BY "+order+" DESC LIMIT ?", append(args, limit)...).Rows()
	if err != nil {
		return nil, fmt.Errorf("list leads: %w", err)
	}
	defer rows.Close()
	leads := make([]models.Lead, 0, limit)
	for rows.Next() {
		var l models.Lead
		if err := s.damageOf(scanLead(rows, &l)); err != nil {
			return nil, fmt.Errorf("list leads: %w", err)
		}
		leads = append(leads, l)
	}
	if err := s.damageOf(rows.Err()); err != nil {
		return nil, fmt.Errorf("list leads: %w", err)
	}
	return s.withMarketing(ctx, leads, doubleOptIn)
}

// leadsQuery is the SELECT of a page of leads with conds (and, with
// keyset, a row id bound as the last argument), and the column to order
// it by. A search is driven by lead_search newest first, each match's lead
// found by its primary key: ordering by the leads' own id would make
// SQLite walk the wide leads rows instead.
func leadsQuery(f models.LeadFilter, conds []string, keyset bool) (query, order string) {
	query, order = "SELECT "+leadColumns+" FROM leads l", "l.id"
	if strings.TrimSpace(f.Query) != "" {
		query, order = "SELECT "+leadColumns+" FROM lead_search s JOIN leads l ON l.id = s.lead_id", "s.lead_id"
	}
	if keyset {
		conds = append(conds, order+" < ?")
	}
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	return query, order
}

// leadColumns and scanLead read a lead by hand: an export reads every lead
// through them, and GORM's reflection cost more than SQLite's reading.
// TestFastPathWritesEveryColumn fails when a column of the model is not
// read back here.
const leadColumns = `l.id, l.public_id, l.created_at, l.name, l.email, l.email_key, l.phone, l.company, l.message,
	l.page_url, l.utm_source, l.utm_medium, l.utm_campaign, l.utm_term, l.utm_content, l.status,
	l.opt_out_token, l.confirm_token, l.confirm_expires_at, l.erased_at`

func scanLead(rows interface{ Scan(...any) error }, l *models.Lead) error {
	return rows.Scan(leadFields(l)...)
}

// leadFields are where leadColumns are scanned to, in their order.
func leadFields(l *models.Lead) []any {
	return []any{&l.ID, &l.PublicID, &l.CreatedAt, &l.Name, &l.Email, &l.EmailKey, &l.Phone, &l.Company, &l.Message,
		&l.PageURL, &l.UTMSource, &l.UTMMedium, &l.UTMCampaign, &l.UTMTerm, &l.UTMContent, &l.Status,
		&l.OptOutToken, &l.ConfirmToken, &l.ConfirmExpiresAt, &l.ErasedAt}
}

// withMarketing adds each lead's marketing state, reading the consent
// events of all their people in one query.
func (s *Store) withMarketing(ctx context.Context, leads []models.Lead, doubleOptIn bool) ([]models.LeadItem, error) {
	if len(leads) == 0 {
		return nil, nil
	}
	subjects := make([]string, 0, len(leads))
	for _, l := range leads {
		if l.EmailKey != "" { // "" is every erased lead's: nobody's
			subjects = append(subjects, l.EmailKey)
		}
	}
	// Only what MarketingOf reads, scanned by hand: on an export this
	// runs once per batch of leads, and GORM's reflection cost more than
	// the query. In the order the events were appended, which is the order
	// that decides (as decisiveSQL reads it), whatever clocks wrote their
	// times.
	rows, err := s.r.WithContext(ctx).Raw(`SELECT subject, action, at FROM consent_events
		WHERE subject IN ? AND purpose = ? ORDER BY id`, subjects, models.PurposeMarketingEmail).Rows()
	if err != nil {
		return nil, fmt.Errorf("read consent events: %w", err)
	}
	defer rows.Close()
	bySubject := make(map[string][]models.ConsentEvent, len(leads))
	for rows.Next() {
		e := models.ConsentEvent{Purpose: models.PurposeMarketingEmail}
		if err := s.damageOf(rows.Scan(&e.Subject, &e.Action, &e.At)); err != nil {
			return nil, fmt.Errorf("read consent events: %w", err)
		}
		bySubject[e.Subject] = append(bySubject[e.Subject], e)
	}
	if err := s.damageOf(rows.Err()); err != nil {
		return nil, fmt.Errorf("read consent events: %w", err)
	}
	items := make([]models.LeadItem, len(leads))
	for i, l := range leads {
		items[i] = models.LeadItem{Lead: l, Marketing: models.MarketingOf(bySubject[l.EmailKey], doubleOptIn)}
	}
	return items, nil
}

// eachBatch is how many leads EachLead reads at a time: each batch is one
// short read, so a long export neither holds one snapshot open (which would
// keep the write-ahead log from being checkpointed) nor grows in memory.
const eachBatch = 500

// EachLead calls fn for every lead matching f, newest first, in batches.
func (s *Store) EachLead(ctx context.Context, f models.LeadFilter, doubleOptIn bool, fn func(models.LeadItem) error) error {
	var before int64
	for {
		items, err := s.Leads(ctx, f, before, eachBatch, doubleOptIn)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(items) < eachBatch {
			return nil
		}
		before = items[len(items)-1].ID
	}
}

// LeadDetail returns everything about the lead with publicID.
func (s *Store) LeadDetail(ctx context.Context, publicID string, doubleOptIn bool) (models.LeadDetail, error) {
	lead, err := s.LeadByPublicID(ctx, publicID)
	if err != nil {
		return models.LeadDetail{}, err
	}
	var d models.LeadDetail
	if d.Consent, err = s.ConsentHistory(ctx, lead.EmailKey); err != nil {
		return models.LeadDetail{}, err
	}
	d.LeadItem = models.LeadItem{Lead: lead, Marketing: models.MarketingOf(d.Consent, doubleOptIn)}
	db := s.r.WithContext(ctx)
	if err := db.Where("lead_id = ? AND "+kindIsEmail, lead.ID).Order("id").Find(&d.Emails).Error; err != nil {
		return models.LeadDetail{}, fmt.Errorf("read the lead's emails: %w", err)
	}
	if err := db.Where("lead_id = ?", lead.ID).Order("id").Find(&d.History).Error; err != nil {
		return models.LeadDetail{}, fmt.Errorf("read the lead's history: %w", err)
	}
	return d, nil
}

// UpdateLead applies ch to the lead with publicID, with its history entry
// and its audit entry, in one transaction.
func (s *Store) UpdateLead(ctx context.Context, publicID string, ch models.LeadChange, o models.Origin, doubleOptIn bool) (models.LeadItem, error) {
	if ch.Status != "" && !models.ValidLeadStatus(ch.Status) {
		return models.LeadItem{}, fmt.Errorf("update lead: no status %q", ch.Status)
	}
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var lead models.Lead
		if err := tx.Where("public_id = ?", publicID).Take(&lead).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return models.ErrNotFound
			}
			return err
		}
		if lead.ErasedAt != nil && ch.Note != "" {
			return models.ErrLeadErased
		}
		h := models.HistoryEntry{LeadID: lead.ID, At: o.At.UTC(), Actor: o.Actor, Note: ch.Note}
		if ch.Status != "" && ch.Status != lead.Status {
			if err := tx.Table("leads").Where("id = ?", lead.ID).Update("status", ch.Status).Error; err != nil {
				return err
			}
			h.Status = ch.Status
		}
		if h.Status == "" && h.Note == "" {
			return nil // nothing changes, so nothing to record
		}
		if err := tx.Create(&h).Error; err != nil {
			return err
		}
		e := o.Entry("lead.update", models.LeadTarget(publicID))
		return appendAudit(tx, &e)
	})
	if err != nil {
		if errors.Is(err, models.ErrNotFound) || errors.Is(err, models.ErrLeadErased) {
			return models.LeadItem{}, err
		}
		return models.LeadItem{}, fmt.Errorf("update lead: %w", err)
	}
	d, err := s.LeadDetail(ctx, publicID, doubleOptIn)
	if err != nil {
		return models.LeadItem{}, err
	}
	return d.LeadItem, nil
}

// marketingContactsSQL finds, for every person, their latest decisive
// consent event; those that stand as "given" now (confirmed, with double
// opt-in) are joined to the submission that gave the consent, its lead and
// wording: the "given" event itself, or, for a confirmation, the "given"
// of the lead whose link was confirmed (a person who ticked the box twice
// may confirm the first email, and the proof is that one's wording).
// Newest decision first.
const marketingContactsSQL = `WITH latest AS (
		SELECT subject, max(id) AS id FROM consent_events
		WHERE purpose = ? AND action IN ('given', 'confirmed', 'withdrawn') AND subject != ''
		GROUP BY subject)
	SELECT l.email, d.action, d.at, g.at, l.name, l.company, l.public_id, t.hash
	FROM latest JOIN consent_events d ON d.id = latest.id
	JOIN consent_events g ON g.id = CASE WHEN d.action = 'given' THEN d.id
		ELSE (SELECT max(x.id) FROM consent_events x WHERE x.lead_id = d.lead_id
			AND x.subject = d.subject AND x.purpose = d.purpose AND x.action = 'given' AND x.id < d.id) END
	JOIN leads l ON l.id = g.lead_id
	LEFT JOIN consent_texts t ON t.id = g.consent_text_id
	WHERE d.action IN (?)
	ORDER BY d.id DESC`

// EachMarketingContact calls fn for every address that may receive
// marketing now (models.MarketingOf's "given"), once.
func (s *Store) EachMarketingContact(ctx context.Context, doubleOptIn bool, fn func(models.MarketingContact) error) error {
	standing := []string{models.ActionGiven, models.ActionConfirmed}
	if doubleOptIn {
		standing = []string{models.ActionConfirmed}
	}
	rows, err := s.r.WithContext(ctx).Raw(marketingContactsSQL, models.PurposeMarketingEmail, standing).Rows()
	if err != nil {
		return fmt.Errorf("list marketing contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c models.MarketingContact
		var action string
		var decided time.Time
		var wording *string
		if err := s.damageOf(rows.Scan(&c.Email, &action, &decided, &c.GivenAt, &c.Name, &c.Company, &c.LeadPublicID, &wording)); err != nil {
			return fmt.Errorf("list marketing contacts: %w", err)
		}
		if action == models.ActionConfirmed {
			c.ConfirmedAt = &decided
		}
		if wording != nil {
			c.WordingSHA256 = *wording
		}
		c.Locale = "en" // every lead is English until languages come
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := s.damageOf(rows.Err()); err != nil {
		return fmt.Errorf("list marketing contacts: %w", err)
	}
	return nil
}
