package handlers

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFormStamps(t *testing.T) {
	f := formStamps{key: []byte("0123456789abcdef0123456789abcdef")}
	other := formStamps{key: []byte("another key, another instance...")}
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	stamp := f.issue(t0, 7)
	// A stamp of Leadbox before wordings were signed, for a form rendered
	// then and posted after an upgrade.
	v1 := "v1.1777626000." + f.sign("v1.1777626000")
	tests := []struct {
		name     string
		stamp    string
		at       time.Time
		want     string
		wantText int64
	}{
		{"no stamp (an external form)", "", t0, stampNone, 0},
		{"a person's pace", stamp, t0.Add(8 * time.Second), stampOK, 7},
		{"exactly the minimum", stamp, t0.Add(3 * time.Second), stampOK, 7},
		{"a bot's pace", stamp, t0.Add(400 * time.Millisecond), stampFast, 7},
		{"hours later (a tab left open)", stamp, t0.Add(20 * time.Hour), stampOK, 7},
		{"version 1", v1, t0.Add(8 * time.Second), stampOK, 0},
		{"version 1, a bot's pace", v1, t0, stampFast, 0},
		{"signed by another key", other.issue(t0, 7), t0.Add(8 * time.Second), stampForged, 0},
		{"time changed, signature kept", strings.Replace(stamp, "1777626000", "1777620000", 1), t0.Add(8 * time.Second), stampForged, 0},
		{"wording changed, signature kept", strings.Replace(stamp, ".7.", ".6.", 1), t0.Add(8 * time.Second), stampForged, 0},
		{"a version 2 body under version 1", strings.Replace(stamp, "v2.", "v1.", 1), t0.Add(8 * time.Second), stampForged, 0},
		{"from the future", f.issue(t0.Add(time.Hour), 7), t0, stampForged, 0},
		{"garbage", "hello", t0, stampForged, 0},
		{"no signature", "v2.1777626000.7", t0.Add(time.Minute), stampForged, 0},
		{"empty signature", "v2.1777626000.7.", t0.Add(time.Minute), stampForged, 0},
		{"no wording", "v2.1777626000." + f.sign("v2.1777626000"), t0.Add(time.Minute), stampForged, 0},
		{"not a number", "v2.abc.7." + f.sign("v2.abc.7"), t0, stampForged, 0},
		{"negative wording", "v2.1777626000.-7." + f.sign("v2.1777626000.-7"), t0.Add(time.Minute), stampForged, 0},
		{"huge number", "v2.99999999999999999999.7." + f.sign("v2.99999999999999999999.7"), t0, stampForged, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, text := f.check(tc.stamp, tc.at, 3*time.Second)
			if got != tc.want || text != tc.wantText {
				t.Errorf("check(%q) = %q, wording %d; want %q, %d", tc.stamp, got, text, tc.want, tc.wantText)
			}
		})
	}
}

// TestRestamp: a form shown again says today's wording and keeps its time;
// what we did not sign stays as it was.
func TestRestamp(t *testing.T) {
	f := formStamps{key: []byte("0123456789abcdef0123456789abcdef")}
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	re := f.restamp(f.issue(t0, 7), 8)
	if re != f.issue(t0, 8) {
		t.Errorf("restamp to wording 8 = %q, want %q", re, f.issue(t0, 8))
	}
	for _, s := range []string{f.issue(t0, 8), "", "hello", "v2.1.2.forged"} {
		if got := f.restamp(s, 8); got != s {
			t.Errorf("restamp(%q) = %q, want it unchanged", s, got)
		}
	}
}

func FuzzFormStampCheck(f *testing.F) {
	fs := formStamps{key: []byte("0123456789abcdef0123456789abcdef")}
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	f.Add(fs.issue(t0, 7))
	f.Add("v1.1777626000." + fs.sign("v1.1777626000"))
	f.Add("v1..")
	f.Add("v2...")
	f.Add("v1.-1." + fs.sign("v1.-1"))
	f.Fuzz(func(t *testing.T, stamp string) {
		got, text := fs.check(stamp, t0, 3*time.Second)
		if got != stampOK && got != stampFast {
			return
		}
		// Only stamps we issued may pass the signature check: issuing
		// again what it says gives the same stamp back.
		rendered, _, _ := fs.read(stamp)
		v1 := stampPrefixV1 + strconv.FormatInt(rendered.Unix(), 10)
		if stamp != fs.issue(rendered, text) && stamp != v1+"."+fs.sign(v1) {
			t.Fatalf("check(%q) = %q for a stamp we did not issue", stamp, got)
		}
	})
}
