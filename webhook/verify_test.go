package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verify checks a webhook as a receiver would, written from the Standard
// Webhooks 1.0 specification ("Verifying webhook authenticity") and not
// from Leadbox's signer: the secret is "whsec_" + base64 of the key; the
// signed content is id.timestamp.body; the header holds space-separated
// "v1,<base64>" signatures, any one of which may match, compared in
// constant time; a timestamp more than five minutes away is refused
// (replays).
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad webhook-timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("webhook-timestamp too far from now")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// The published test vector of the standard-webhooks libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// TestSignMatchesTheSpecVector: Leadbox's signer and the test's verifier
// both agree with the specification's published vector.
func TestSignMatchesTheSpecVector(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSecret, "whsec_"))
	if got := Sign(key, vectorID, vectorTimestamp, []byte(vectorPayload)); got != vectorSignature {
		t.Errorf("Sign = %q, want %q", got, vectorSignature)
	}
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp))
	h.Set("webhook-signature", "v1,bm9wZQ== "+vectorSignature) // several signatures: any may match
	at := time.Unix(vectorTimestamp, 0)
	if err := verify(vectorSecret, h, []byte(vectorPayload), at); err != nil {
		t.Errorf("verify(the spec's vector) = %v, want it accepted", err)
	}
	for name, mutate := range map[string]func(){
		"another body":   func() { h.Set("webhook-id", vectorID+"x") },
		"an old message": func() { at = at.Add(6 * time.Minute) },
	} {
		mutate()
		if err := verify(vectorSecret, h, []byte(vectorPayload), at); err == nil {
			t.Errorf("verify(%s) accepted it", name)
		}
	}
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
