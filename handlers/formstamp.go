package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// formStamps sign what the hosted form was when it was rendered: the time,
// for the time trap (a person needs several seconds to fill in a form, a
// bot posts within milliseconds of fetching it), and the consent wording
// it showed, so that a lead keeps the wording it was shown even when the
// configured one changed while the form was open. The stamp is signed so a
// bot cannot simply send an old time, nor a visitor another wording. It
// needs no JavaScript and no third party.
type formStamps struct {
	key []byte // a server-side secret, shared by every instance on the database
}

// Stamps are "v2.UNIX.WORDING.SIGNATURE". Version 1 ("v1.UNIX.SIGNATURE",
// no wording) is still read, for forms rendered before an upgrade.
const (
	stampPrefix   = "v2."
	stampPrefixV1 = "v1."
)

// issue returns the stamp for a form rendered at t showing the consent
// wording textID.
func (f formStamps) issue(t time.Time, textID int64) string {
	signed := stampPrefix + strconv.FormatInt(t.Unix(), 10) + "." + strconv.FormatInt(textID, 10)
	return signed + "." + f.sign(signed)
}

func (f formStamps) sign(signed string) string {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(signed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Stamp verdicts.
const (
	stampNone   = ""       // no stamp: an external form, not penalised
	stampOK     = "ok"     // a person's pace
	stampForged = "forged" // not a stamp we issued
	stampFast   = "fast"   // posted sooner than min after rendering
)

// read returns what a stamp we issued says: when its form was rendered and
// the wording it showed (0 for a version 1 stamp); ok is false for anything
// we did not sign.
func (f formStamps) read(stamp string) (rendered time.Time, textID int64, ok bool) {
	dot := strings.LastIndexByte(stamp, '.')
	if dot < 0 {
		return time.Time{}, 0, false
	}
	signed, sig := stamp[:dot], stamp[dot+1:]
	var ts, id string
	switch {
	case strings.HasPrefix(signed, stampPrefix):
		var found bool
		if ts, id, found = strings.Cut(signed[len(stampPrefix):], "."); !found {
			return time.Time{}, 0, false
		}
	case strings.HasPrefix(signed, stampPrefixV1):
		ts, id = signed[len(stampPrefixV1):], "0"
	default:
		return time.Time{}, 0, false
	}
	if len(ts) > 19 || len(id) > 19 || !hmac.Equal([]byte(sig), []byte(f.sign(signed))) {
		return time.Time{}, 0, false
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, 0, false
	}
	if textID, err = strconv.ParseInt(id, 10, 64); err != nil || textID < 0 {
		return time.Time{}, 0, false
	}
	return time.Unix(unix, 0), textID, true
}

// check judges a posted stamp at now, and returns the wording its form
// showed (0: unknown). Stamps from the future (beyond a minute of clock
// skew between instances) count as forged.
func (f formStamps) check(stamp string, now time.Time, min time.Duration) (verdict string, textID int64) {
	if stamp == "" {
		return stampNone, 0
	}
	rendered, textID, ok := f.read(stamp)
	switch {
	case !ok, rendered.After(now.Add(time.Minute)):
		return stampForged, 0
	case now.Sub(rendered) < min:
		return stampFast, textID
	}
	return stampOK, textID
}

// restamp returns stamp for a form shown again with the wording textID,
// keeping its time: a refused form is shown with the current wording, and
// that is the one the visitor then agrees to. A stamp we did not issue is
// returned as it is, to fail its check as before.
func (f formStamps) restamp(stamp string, textID int64) string {
	rendered, shown, ok := f.read(stamp)
	if !ok || shown == textID {
		return stamp
	}
	return f.issue(rendered, textID)
}
