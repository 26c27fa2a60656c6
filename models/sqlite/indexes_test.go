package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/models"
)

// indexSQL returns the CREATE statement of every index SQLite was asked
// to create, by name.
func indexSQL(t *testing.T, s *Store) map[string]string {
	t.Helper()
	var rows []struct{ Name, SQL string }
	if err := s.w.Raw(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`).Scan(&rows).Error; err != nil {
		t.Fatalf("read indexes: %v", err)
	}
	m := map[string]string{}
	for _, r := range rows {
		m[r.Name] = r.SQL
	}
	return m
}

// TestPartialIndexesReplaceFullOnes: a database made by an early release,
// with a full index on leads.confirm_token, an older name for the outbox's
// index by lead, and no versioned migrations yet, gets today's indexes
// when opened: the partial one on confirm tokens and idx_outbox_lead.
func TestPartialIndexesReplaceFullOnes(t *testing.T) {
	path := baselineFile(t,
		`DROP INDEX idx_leads_confirm_token_set`,
		`DROP INDEX idx_outbox_confirmation_lead`,
		"CREATE UNIQUE INDEX `idx_leads_confirm_token` ON `leads`(`confirm_token`)",
		"CREATE INDEX `idx_outbox_lead_id` ON `outbox`(`lead_id`)",
		"DROP TABLE schema_migrations",
	)
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	got := indexSQL(t, s)
	for _, old := range []string{"idx_leads_confirm_token", "idx_outbox_lead_id"} {
		if _, ok := got[old]; ok {
			t.Errorf("the full index %s is still there", old)
		}
	}
	for name, want := range map[string][]string{
		"idx_leads_confirm_token_set": {"UNIQUE", "WHERE confirm_token IS NOT NULL"},
		"idx_outbox_lead":             {"ON outbox (lead_id)"},
	} {
		for _, w := range want {
			if !strings.Contains(got[name], w) {
				t.Errorf("index %s = %q, want it to contain %q", name, got[name], w)
			}
		}
	}
}

// TestLookupsUseTheirIndexes: the lookups by link token and by person
// search an index rather than scan a table that grows with every lead.
func TestLookupsUseTheirIndexes(t *testing.T) {
	s := newStore(t)
	tests := []struct {
		name  string
		query string
		args  []any
		want  []string // one SEARCH ... USING INDEX per table
	}{
		{"confirm link", "SELECT * FROM leads WHERE confirm_token = ?", []any{"t"},
			[]string{"idx_leads_confirm_token_set"}},
		{"opt-out link", "SELECT * FROM leads WHERE opt_out_token = ?", []any{"t"},
			[]string{"idx_leads_opt_out_token"}},
		{"cancel a person's confirmations", cancelConfirmationsSQL, []any{models.StatusCancelled, models.StatusPending, "a@example.com"},
			[]string{"idx_outbox_lead", "idx_consent_subject"}},
		{"find an earlier submission", earlierSubmissionSQL,
			[]any{"a@example.com", models.PurposeMarketingEmail, models.MethodForm, models.ActionGiven, "Hi", "2026-01-01"},
			[]string{"idx_consent_subject"}},
		{"an opt-out since a lead's submission", withdrawnAfterSQL, []any{1},
			[]string{"idx_consent_events_lead_id", "idx_consent_subject"}},
		{"count a person's confirmations", confirmationsSQL, []any{"a@example.com", "a+", "a,", `%@example.com`, models.PurposeMarketingEmail, "2026-01-01"},
			[]string{"idx_consent_subject", "idx_outbox_lead"}},
		// The inbox: a lead's emails and history, a status filter newest
		// first, a person's marketing state for the marketing filter.
		{"a lead's emails", "SELECT * FROM outbox WHERE lead_id = ? ORDER BY id", []any{1},
			[]string{"idx_outbox_lead"}},
		// The outbox's two lanes claim and look ahead in due order, each
		// through an index (the webhooks through their partial one).
		{"due emails", "SELECT id FROM outbox WHERE status = ? AND next_attempt_at <= ? AND " + kindIsEmail + " ORDER BY next_attempt_at LIMIT 25",
			[]any{models.StatusPending, "2026-01-01"}, []string{"idx_outbox_due"}},
		{"due webhooks", "SELECT id FROM outbox WHERE status = ? AND next_attempt_at <= ? AND " + kindIsWebhook + " ORDER BY next_attempt_at LIMIT 8",
			[]any{models.StatusPending, "2026-01-01"}, []string{"idx_outbox_webhooks_due"}},
		{"the next webhook due", "SELECT next_attempt_at FROM outbox WHERE status = ? AND " + kindIsWebhook + " ORDER BY next_attempt_at LIMIT 1",
			[]any{models.StatusPending}, []string{"idx_outbox_webhooks_due"}},
		{"a lead's history", "SELECT * FROM lead_history WHERE lead_id = ? ORDER BY id", []any{1},
			[]string{"idx_lead_history_lead"}},
		{"leads by status, newest first", "SELECT * FROM leads WHERE status = ? AND id < ? ORDER BY id DESC LIMIT 50", []any{"won", 100},
			[]string{"idx_leads_status"}},
		// Every API request looks its token up, every inbox request its
		// session; sign-in looks up the user and counts failures.
		{"a token by hash", "SELECT * FROM api_tokens WHERE hash = ?", []any{"h"},
			[]string{"sqlite_autoindex_api_tokens_2"}},
		{"a session", "SELECT * FROM sessions WHERE id = ?", []any{"h"},
			[]string{"sqlite_autoindex_sessions_1"}},
		{"a user by email", "SELECT * FROM users WHERE email = ?", []any{"a@example.com"},
			[]string{"sqlite_autoindex_users_1"}},
		{"failed sign-ins", "SELECT count(*) FROM sign_in_failures WHERE key = ? AND at > ?", []any{"ip:192.0.2.1", "2026-01-01"},
			[]string{"idx_sign_in_failures_key_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var plan []struct {
				ID, Parent, Notused int
				Detail              string
			}
			if err := s.w.Raw("EXPLAIN QUERY PLAN "+tt.query, tt.args...).Scan(&plan).Error; err != nil {
				t.Fatalf("explain: %v", err)
			}
			var details []string
			for _, p := range plan {
				details = append(details, p.Detail)
			}
			all := strings.Join(details, "\n")
			// A SELECT without FROM (SELECT EXISTS ...) "scans" its one
			// constant row; any other SCAN reads a whole table.
			if strings.Contains(strings.ReplaceAll(all, "SCAN CONSTANT ROW", ""), "SCAN ") {
				t.Errorf("plan scans a table:\n%s", all)
			}
			for _, idx := range tt.want {
				if !strings.Contains(all, "INDEX "+idx+" ") {
					t.Errorf("plan does not use %s:\n%s", idx, all)
				}
			}
		})
	}
}

// TestSearchScansTheNarrowTable: the inbox's search reads lead_search
// newest first and each match's lead by its primary key, never the wide
// leads rows one by one.
func TestSearchScansTheNarrowTable(t *testing.T) {
	s := newStore(t)
	for _, keyset := range []bool{false, true} {
		f := models.LeadFilter{Query: "zebra", Status: models.LeadNew}
		conds, args, err := leadsWhere(f, true)
		if err != nil {
			t.Fatal(err)
		}
		query, order := leadsQuery(f, conds, keyset)
		if keyset {
			args = append(args, 1000)
		}
		var plan []struct {
			ID, Parent, Notused int
			Detail              string
		}
		if err := s.w.Raw("EXPLAIN QUERY PLAN "+query+" ORDER BY "+order+" DESC LIMIT 50", args...).Scan(&plan).Error; err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, p := range plan {
			all = append(all, p.Detail)
		}
		got := strings.Join(all, "\n")
		walksSearch := strings.Contains(got, "SCAN s") || strings.Contains(got, "SEARCH s USING INTEGER PRIMARY KEY (rowid<?)")
		if !walksSearch || !strings.Contains(got, "SEARCH l USING INTEGER PRIMARY KEY") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("keyset %v: plan\n%s\nwant lead_search scanned in order and leads found by id", keyset, got)
		}
	}
}
