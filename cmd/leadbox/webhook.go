package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/leadbox/leadbox/config"
)

// webhookSecretBytes is the size of a new signing secret: 32 random
// bytes, the HMAC-SHA256 key's own size, within Standard Webhooks' 24 to
// 64.
const webhookSecretBytes = 32

// webhookCmd is `leadbox webhook secret`: it prints a new
// LEADBOX_WEBHOOK_SECRET, and nothing else, on one line, for a script to
// capture. Leadbox keeps no copy: the secret lives in the settings, and
// the receiver is given the same one.
func webhookCmd(args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "secret" {
		return badInput("webhook: usage: leadbox webhook secret")
	}
	key := make([]byte, webhookSecretBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	_, err := fmt.Fprintln(stdout, config.WebhookSecretPrefix+base64.StdEncoding.EncodeToString(key))
	return err
}
