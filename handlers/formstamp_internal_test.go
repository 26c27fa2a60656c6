package handlers

import (
	"strings"
	"testing"
	"time"
)

func TestFormStamps(t *testing.T) {
	f := formStamps{key: []byte("0123456789abcdef0123456789abcdef")}
	other := formStamps{key: []byte("another key, another instance...")}
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	stamp := f.issue(t0)
	tests := []struct {
		name  string
		stamp string
		at    time.Time
		want  string
	}{
		{"no stamp (an external form)", "", t0, stampNone},
		{"a person's pace", stamp, t0.Add(8 * time.Second), stampOK},
		{"exactly the minimum", stamp, t0.Add(3 * time.Second), stampOK},
		{"a bot's pace", stamp, t0.Add(400 * time.Millisecond), stampFast},
		{"hours later (a tab left open)", stamp, t0.Add(20 * time.Hour), stampOK},
		{"signed by another key", other.issue(t0), t0.Add(8 * time.Second), stampForged},
		{"time changed, signature kept", strings.Replace(stamp, "1777626000", "1777620000", 1), t0.Add(8 * time.Second), stampForged},
		{"from the future", f.issue(t0.Add(time.Hour)), t0, stampForged},
		{"garbage", "hello", t0, stampForged},
		{"no signature", "v1.1777626000", t0.Add(time.Minute), stampForged},
		{"empty signature", "v1.1777626000.", t0.Add(time.Minute), stampForged},
		{"not a number", "v1.abc." + f.sign("abc"), t0, stampForged},
		{"huge number", "v1.99999999999999999999." + f.sign("99999999999999999999"), t0, stampForged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.check(tc.stamp, tc.at, 3*time.Second); got != tc.want {
				t.Errorf("check(%q) = %q, want %q", tc.stamp, got, tc.want)
			}
		})
	}
}

func FuzzFormStampCheck(f *testing.F) {
	fs := formStamps{key: []byte("0123456789abcdef0123456789abcdef")}
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	f.Add(fs.issue(t0))
	f.Add("v1..")
	f.Add("v1.-1." + fs.sign("-1"))
	f.Fuzz(func(t *testing.T, stamp string) {
		got := fs.check(stamp, t0, 3*time.Second)
		if got == stampOK || got == stampFast {
			// Only stamps we issued may pass the signature check.
			ts := strings.SplitN(strings.TrimPrefix(stamp, stampPrefix), ".", 2)[0]
			if stamp != stampPrefix+ts+"."+fs.sign(ts) {
				t.Fatalf("check(%q) = %q for a stamp we did not issue", stamp, got)
			}
		}
	})
}
