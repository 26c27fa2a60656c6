package handlers

import (
	"strings"
	"testing"
	"time"
)

func TestFormStamps(t *testing.T) {
	t.Parallel()
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
		{"not a number", "v1.abc." + f.sign("v1.abc"), t0, stampForged},
		{"huge number", "v1.99999999999999999999." + f.sign("v1.99999999999999999999"), t0, stampForged},
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
	f.Add("v1.-1." + fs.sign("v1.-1"))
	f.Fuzz(func(t *testing.T, stamp string) {
		got := fs.check(stamp, t0, 3*time.Second)
		if got == stampOK || got == stampFast {
			// Only stamps we issued may pass the signature check.
			ts := strings.SplitN(strings.TrimPrefix(stamp, stampPrefix), ".", 2)[0]
			if stamp != stampPrefix+ts+"."+fs.sign(stampPrefix+ts) {
				t.Fatalf("check(%q) = %q for a stamp we did not issue", stamp, got)
			}
		}
	})
}

// TestWordingTokens: a token names the wording for the one stamp it was
// issued with; anything else names none.
func TestWordingTokens(t *testing.T) {
	t.Parallel()
	f := formStamps{key: []byte("0123456789abcdef0123456789abcdef")}
	other := formStamps{key: []byte("another key, another instance...")}
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	stamp, later := f.issue(t0), f.issue(t0.Add(time.Minute))
	token := f.wording(stamp, 7)
	tests := []struct {
		name, stamp, token string
		want               int64
	}{
		{"its stamp", stamp, token, 7},
		{"another form's stamp", later, token, 0},
		{"no stamp", "", token, 0},
		{"no token", stamp, "", 0},
		{"wording changed, signature kept", stamp, strings.Replace(token, "w1.7.", "w1.6.", 1), 0},
		{"signed by another key", stamp, other.wording(stamp, 7), 0},
		{"negative wording", stamp, "w1.-7." + f.sign("w1.-7."+stamp), 0},
		{"not a number", stamp, "w1.x." + f.sign("w1.x."+stamp), 0},
		{"garbage", stamp, "w1.", 0},
	}
	for _, tc := range tests {
		if got := f.shown(tc.stamp, tc.token); got != tc.want {
			t.Errorf("%s: shown(%q, %q) = %d, want %d", tc.name, tc.stamp, tc.token, got, tc.want)
		}
	}
}

func FuzzWordingToken(f *testing.F) {
	fs := formStamps{key: []byte("0123456789abcdef0123456789abcdef")}
	stamp := fs.issue(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	f.Add(fs.wording(stamp, 7))
	f.Add("w1..")
	f.Add("w1.99999999999999999999.x")
	f.Fuzz(func(t *testing.T, token string) {
		// Only tokens we issued for this stamp may name a wording.
		if id := fs.shown(stamp, token); id != 0 && token != fs.wording(stamp, id) {
			t.Fatalf("shown(%q) = %d for a token we did not issue", token, id)
		}
	})
}
