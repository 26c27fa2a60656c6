package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
)

// Retention (models.Retention) erases, by itself, what has been kept long
// enough. Three passes, each reading candidates through the read pool and
// writing in short transactions (see runSteps), each decided again inside
// its transaction, so that a submission or an opt-out arriving meanwhile is
// never overtaken:
//
//  1. Leads whose last change (their submission, or a status or note
//     since) is older than the inquiry retention lose their inquiry data;
//     when nothing of their address is recent and its consent does not
//     stand, the address is erased whole, as a request would.
//  2. Addresses whose latest decision (a withdrawal, an unconfirmed
//     consent) became older than the retention since the last purge are
//     erased whole, unless they have a recent lead.
//  3. IP addresses and user agents older than their retention are dropped
//     from the consent records, except those of an address whose consent
//     stands; and from that address's records once it withdraws.
//
// Each pass walks forward from where the last one stopped (a lead id, an
// event id, a time, kept in settings), so an hourly purge reads what is new
// since the last hour, not the whole history.

// Settings that remember where the passes stopped.
const (
	withdrawalsFromSetting = "retention_withdrawals_from"
	ipEventsAfterSetting   = "retention_ip_events_after"
	ipWithdrawalsSetting   = "retention_ip_withdrawals_from"
)

// purgePage is how many candidates a pass reads at a time, and stepBudget
// how long one write transaction works before it commits. Its commit (an
// fsync, and now and then SQLite's automatic checkpoint) comes on top: on
// the machine of docs/performance.md a budget of 20 ms let 8 of 3,715
// transactions hold the writer over models.PurgeWriterLimit, 10 ms 4 of
// 6,694, each held up by its commit, not its work.
const (
	purgePage  = 500
	stepBudget = 10 * time.Millisecond
)

// Purge erases what r says has been kept long enough at now.
func (s *Store) Purge(ctx context.Context, now time.Time, r models.Retention, dry bool) (models.PurgeReport, error) {
	p := &purge{s: s, now: now.UTC(), r: r, dry: dry, erased: map[string]bool{}, ipCounted: map[string]bool{}}
	if r.Inquiry > 0 {
		p.cutoff = p.now.Add(-r.Inquiry)
		if err := p.inquiries(ctx); err != nil {
			return p.rep, fmt.Errorf("purge inquiries: %w", err)
		}
		if err := p.withdrawn(ctx); err != nil {
			return p.rep, fmt.Errorf("purge withdrawn addresses: %w", err)
		}
	}
	if r.IP > 0 {
		p.ipCutoff = p.now.Add(-r.IP)
		if err := p.ips(ctx); err != nil {
			return p.rep, fmt.Errorf("purge IP addresses: %w", err)
		}
	}
	rep := p.rep
	if dry || rep.Inquiries+rep.Leads+rep.IPs == 0 {
		return rep, nil
	}
	e := models.AuditEntry{At: p.now, Actor: "retention", Action: models.AuditRetentionPurge,
		Target: fmt.Sprintf("leads:%d people:%d inquiries:%d ips:%d", rep.Leads, rep.People, rep.Inquiries, rep.IPs)}
	if err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return appendAudit(tx, &e) }); err != nil {
		return rep, fmt.Errorf("purge: %w", err)
	}
	s.checkpoint(ctx)
	return rep, nil
}

// purge is one run of Purge.
type purge struct {
	s                *Store
	now              time.Time
	cutoff, ipCutoff time.Time
	r                models.Retention
	dry              bool
	rep              models.PurgeReport
	// erased are the addresses this run erased whole (or, dry, would
	// have): later passes leave them alone, as they would find nothing
	// left of them.
	erased map[string]bool
	// ipCounted are the addresses whose IP addresses a dry run counted:
	// the real run would have dropped them, and not found them again.
	ipCounted map[string]bool
}

// step is one address's part of a pass, decided and done inside a write
// transaction (or, dry, decided on the read pool and only counted).
type step func(tx *gorm.DB, rep *models.PurgeReport) (forgetting, error)

// runSteps runs steps in write transactions of about stepBudget each. An
// address is never split across two transactions.
func (p *purge) runSteps(ctx context.Context, steps []step) error {
	if p.dry {
		db := p.s.r.WithContext(ctx)
		for _, st := range steps {
			if _, err := st(db, &p.rep); err != nil {
				return err
			}
		}
		return nil
	}
	for len(steps) > 0 {
		var start time.Time
		done := 0
		rep := p.rep
		err := p.s.exclusive(ctx, func(tx *gorm.DB) (forgetting, error) {
			start, rep = time.Now(), p.rep
			var all forgetting
			for done < len(steps) {
				f, err := steps[done](tx, &rep)
				if err != nil {
					return all, err
				}
				all.keys, all.subjects = append(all.keys, f.keys...), append(all.subjects, f.subjects...)
				done++
				if time.Since(start) >= stepBudget {
					break
				}
			}
			return all, nil
		})
		if err != nil {
			return err
		}
		held := time.Since(start)
		p.rep = rep
		p.rep.Batches++
		p.rep.LongestBatch = max(p.rep.LongestBatch, held)
		if held > models.PurgeWriterLimit {
			p.rep.LongBatches++
		}
		steps = steps[done:]
		if len(steps) > 0 {
			if err := sleepCtx(ctx, p.yield(held)); err != nil {
				return err
			}
		}
	}
	return nil
}

// yield is how long the purge leaves the writer to others after holding
// it for held. Submissions come first: when they queue up (FormBusy) it
// waits four times as long as it held the writer, so that they keep at
// least four fifths of it; a store without the group committer (the purge
// command) cannot see the server's queue from its own process, so it
// waits as long as it held. With nobody waiting it goes straight on.
//
// Measured (docs/performance.md): without yielding, a purge under a wrk
// load cut the submissions to 1,748 a second, p99 54 ms, as every group
// of submissions waited behind a purge transaction.
func (p *purge) yield(held time.Duration) time.Duration {
	switch {
	case p.s.commits == nil:
		return held
	case p.s.FormBusy():
		return 4 * held
	}
	return 0
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inquiries is pass 1: the leads that still have inquiry data (a row in
// lead_search), oldest first, up to the first one made after the cutoff:
// ids follow creation, so what comes after it is newer (a lead made a
// moment out of order is caught by the next run).
func (p *purge) inquiries(ctx context.Context) error {
	var after int64
	for {
		rows, err := p.s.r.WithContext(ctx).Raw(`SELECT l.id, l.email_key, l.created_at >= ?,
			EXISTS (SELECT 1 FROM lead_history h WHERE h.lead_id = l.id AND h.at >= ?)
			FROM lead_search s JOIN leads l ON l.id = s.lead_id
			WHERE s.lead_id > ? ORDER BY s.lead_id LIMIT ?`, p.cutoff, p.cutoff, after, purgePage).Rows()
		if err != nil {
			return err
		}
		due := map[string][]int64{}
		var order []string
		n, stop := 0, false
		for rows.Next() {
			var id int64
			var subject string
			var young, changed bool
			if err := p.s.damageOf(rows.Scan(&id, &subject, &young, &changed)); err != nil {
				rows.Close()
				return err
			}
			n, after = n+1, id
			if young {
				stop = true
				break
			}
			if changed {
				continue // changed since the cutoff: kept for now
			}
			if _, ok := due[subject]; !ok {
				order = append(order, subject)
			}
			due[subject] = append(due[subject], id)
		}
		rows.Close()
		if err := p.s.damageOf(rows.Err()); err != nil {
			return err
		}
		steps := make([]step, 0, len(order))
		for _, subject := range order {
			steps = append(steps, p.expire(subject, due[subject]))
		}
		if err := p.runSteps(ctx, steps); err != nil {
			return err
		}
		if stop || n < purgePage {
			return nil
		}
	}
}

// expire is the step for subject's leads ids whose inquiry retention ran
// out: the address is erased whole when its consent does not stand, its
// latest decision is older than the cutoff and none of its leads is
// recent; else those leads lose their inquiry data and keep the address,
// the name and the consent records.
func (p *purge) expire(subject string, ids []int64) step {
	return func(tx *gorm.DB, rep *models.PurgeReport) (forgetting, error) {
		whole, err := p.erasable(tx, subject)
		if err != nil {
			return forgetting{}, err
		}
		if whole {
			return p.eraseWhole(tx, subject, rep)
		}
		// Not yet erased or emptied by another path meanwhile.
		var live []int64
		if err := tx.Raw(`SELECT l.id FROM leads l JOIN lead_search s ON s.lead_id = l.id WHERE l.id IN ?`, ids).
			Scan(&live).Error; err != nil {
			return forgetting{}, err
		}
		rep.Inquiries += int64(len(live))
		if p.dry || len(live) == 0 {
			return forgetting{}, nil
		}
		return forgetting{}, blankInquiries(tx, live)
	}
}

// erasable reports whether subject may be erased whole: its consent does
// not stand, its latest decision is older than the cutoff, and it has no
// lead made or changed since.
func (p *purge) erasable(db *gorm.DB, subject string) (bool, error) {
	if subject == "" || p.erased[subject] {
		return false, nil
	}
	events, err := eventsIn(db, subject)
	if err != nil {
		return false, err
	}
	m := models.MarketingOf(events, p.r.DoubleOptIn)
	if m.MayMarket() || !m.Since.Before(p.cutoff) && !m.Since.IsZero() {
		return false, nil
	}
	var recent bool
	err = db.Raw(`SELECT EXISTS (SELECT 1 FROM leads l WHERE l.id IN (`+leadsOfSQL+`) AND l.erased_at IS NULL
		AND (l.created_at >= ? OR EXISTS (SELECT 1 FROM lead_history h WHERE h.lead_id = l.id AND h.at >= ?)))`,
		subject, p.cutoff, p.cutoff).Scan(&recent).Error
	return !recent, err
}

// eraseWhole erases subject as a request would, and counts it.
func (p *purge) eraseWhole(tx *gorm.DB, subject string, rep *models.PurgeReport) (forgetting, error) {
	p.erased[subject] = true
	if p.dry {
		var n int64
		err := tx.Raw(`SELECT count(*) FROM leads WHERE id IN (`+leadsOfSQL+`) AND erased_at IS NULL`, subject).Scan(&n).Error
		rep.Leads += n
		rep.People++
		return forgetting{}, err
	}
	res, f, err := p.s.eraseIn(tx, subject, p.now)
	if err != nil {
		return f, err
	}
	rep.Leads += int64(res.Leads)
	rep.People++
	return f, nil
}

// blankInquiries erases the inquiry data of the leads ids and keeps who
// they are: the address, the name and the consent records stay while the
// consent stands.
func blankInquiries(tx *gorm.DB, ids []int64) error {
	for _, stmt := range []string{
		`UPDATE leads SET phone = '', company = '', message = '', page_url = '',
			utm_source = '', utm_medium = '', utm_campaign = '', utm_term = '', utm_content = '' WHERE id IN ?`,
		`DELETE FROM lead_search WHERE lead_id IN ?`,
		`UPDATE lead_history SET note = '' WHERE lead_id IN ? AND note != ''`,
		`UPDATE outbox SET last_error = '' WHERE lead_id IN ? AND last_error != ''`,
	} {
		if err := tx.Exec(stmt, ids).Error; err != nil {
			return err
		}
	}
	return nil
}

// withdrawn is pass 2: the addresses that withdrew between the last
// purge's cutoff and this one's, which pass 1 may have left with their
// address and name (their consent stood then, or they withdrew too
// recently).
func (p *purge) withdrawn(ctx context.Context) error {
	from, err := p.timeSetting(ctx, withdrawalsFromSetting)
	if err != nil {
		return err
	}
	var subjects []string
	if err := p.s.r.WithContext(ctx).Raw(`SELECT DISTINCT subject FROM consent_events
		WHERE action = ? AND at >= ? AND at < ? AND subject != ''`,
		models.ActionWithdrawn, from, p.cutoff).Scan(&subjects).Error; err != nil {
		return err
	}
	steps := make([]step, 0, len(subjects))
	for _, subject := range subjects {
		steps = append(steps, func(tx *gorm.DB, rep *models.PurgeReport) (forgetting, error) {
			whole, err := p.erasable(tx, subject)
			if err != nil || !whole {
				return forgetting{}, err
			}
			return p.eraseWhole(tx, subject, rep)
		})
	}
	if err := p.runSteps(ctx, steps); err != nil {
		return err
	}
	return p.saveSetting(ctx, withdrawalsFromSetting, p.cutoff.Format(time.RFC3339Nano))
}

// ips is pass 3. Events are walked by id from where the last purge
// stopped, up to the first one younger than the IP cutoff (ids follow
// time, as for leads). Then the addresses that withdrew since the last
// purge lose the IP addresses their standing consent had kept.
func (p *purge) ips(ctx context.Context) error {
	after, err := p.intSetting(ctx, ipEventsAfterSetting)
	if err != nil {
		return err
	}
	for {
		rows, err := p.s.r.WithContext(ctx).Raw(`SELECT id, subject, at >= ? FROM consent_events
			WHERE id > ? ORDER BY id LIMIT ?`, p.ipCutoff, after, purgePage).Rows()
		if err != nil {
			return err
		}
		var subjects []string
		seen := map[string]bool{}
		last, n, stop := after, 0, false
		for rows.Next() {
			var id int64
			var subject string
			var young bool
			if err := p.s.damageOf(rows.Scan(&id, &subject, &young)); err != nil {
				rows.Close()
				return err
			}
			if young {
				stop = true
				break
			}
			n, last = n+1, id
			if subject != "" && !seen[subject] {
				seen[subject] = true
				subjects = append(subjects, subject)
			}
		}
		rows.Close()
		if err := p.s.damageOf(rows.Err()); err != nil {
			return err
		}
		steps := make([]step, 0, len(subjects))
		for _, subject := range subjects {
			steps = append(steps, p.dropIPs(subject, "id > ? AND id <= ?", after, last))
		}
		if err := p.runSteps(ctx, steps); err != nil {
			return err
		}
		after = last
		if err := p.saveSetting(ctx, ipEventsAfterSetting, strconv.FormatInt(after, 10)); err != nil {
			return err
		}
		if stop || n < purgePage {
			break
		}
	}
	from, err := p.timeSetting(ctx, ipWithdrawalsSetting)
	if err != nil {
		return err
	}
	var subjects []string
	if err := p.s.r.WithContext(ctx).Raw(`SELECT DISTINCT subject FROM consent_events
		WHERE action = ? AND at >= ? AND at < ? AND subject != ''`,
		models.ActionWithdrawn, from, p.now).Scan(&subjects).Error; err != nil {
		return err
	}
	steps := make([]step, 0, len(subjects))
	for _, subject := range subjects {
		steps = append(steps, p.dropIPs(subject, windowWhere, after))
	}
	if err := p.runSteps(ctx, steps); err != nil {
		return err
	}
	return p.saveSetting(ctx, ipWithdrawalsSetting, p.now.Format(time.RFC3339Nano))
}

// windowWhere is the condition dropIPs takes for the addresses that
// withdrew since the last purge: all their events up to where the walk by
// id got.
const windowWhere = "id <= ?"

// dropIPs is the step that drops the IP addresses and user agents of
// subject's events matching where and older than the IP cutoff, unless
// its consent stands.
func (p *purge) dropIPs(subject, where string, args ...any) step {
	return func(tx *gorm.DB, rep *models.PurgeReport) (forgetting, error) {
		if p.erased[subject] || p.ipCounted[subject] && where == windowWhere {
			return forgetting{}, nil
		}
		events, err := eventsIn(tx, subject)
		if err != nil || models.MarketingOf(events, p.r.DoubleOptIn).MayMarket() {
			return forgetting{}, err
		}
		cond := "subject = ? AND at < ? AND (ip != '' OR user_agent != '') AND " + where
		args := append([]any{subject, p.ipCutoff}, args...)
		if p.dry {
			var n int64
			err := tx.Raw("SELECT count(*) FROM consent_events WHERE "+cond, args...).Scan(&n).Error
			rep.IPs += n
			p.ipCounted[subject] = true
			return forgetting{}, err
		}
		if err := tx.Exec("INSERT INTO erasing (reason) VALUES ('ip retention')").Error; err != nil {
			return forgetting{}, err
		}
		res := tx.Exec("UPDATE consent_events SET ip = '', user_agent = '' WHERE "+cond, args...)
		if res.Error != nil {
			return forgetting{}, res.Error
		}
		rep.IPs += res.RowsAffected
		return forgetting{}, tx.Exec("DELETE FROM erasing").Error
	}
}

// timeSetting reads a time a pass saved; the zero time before the first.
func (p *purge) timeSetting(ctx context.Context, name string) (time.Time, error) {
	v, err := p.setting(ctx, name)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, v)
}

// intSetting reads a number a pass saved; 0 before the first.
func (p *purge) intSetting(ctx context.Context, name string) (int64, error) {
	v, err := p.setting(ctx, name)
	if err != nil || v == "" {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

func (p *purge) setting(ctx context.Context, name string) (string, error) {
	var st Setting
	err := p.s.r.WithContext(ctx).Where("name = ?", name).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	return string(st.Value), err
}

// saveSetting records where a pass stopped; a dry run records nothing.
func (p *purge) saveSetting(ctx context.Context, name, value string) error {
	if p.dry {
		return nil
	}
	return p.s.w.WithContext(ctx).Exec(`INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, []byte(value)).Error
}
