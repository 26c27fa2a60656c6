package models

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// TestRights is the contract's rights table, row by row: what the code
// decides must be what the contract promises.
func TestRights(t *testing.T) {
	tests := []struct {
		right                   Right
		admin, sales, marketing bool
	}{
		{RightLeads, true, true, false},
		{RightMarketingExport, true, true, true},
		{RightDataSubjects, true, false, false},
		{RightAdministration, true, false, false},
	}
	if len(tests) != len(Rights()) {
		t.Fatalf("the test covers %d rights, Rights() lists %d: add the new right's row here", len(tests), len(Rights()))
	}
	for _, tt := range tests {
		for role, want := range map[Role]bool{RoleAdmin: tt.admin, RoleSales: tt.sales, RoleMarketing: tt.marketing} {
			if got := role.Can(tt.right); got != want {
				t.Errorf("%s.Can(%s) = %v, want %v", role, tt.right, got, want)
			}
		}
	}
	for _, r := range Rights() {
		for _, role := range []Role{"", "Admin", "root"} {
			if role.Can(r) {
				t.Errorf("the unknown role %q has right %s; unknown roles must have none", role, r)
			}
		}
	}
	if RoleAdmin.Can("") || RoleAdmin.Can("everything") {
		t.Error("admin has a right the table does not list")
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Admin", "superuser", " sales"} {
		if _, err := ParseRole(s); err == nil || !strings.Contains(err.Error(), "admin, sales or marketing") {
			t.Errorf("ParseRole(%q) = %v, want an error naming the roles", s, err)
		}
	}
}

func TestValidTokenName(t *testing.T) {
	for _, ok := range []string{"crm", "zapier-prod", "backup_2026.v2", strings.Repeat("x", 64)} {
		if err := ValidTokenName(ok); err != nil {
			t.Errorf("ValidTokenName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "env", "ENV", "cli", "with space", "ann@example.com", "tab\t", strings.Repeat("x", 65), "naïve"} {
		if err := ValidTokenName(bad); err == nil {
			t.Errorf("ValidTokenName(%q) = nil, want an error", bad)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	signIn := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lastSeen time.Time
		now      time.Time
		expired  bool
	}{
		{"just signed in", signIn, signIn, false},
		{"idle just under the limit", signIn, signIn.Add(SessionIdle - time.Second), false},
		{"idle exactly the limit", signIn, signIn.Add(SessionIdle), true},
		{"busy, just under the maximum age", signIn.Add(SessionMaxAge - time.Hour), signIn.Add(SessionMaxAge - time.Second), false},
		{"busy, at the maximum age", signIn.Add(SessionMaxAge - time.Hour), signIn.Add(SessionMaxAge), true},
	}
	for _, tt := range tests {
		s := Session{CreatedAt: signIn, LastSeenAt: tt.lastSeen}
		if got := s.ExpiredAt(tt.now); got != tt.expired {
			t.Errorf("%s: ExpiredAt = %v, want %v", tt.name, got, tt.expired)
		}
	}
}

// TestAuditHash pins the hash of an entry to a value worked out here by
// hand, so that a change of the encoding (which would make every stored
// chain fail to verify) cannot pass unnoticed.
func TestAuditHash(t *testing.T) {
	e := AuditEntry{
		At:    time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.FixedZone("CET", 3600)),
		Actor: "ann@example.com", Action: "lead.read", Target: "lead:abc", IP: "192.0.2.7",
	}
	e.Seal(nil)
	canonical := "leadbox-audit-v1\n1:1\n27:2026-03-01T08:30:00.123456Z\n15:ann@example.com\n9:lead.read\n8:lead:abc\n9:192.0.2.7\n"
	sum := sha256.Sum256([]byte(AuditGenesis + canonical))
	if want := hex.EncodeToString(sum[:]); e.Hash != want {
		t.Errorf("hash of the first entry = %s, want %s", e.Hash, want)
	}
	if e.ID != 1 || e.PrevHash != AuditGenesis || e.At.Nanosecond() != 123456000 || e.At.Location() != time.UTC {
		t.Errorf("sealed first entry: id %d, prev %s, at %v; want 1, the genesis, microseconds in UTC", e.ID, e.PrevHash, e.At)
	}

	next := AuditEntry{At: e.At, Actor: "crm", Action: "lead.read", Target: "lead:abc"}
	next.Seal(&e)
	if next.ID != 2 || next.PrevHash != e.Hash || next.Hash == e.Hash {
		t.Errorf("second entry: id %d, prev %s, hash %s", next.ID, next.PrevHash, next.Hash)
	}
	// Moving a byte from one field to the next changes the hash.
	shifted := AuditEntry{At: e.At, Actor: "cr", Action: "mlead.read", Target: "lead:abc"}
	shifted.Seal(&e)
	if shifted.Hash == next.Hash {
		t.Error("two entries whose fields differ only in where one ends hash alike")
	}
}

func TestAuditVerifier(t *testing.T) {
	chain := func(n int) []AuditEntry {
		var es []AuditEntry
		for i := range n {
			e := AuditEntry{At: time.Date(2026, 3, 1, 9, i, 0, 0, time.UTC), Actor: "crm", Action: "lead.read", Target: "lead:x"}
			if i == 0 {
				e.Seal(nil)
			} else {
				e.Seal(&es[i-1])
			}
			es = append(es, e)
		}
		return es
	}
	tests := []struct {
		name     string
		edit     func([]AuditEntry) []AuditEntry
		entries  int64
		firstBad int64
	}{
		{"intact", func(es []AuditEntry) []AuditEntry { return es }, 4, 0},
		{"empty", func([]AuditEntry) []AuditEntry { return nil }, 0, 0},
		{"changed", func(es []AuditEntry) []AuditEntry { es[1].Actor = "x"; return es }, 2, 2},
		{"hash replaced", func(es []AuditEntry) []AuditEntry { es[2].Hash = strings.Repeat("0", 64); return es }, 3, 3},
		{"middle deleted", func(es []AuditEntry) []AuditEntry { return append(es[:1], es[2:]...) }, 2, 3},
		{"first deleted", func(es []AuditEntry) []AuditEntry { return es[1:] }, 1, 2},
		{"renumbered", func(es []AuditEntry) []AuditEntry { es[3].ID = 9; return es }, 4, 9},
	}
	for _, tt := range tests {
		var v AuditVerifier
		for _, e := range tt.edit(chain(4)) {
			v.Add(e)
		}
		c := v.Result()
		if c.Entries != tt.entries || c.FirstBad != tt.firstBad || c.Intact() != (tt.firstBad == 0) || (c.Problem == "") != c.Intact() {
			t.Errorf("%s: %+v, want %d entries checked, first bad %d", tt.name, c, tt.entries, tt.firstBad)
		}
	}
}
