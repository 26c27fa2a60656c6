package mailer

import (
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/leadbox/leadbox/internal/smtptest"
)

func TestSendTest(t *testing.T) {
	to := &mail.Address{Address: "operator@example.com"}
	tests := []struct {
		name     string
		script   []smtptest.Fate
		wantLine string
		wantErr  string
		wantMsgs int
	}{
		{"accepted", nil, "sent the test email to operator@example.com through SMTP 127.0.0.1:", "", 1},
		{"rejected", []smtptest.Fate{smtptest.PermFailRcpt}, "", "the SMTP server answered 550", 0},
		{"deferred", []smtptest.Fate{smtptest.TempFailRcpt}, "", "the SMTP server answered 451", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := smtptest.NewServer(t, tt.script...)
			line, err := SendTest(t.Context(), testConfig(t, d), to)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("SendTest = %q, %v; want an error containing %q", line, err, tt.wantErr)
				}
			} else if err != nil || !strings.Contains(line, tt.wantLine) {
				t.Errorf("SendTest = %q, %v; want a line containing %q", line, err, tt.wantLine)
			}
			if got := len(d.Messages()); got != tt.wantMsgs {
				t.Errorf("server accepted %d messages, want %d", got, tt.wantMsgs)
			}
		})
	}
}

func TestSendTestServerDown(t *testing.T) {
	d := smtptest.NewUnstartedServer(t)
	if line, err := SendTest(t.Context(), testConfig(t, d), &mail.Address{Address: "operator@example.com"}); err == nil {
		t.Errorf("SendTest = %q, nil; want a connection error", line)
	}
}

func TestSendTestFile(t *testing.T) {
	cfg := testConfig(t, nil)
	line, err := SendTest(t.Context(), cfg, &mail.Address{Address: "operator@example.com"})
	if err != nil {
		t.Fatalf("SendTest: %v", err)
	}
	entries, err := os.ReadDir(cfg.MailDir)
	if err != nil || len(entries) != 1 || !regexp.MustCompile(`^\d{8}T\d{6}\.\d{3}Z-test-[0-9a-f]{8}\.eml$`).MatchString(entries[0].Name()) {
		t.Fatalf("mail dir holds %v (%v), want one file named TIME-test-HASH.eml", entries, err)
	}
	if want := "wrote the test email to " + filepath.Join(cfg.MailDir, entries[0].Name()) + " "; !strings.HasPrefix(line, want) {
		t.Errorf("SendTest = %q, want a line starting %q", line, want)
	}
}
