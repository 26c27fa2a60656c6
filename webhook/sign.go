// Package webhook sends Leadbox's events to the URLs of
// LEADBOX_WEBHOOK_URLS as Standard Webhooks 1.0 (https://www.standardwebhooks.com):
// signed JSON POSTs, taken from the durable outbox by a worker of their
// own, so that a receiver that is slow or down delays webhooks and
// nothing else. The storage engine queues them, in the transaction of the
// change each reports (see models.WebhookRows); this package composes
// them from the lead at send time, signs, delivers and retries them.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// Sign returns the webhook-signature header of a message: "v1," and the
// base64 HMAC-SHA256, under the decoded secret key, of the message id, the
// Unix timestamp and the body, joined by dots (Standard Webhooks 1.0,
// "Signature scheme").
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
