package handlers

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leadbox/leadbox/models"
)

func TestValidToken(t *testing.T) {
	t.Parallel()
	good := models.NewKey(20)
	tests := []struct {
		token string
		want  bool
	}{
		{good, true},
		{strings.ToUpper(good), false},
		{good[:41], false},
		{good + "a", false},
		{good[:41] + "1", false}, // 1 is not base32
		{good[:41] + "=", false},
		{good[:41] + "é", false},
		{"", false},
		{strings.Repeat("a", 42), true},
	}
	for _, tc := range tests {
		if got := validToken(tc.token); got != tc.want {
			t.Errorf("validToken(%q) = %v, want %v", tc.token, got, tc.want)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ann@example.com":   "a***@example.com",
		"Zoë@bücher.de":     "Z***@bücher.de",
		"ółwia@example.com": "ó***@example.com",
		"@example.com":      "***",
		"nonsense":          "***",
	} {
		if got := maskEmail(in); got != want {
			t.Errorf("maskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzTokenParsing checks the token gate of the opt-out and confirm routes:
// whatever it lets through is exactly the shape NewToken makes, so nothing
// else ever reaches the database; and masking any address never panics or
// reveals the local part beyond its first character.
func FuzzTokenParsing(f *testing.F) {
	f.Add(models.NewKey(20), "ann@example.com")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "@")
	f.Add("%2e%2e%2fetc%2fpasswd", "a@b@c")
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x00\x00", "\xff@x")
	f.Fuzz(func(t *testing.T, token, addr string) {
		if validToken(token) {
			if len(token) != tokenLen {
				t.Fatalf("validToken accepted %q of length %d", token, len(token))
			}
			for _, c := range token {
				if !(c >= 'a' && c <= 'z') && !(c >= '2' && c <= '7') {
					t.Fatalf("validToken accepted %q with %q", token, c)
				}
			}
		}
		m := maskEmail(addr)
		at := strings.LastIndexByte(addr, '@')
		if at < 1 {
			if m != "***" {
				t.Fatalf("maskEmail(%q) = %q, want *** for a non-address", addr, m)
			}
			return
		}
		first, _ := utf8.DecodeRuneInString(addr)
		if want := string(first) + "***" + addr[at:]; m != want {
			t.Fatalf("maskEmail(%q) = %q, want %q", addr, m, want)
		}
	})
}
