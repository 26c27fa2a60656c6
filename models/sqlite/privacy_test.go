package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// erasable is a lead whose every field is a value found nowhere else, so
// that its bytes can be looked for in the database's files.
var erasable = map[string]string{
	"name":    "Zbigniew Quxworth",
	"email":   "zq.erasable@example.org",
	"phone":   "+48 777 888 999",
	"company": "Quxworth Sp. z o.o.",
	"message": "Please quote the Quxworth migration.", // repeated past one page: overflow pages too
	"page":    "https://example.org/quxworth-landing",
	"utm":     "quxworth-campaign",
	"ip":      "203.0.113.77",
	"agent":   "QuxBrowser/9.1",
	"note":    "Quxworth asked for a call on Friday",
}

// fileBytes reads the database file and its write-ahead log.
func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// found lists the erasable values present in b, as typed or folded (the
// search text keeps them lower-cased).
func found(b []byte) []string {
	var out []string
	for field, v := range erasable {
		if bytes.Contains(b, []byte(v)) || bytes.Contains(b, []byte(strings.ToLower(v))) {
			out = append(out, field)
		}
	}
	return out
}

// TestErasedBytesAreGone: once a lead is erased, none of its values is left
// anywhere in the database file or its write-ahead log: not in the rows,
// not in the indexes, not in the free space SQLite would otherwise leave
// them in. Leads before and after it share its pages.
func TestErasedBytesAreGone(t *testing.T) {
	ctx := context.Background()
	s, path := newStoreAt(t)
	for i := range 20 {
		l, ev, out := newLead(t, s, fmt.Sprintf("before%d@example.com", i))
		if _, err := s.CreateLeadOnce(ctx, l, ev, out, models.Guards{}); err != nil {
			t.Fatal(err)
		}
	}
	l, ev, out := newLead(t, s, erasable["email"])
	l.Name, l.Phone, l.Company = erasable["name"], erasable["phone"], erasable["company"]
	l.Message = strings.Repeat(erasable["message"]+" ", 120)
	l.PageURL, l.UTMCampaign = erasable["page"], erasable["utm"]
	ev.IP, ev.UserAgent, ev.PageURL = erasable["ip"], erasable["agent"], erasable["page"]
	if _, err := s.CreateLeadOnce(ctx, l, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		l, ev, out := newLead(t, s, fmt.Sprintf("after%d@example.com", i))
		if _, err := s.CreateLeadOnce(ctx, l, ev, out, models.Guards{}); err != nil {
			t.Fatal(err)
		}
	}
	origin := models.Origin{Actor: "dpo@example.com", At: time.Now().UTC()}
	if _, err := s.UpdateLead(ctx, l.PublicID, models.LeadChange{Note: erasable["note"]}, origin, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Withdraw(ctx, models.ConsentEvent{Subject: erasable["email"], At: time.Now().UTC(),
		Method: models.MethodOneClick, IP: erasable["ip"], UserAgent: erasable["agent"]}); err != nil {
		t.Fatal(err)
	}
	// The test can fail: before the erasure every value is in the files.
	if got := found(fileBytes(t, path)); len(got) != len(erasable) {
		t.Fatalf("before the erasure only %v of the %d values are in the files; the test would prove nothing", got, len(erasable))
	}

	res, err := s.EraseSubject(ctx, erasable["email"], origin)
	if err != nil || res.Leads != 1 {
		t.Fatalf("EraseSubject = %+v, %v", res, err)
	}
	if got := found(fileBytes(t, path)); len(got) > 0 {
		t.Errorf("after the erasure the database's files still hold the erased %v", got)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 0 {
		t.Errorf("write-ahead log after the erasure's checkpoint: %v, %v; want it truncated", fi, err)
	}
	// The others' data is where it was.
	if b := fileBytes(t, path); !bytes.Contains(b, []byte("before3@example.com")) || !bytes.Contains(b, []byte("after17@example.com")) {
		t.Errorf("the other leads' addresses are gone from the file")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := found(fileBytes(t, path)); len(got) > 0 {
		t.Errorf("after closing, the files hold the erased %v", got)
	}
}

// TestLedgerErasureIsNarrow: even inside an erasure the ledger's trigger
// lets only personal data be blanked; what was decided, when and how,
// cannot change, and no event can be deleted.
func TestLedgerErasureIsNarrow(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	l, ev, out := newLead(t, s, "ann@example.com")
	if _, err := s.CreateLeadOnce(ctx, l, ev, out, models.Guards{}); err != nil {
		t.Fatal(err)
	}
	w := s.w.WithContext(ctx)
	for name, stmt := range map[string]string{
		"change the action":     "UPDATE consent_events SET action = 'withdrawn'",
		"change the time":       "UPDATE consent_events SET at = '2020-01-01 00:00:00+00:00'",
		"change the subject":    "UPDATE consent_events SET subject = 'bob@example.com'",
		"change the wording":    "UPDATE consent_events SET consent_text_id = NULL",
		"delete an event":       "DELETE FROM consent_events",
		"blank outside erasure": "",
	} {
		tx := w.Begin()
		if stmt == "" {
			stmt = "UPDATE consent_events SET ip = ''"
		} else if err := tx.Exec("INSERT INTO erasing (reason) VALUES ('test')").Error; err != nil {
			t.Fatal(err)
		}
		err := tx.Exec(stmt).Error
		tx.Rollback()
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only refusal", name, err)
		}
	}
	tx := w.Begin()
	if err := blankLedger(tx, "test", "subject = ?", "ann@example.com"); err != nil {
		t.Errorf("blanking inside an erasure: %v", err)
	}
	tx.Rollback()
}
