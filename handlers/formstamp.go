package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// formStamps sign what the hosted form was when it was rendered.
//
// The stamp (_ts) is its render time, for the time trap: a person needs
// several seconds to fill in a form, a bot posts within milliseconds of
// fetching it. It is signed so a bot cannot simply send an old time.
//
// The wording token (_tw) names the consent wording the form showed, bound
// to its stamp, so that a lead keeps the wording it was shown even when the
// configured one changed while the form was open. It is a field of its
// own, not part of the stamp, so that a release without it (after a
// rollback, or beside this one) still reads the stamp, and ignores the
// token, instead of taking the form for a bot's.
//
// Both need no JavaScript and no third party.
type formStamps struct {
	key []byte // a server-side secret, shared by every instance on the database
}

const (
	stampPrefix   = "v1."
	wordingPrefix = "w1."
)

// issue returns the stamp for a form rendered at t.
func (f formStamps) issue(t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return stampPrefix + ts + "." + f.sign(stampPrefix+ts)
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

// check judges a posted stamp at now. Stamps from the future (beyond a
// minute of clock skew between instances) count as forged.
func (f formStamps) check(stamp string, now time.Time, min time.Duration) string {
	if stamp == "" {
		return stampNone
	}
	rest, ok := strings.CutPrefix(stamp, stampPrefix)
	ts, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || len(ts) > 19 {
		return stampForged
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || !hmac.Equal([]byte(sig), []byte(f.sign(stampPrefix+ts))) {
		return stampForged
	}
	rendered := time.Unix(unix, 0)
	switch {
	case rendered.After(now.Add(time.Minute)):
		return stampForged
	case now.Sub(rendered) < min:
		return stampFast
	}
	return stampOK
}

// wording returns the token saying that the form stamped stamp showed the
// consent wording textID.
func (f formStamps) wording(stamp string, textID int64) string {
	id := strconv.FormatInt(textID, 10)
	return wordingPrefix + id + "." + f.sign(wordingPrefix+id+"."+stamp)
}

// shown returns the consent wording a token names for the form stamped
// stamp, or 0 when the token is missing or not one we issued for it.
func (f formStamps) shown(stamp, token string) int64 {
	rest, ok := strings.CutPrefix(token, wordingPrefix)
	id, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || stamp == "" || len(id) > 19 ||
		!hmac.Equal([]byte(sig), []byte(f.sign(wordingPrefix+id+"."+stamp))) {
		return 0
	}
	textID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || textID < 0 {
		return 0
	}
	return textID
}
