package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/models"
)

// TestDamageMetDuringAnExportFailsReadiness: a damaged page met by an
// export (an index neither start-up nor the request before reads) turns
// /readyz 503, with one log line that says what to run. (The export reads
// each batch's consent events sorted, so SQLite meets the page before the
// first row; models/sqlite's TestDamageMetWhileIteratingRows has damage
// met after rows were read.)
func TestDamageMetDuringAnExportFailsReadiness(t *testing.T) {
	db, _ := seededDatabase(t, 300)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"token", "create", "--role", "sales", "--name", "crm"}, databaseEnv(db), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out.String())
	// Its emails sent, so that the mail sender, which reads consent
	// histories through the same index, does not meet the damage first.
	conn, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec("UPDATE outbox SET status = ?, sent_at = CURRENT_TIMESTAMP", models.StatusSent)
	_ = conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The index the export reads each batch's consent events through;
	// neither start-up nor the in-memory indexes' load reads it.
	damageLastLeaf(t, db, "idx_consent_subject")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done, logs := startServe(t, ctx, map[string]string{"LEADBOX_DATABASE": db})
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if got, _ := get("/readyz"); got != http.StatusOK {
		t.Fatalf("readyz before the damage was met: %d\n%s", got, logs)
	}
	if code, body := get("/api/v1/leads.csv"); code == http.StatusOK && strings.Count(body, "\n") > 300 {
		t.Fatalf("the export over a damaged index answered every lead")
	}
	checkDamagedNotReady(t, func() int { code, _ := get("/readyz"); return code }, logs)
	cancel()
	<-done
}

// damageLastLeaf overwrites the cells of the last leaf page of a b-tree
// (a table or an index) in the closed database file db, as a failing disk
// would: its root must be an interior page, whose header holds its
// right-most child's page number (SQLite's file format, "B-tree Pages").
// Unlike damageIndex's, this damage is met only by reads that get that
// far, not by every look-up through the index.
func damageLastLeaf(t *testing.T, db, name string) {
	t.Helper()
	conn, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	var root int64
	err = conn.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = ?", name).Scan(&root)
	_ = conn.Close()
	if err != nil {
		t.Fatalf("root page of %s: %v", name, err)
	}
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	if _, err := f.ReadAt(page, (root-1)*4096); err != nil {
		t.Fatal(err)
	}
	if page[0] != 0x05 && page[0] != 0x02 {
		t.Fatalf("the root of %s is page type %#x, not an interior page: store more rows", name, page[0])
	}
	leaf := int64(binary.BigEndian.Uint32(page[8:12]))
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, 4096-100), (leaf-1)*4096+100); err != nil {
		t.Fatal(err)
	}
}
