package config_test

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/config"
)

// settingsDoc is the operators' reference of every setting, relative to
// this package's folder (go test runs in it).
const settingsDoc = "../docs/settings.md"

// maxReadmeLines keeps the README an entry point; the detail lives in docs/.
const maxReadmeLines = 200

// TestSettingsDocumented fails when Load reads a variable that
// docs/settings.md does not list, or the page lists one Load no longer
// reads: an operator must be able to trust that table.
func TestSettingsDocumented(t *testing.T) {
	got := documentedSettings(t, settingsDoc)
	want := readSettings(t)

	for _, name := range sortedKeys(want) {
		if !got[name] {
			t.Errorf("%s: got no row, want one: Load reads %s but the table does not list it", settingsDoc, name)
		}
	}
	for _, name := range sortedKeys(got) {
		if !want[name] {
			t.Errorf("%s: got a row for %s, want none: Load never reads it (stale, or misspelt)", settingsDoc, name)
		}
	}
}

// readSettings returns every variable Load asks getenv for. Load is run
// with several environments so that a read made only when another
// setting is present (SMTP, DKIM, a CAPTCHA, a listen address that a base
// URL is derived from) is seen too. Whether Load accepts the values does
// not matter here: it reads on after a problem to report them all.
func readSettings(t *testing.T) map[string]bool {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writePEM(t, "PRIVATE KEY", pkcs8(t, key))

	environments := []map[string]string{
		nil,
		{
			"LEADBOX_SMTP_HOST":     "smtp.example.com",
			"LEADBOX_SMTP_TLS":      "tls",
			"LEADBOX_SMTP_USERNAME": "leads",
			"LEADBOX_SMTP_PASSWORD": "not-a-real-password",
			"LEADBOX_SALES_TO":      "sales@example.com",
		},
		{
			"LEADBOX_DKIM_KEY_FILE": keyFile,
			"LEADBOX_DKIM_SELECTOR": "leadbox2026",
			"LEADBOX_MAIL_FROM":     "Leads <leads@example.com>",
		},
		{
			"LEADBOX_CAPTCHA":          "turnstile",
			"LEADBOX_CAPTCHA_SITE_KEY": "site-key",
			"LEADBOX_CAPTCHA_SECRET":   "not-a-real-secret",
		},
		{"LEADBOX_LISTEN": "127.0.0.1:18100"},
		{"LEADBOX_LISTEN": "127.0.0.1:18100", "LEADBOX_BASE_URL": "http://localhost:18200"},
		{"LEADBOX_BASE_URL": "https://leads.example.com"},
	}
	read := map[string]bool{}
	for _, e := range environments {
		_, _ = config.Load(func(name string) string {
			read[name] = true
			return e[name]
		})
	}
	// A guard for the test itself: if Load stopped reading through getenv,
	// an empty set would make the comparison pass vacuously.
	if len(read) < 40 {
		t.Fatalf("Load read only %d variables; the test no longer sees what Load reads", len(read))
	}
	return read
}

// settingName is a variable in the first column of a settings table.
var settingName = regexp.MustCompile("^`(LEADBOX_[A-Z0-9_]+)`$")

// documentedSettings returns the variables in the first column of every
// table in path whose header's first cell is "variable". Each row must
// name exactly one variable, in backticks, once.
func documentedSettings(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open the settings reference: %v", err)
	}
	defer f.Close()

	names := map[string]bool{}
	inTable, tables := false, 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(text, "|"), "|")
		first := strings.TrimSpace(cells[0])
		switch {
		case !inTable && first == "variable":
			inTable = true
			tables++
			continue
		case !inTable, strings.Trim(first, "-: ") == "":
			continue // another table, or the header's separator row
		}
		m := settingName.FindStringSubmatch(first)
		if m == nil {
			t.Errorf("%s:%d: first column is %q, want one LEADBOX_* variable in backticks", path, line, first)
			continue
		}
		if names[m[1]] {
			t.Errorf("%s:%d: %s is listed twice", path, line, m[1])
		}
		names[m[1]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if tables == 0 {
		t.Fatalf("%s has no table whose first column is \"variable\"", path)
	}
	return names
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestReadmeShort keeps README.md a page one reads to the end: what
// Leadbox is, how to run it, a tour, and links to docs/.
func TestReadmeShort(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")); got > maxReadmeLines {
		t.Errorf("README.md has %d lines, want at most %d: move detail to a page in docs/", got, maxReadmeLines)
	}
}
