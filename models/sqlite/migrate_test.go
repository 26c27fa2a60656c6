package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/leadbox/leadbox/models"
)

// previousRelease is a database made by the last release before versioned
// migrations (commit ce46658), as `sqlite3 leadbox.db .dump` wrote it after
// two leads: ada@example.com ticked the box and confirmed it,
// bob@example.com did not tick it and later opted out.
const previousRelease = "testdata/release-ce46658.sql"

// restoreDump writes a new database file from an SQL dump, the way
// `sqlite3 new.db < dump.sql` would.
func restoreDump(t *testing.T, dump string) string {
	t.Helper()
	script, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(string(script)); err != nil {
		t.Fatalf("restore %s: %v", dump, err)
	}
	return path
}

// schemaOf returns the definitions of a database's tables, indexes and
// triggers by name, with white space folded. A table's columns and
// constraints are sorted: GORM writes a table's foreign keys in the order
// of a map, so the same schema may list them in either order.
func schemaOf(t *testing.T, s *Store) map[string]string {
	t.Helper()
	rows, err := s.DB().Raw(`SELECT name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'`).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		def = strings.Join(strings.Fields(def), " ")
		if head, body, ok := strings.Cut(def, "("); ok && strings.HasPrefix(def, "CREATE TABLE") {
			parts := strings.Split(strings.TrimSuffix(body, ")"), ",")
			slices.Sort(parts)
			def = head + "(" + strings.Join(parts, ",") + ")"
		}
		out[name] = def
	}
	return out
}

func appliedVersions(t *testing.T, s *Store) []int {
	t.Helper()
	var vs []int
	if err := s.DB().Raw("SELECT version FROM schema_migrations ORDER BY version").Scan(&vs).Error; err != nil {
		t.Fatal(err)
	}
	return vs
}

func allVersions() []int {
	var vs []int
	for _, m := range migrations {
		vs = append(vs, m.version)
	}
	return vs
}

func TestPreviousReleaseOpensAndUpgrades(t *testing.T) {
	ctx := context.Background()
	old, err := Open(ctx, restoreDump(t, previousRelease))
	if err != nil {
		t.Fatalf("Open a database of the previous release: %v", err)
	}
	defer old.Close()
	fresh := newStore(t)

	if got, want := appliedVersions(t, old), allVersions(); !slices.Equal(got, want) {
		t.Errorf("upgraded database has migrations %v, want %v", got, want)
	}
	// Upgraded and new databases must be the same schema, or code tested
	// on one fails on the other.
	got, want := schemaOf(t, old), schemaOf(t, fresh)
	for name, def := range want {
		if got[name] != def {
			t.Errorf("%s:\nupgraded: %s\n     new: %s", name, got[name], def)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("upgraded database has %s, which a new one lacks", name)
		}
	}

	// What the previous release stored reads the same.
	ada, err := old.LeadByPublicID(ctx, "agrdn6siheculnebcqddhjxrmbznllorcg2a")
	if err != nil {
		t.Fatalf("LeadByPublicID: %v", err)
	}
	if ada.Name != "Ada Example" || ada.Consent == nil || ada.Consent.Action != models.ActionGiven ||
		ada.Consent.ConsentText == nil || !strings.HasPrefix(ada.Consent.ConsentText.Text, "I agree") {
		t.Errorf("lead of the previous release reads as %+v (consent %+v)", ada, ada.Consent)
	}
	for subject, want := range map[string]models.MarketingState{
		"ada@example.com": models.StateSubscribed,
		"bob@example.com": models.StateWithdrawn,
	} {
		if got, err := old.MarketingStateOf(ctx, subject, true); err != nil || got != want {
			t.Errorf("MarketingStateOf(%s) = %q, %v; want %q", subject, got, err, want)
		}
	}
	// Its leads are found by the inbox's search (their text was folded
	// into lead_search by the migration).
	if found, err := old.Leads(ctx, models.LeadFilter{Query: "MOBILE APP"}, 0, 10, true); err != nil || len(found) != 1 || found[0].Name != "Ada Example" {
		t.Errorf("search of an upgraded database: %d leads, %v; want Ada's", len(found), err)
	}
	// The ledger stays append-only, and new leads go in after the old.
	if err := old.w.Exec("DELETE FROM consent_events").Error; err == nil {
		t.Error("deleting consent events of an upgraded database succeeded")
	}
	lead, ev, out := newLead(t, old, "carol@example.com")
	if _, err := old.CreateLeadOnce(ctx, lead, ev, out, models.Guards{}); err != nil {
		t.Fatalf("CreateLeadOnce on an upgraded database: %v", err)
	}
	if lead.ID != 3 {
		t.Errorf("new lead has id %d, want 3 (after the two of the previous release)", lead.ID)
	}
}

func TestMigrationsApplyOnce(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	runs := 0
	steps := append(slices.Clone(migrations), migration{
		version: migrations[len(migrations)-1].version + 1,
		name:    "test: add a table",
		up: func(tx *gorm.DB) error {
			runs++
			return tx.Exec("CREATE TABLE extra (id INTEGER PRIMARY KEY)").Error
		},
	})
	for range 2 {
		if err := migrate(ctx, s.w, steps); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	if runs != 1 {
		t.Errorf("the new step ran %d times, want once", runs)
	}
	if got := appliedVersions(t, s); len(got) != len(steps) {
		t.Errorf("schema_migrations has %v, want one row per step (%d)", got, len(steps))
	}

	// This release does not know that step: it refuses the database
	// rather than write rows a newer schema may read differently.
	_ = s.Close()
	_, err := Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(steps[len(steps)-1].version)) {
		t.Errorf("error %q does not name the database's version", err)
	}
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	steps := append(slices.Clone(migrations), migration{
		version: 99,
		name:    "test: fails half-way",
		up: func(tx *gorm.DB) error {
			if err := tx.Exec("CREATE TABLE half (id INTEGER PRIMARY KEY)").Error; err != nil {
				return err
			}
			return errors.New("boom")
		},
	})
	err := migrate(ctx, s.w, steps)
	if err == nil || !strings.Contains(err.Error(), "schema migration 99") {
		t.Fatalf("migrate = %v, want an error naming migration 99", err)
	}
	if _, ok := schemaOf(t, s)["half"]; ok {
		t.Error("the failed step's table was kept")
	}
	if got := appliedVersions(t, s); !slices.Equal(got, allVersions()) {
		t.Errorf("schema_migrations has %v after a failed step, want %v", got, allVersions())
	}
}

// TestSimultaneousUpgrades: processes opening one database at once (a
// server upgrading it while an operator's command opens it) take turns on
// the migrations, and each step is applied once. A new file is created by
// `leadbox serve` alone (one per database, and sub-commands never create
// one), so the race starts from an existing database of an earlier
// release.
func TestSimultaneousUpgrades(t *testing.T) {
	path := baselineFile(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(context.Background(), path)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of one database at once: %v", i, err)
		}
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := appliedVersions(t, s); !slices.Equal(got, allVersions()) {
		t.Errorf("schema_migrations has %v, want each step once: %v", got, allVersions())
	}
}

// TestModelsMatchTheSchema: every column a model maps exists, and every
// column of their tables is mapped, so no read or write of GORM's finds a
// column missing or leaves one out.
func TestModelsMatchTheSchema(t *testing.T) {
	s := newStore(t)
	for _, m := range tables {
		sch := parseModel(t, m)
		var cols []string
		if err := s.DB().Raw("SELECT name FROM pragma_table_info(?)", sch.Table).Scan(&cols).Error; err != nil {
			t.Fatal(err)
		}
		mapped := sch.DBNames
		for _, c := range cols {
			if !slices.Contains(mapped, c) {
				t.Errorf("%s.%s is in the schema but no field of %s maps it", sch.Table, c, sch.Name)
			}
		}
		for _, c := range mapped {
			if !slices.Contains(cols, c) {
				t.Errorf("%s maps %s.%s, which no migration creates", sch.Name, sch.Table, c)
			}
		}
	}
}

func parseModel(t *testing.T, model any) *schema.Schema {
	t.Helper()
	sch, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// fillColumns gives every mapped field of model (a pointer) a distinct,
// non-zero value, so a column a writer leaves out reads back different.
func fillColumns(t *testing.T, model any, seed int) {
	t.Helper()
	ctx := context.Background()
	rv := reflect.ValueOf(model)
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, f := range parseModel(t, model).Fields {
		if f.DBName == "" || f.PrimaryKey {
			continue
		}
		n := seed*100 + i
		var v any
		switch f.FieldType {
		case reflect.TypeFor[string]():
			v = fmt.Sprintf("%s-%d", f.DBName, n)
		case reflect.TypeFor[*string]():
			v = new(fmt.Sprintf("%s-%d", f.DBName, n))
		case reflect.TypeFor[int](), reflect.TypeFor[int64]():
			v = n
		case reflect.TypeFor[*int64]():
			v = new(int64(n))
		case reflect.TypeFor[time.Time]():
			v = at.Add(time.Duration(n) * time.Second)
		case reflect.TypeFor[*time.Time]():
			v = new(at.Add(time.Duration(n) * time.Second))
		default:
			t.Fatalf("%s.%s: no test value for %v; teach fillColumns", f.Schema.Name, f.Name, f.FieldType)
		}
		if err := f.Set(ctx, rv, v); err != nil {
			t.Fatalf("set %s: %v", f.Name, err)
		}
	}
}

// sameColumns reports every mapped column in which got and want differ.
func sameColumns(t *testing.T, got, want any) {
	t.Helper()
	ctx := context.Background()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for _, f := range parseModel(t, want).Fields {
		if f.DBName == "" {
			continue
		}
		gv, wv := f.ReflectValueOf(ctx, g).Interface(), f.ReflectValueOf(ctx, w).Interface()
		if !reflect.DeepEqual(gv, wv) {
			t.Errorf("%s.%s reads back as %v, want %v as written: does the fast path write it?", f.Schema.Table, f.DBName, deref(gv), deref(wv))
		}
	}
}

func deref(v any) any {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	return v
}

// TestFastPathWritesEveryColumn: the group committer's hand-written
// INSERTs write every column the models map, and the inbox's hand-written
// read reads every column of a lead.
func TestFastPathWritesEveryColumn(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	ct, err := s.ConsentTextVersion(ctx, "Email me offers.")
	if err != nil {
		t.Fatal(err)
	}
	var lead models.Lead
	var ev models.ConsentEvent
	out := make([]models.OutboxMessage, 2)
	fillColumns(t, &lead, 1)
	fillColumns(t, &ev, 2)
	for i := range out {
		fillColumns(t, &out[i], 3+i)
	}
	// The writer derives these, and the database checks the reference.
	lead.Email = "Ann@Example.com"
	ev.ConsentTextID = &ct.ID
	if _, err := s.CreateLeadOnce(ctx, &lead, &ev, out, models.Guards{}); err != nil {
		t.Fatalf("CreateLeadOnce: %v", err)
	}
	if lead.EmailKey != "ann@example.com" {
		t.Errorf("EmailKey = %q, want the normalised address", lead.EmailKey)
	}

	var gotLead models.Lead
	var gotEv models.ConsentEvent
	if err := s.DB().Take(&gotLead, lead.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Take(&gotEv, ev.ID).Error; err != nil {
		t.Fatal(err)
	}
	sameColumns(t, &gotLead, &lead)
	sameColumns(t, &gotEv, &ev)
	// The inbox's hand-written read returns every column too. (The lead
	// has every column set, erased_at included, so the inbox's list would
	// leave it out: its read is asked directly.)
	var read models.Lead
	if err := scanLead(s.DB().Raw("SELECT "+leadColumns+" FROM leads l WHERE l.id = ?", lead.ID).Row(), &read); err != nil {
		t.Fatalf("scanLead: %v", err)
	}
	read.Consent = lead.Consent // a relation, not a column
	sameColumns(t, &read, &lead)
	for i := range out {
		var got models.OutboxMessage
		if err := s.DB().Take(&got, out[i].ID).Error; err != nil {
			t.Fatal(err)
		}
		sameColumns(t, &got, &out[i])
	}
}

// TestEarliestLeadsGetTheirPersonKey: leads stored by the first releases,
// before leads.email_key, get it filled in, so the inbox knows whose
// consent they carry.
func TestEarliestLeadsGetTheirPersonKey(t *testing.T) {
	ctx := context.Background()
	path := baselineFile(t,
		`INSERT INTO leads (public_id, created_at, name, email, email_key, message, opt_out_token)
		 VALUES ('old1', '2026-11-27 10:00:00+00:00', 'Ann', 'Ann@Example.COM', '', 'Hello', 'tok1')`,
		`INSERT INTO consent_texts (hash, text, created_at) VALUES ('h', 'Email me offers.', '2026-11-27 10:00:00+00:00')`,
		`INSERT INTO consent_events (subject, purpose, at, action, method, lead_id, consent_text_id)
		 VALUES ('ann@example.com', 'marketing_email', '2026-11-27 10:00:00+00:00', 'given', 'form', 1, 1)`,
	)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	items, err := s.Leads(ctx, models.LeadFilter{}, 0, 10, false)
	if err != nil || len(items) != 1 {
		t.Fatalf("Leads = %d, %v", len(items), err)
	}
	if it := items[0]; it.EmailKey != "ann@example.com" || it.Marketing.State != models.MarketingGiven {
		t.Errorf("the old lead reads as key %q, marketing %q; want ann@example.com, given", it.EmailKey, it.Marketing.State)
	}
}
