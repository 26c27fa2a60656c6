package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// formStamps sign the time the hosted form was rendered, for the time trap:
// a person needs several seconds to fill in a form, a bot posts within
// milliseconds of fetching it. The stamp is signed so a bot cannot simply
// send an old time. It needs no JavaScript and no third party.
type formStamps struct {
	key []byte // a server-side secret, shared by every instance on the database
}

const stampPrefix = "v1."

// issue returns the stamp for a form rendered at t.
func (f formStamps) issue(t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return stampPrefix + ts + "." + f.sign(ts)
}

func (f formStamps) sign(ts string) string {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(stampPrefix + ts))
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
	if err != nil || !hmac.Equal([]byte(sig), []byte(f.sign(ts))) {
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
