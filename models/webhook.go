package models

import (
	"encoding/json"
	"time"
)

// KindWebhook is an outbox row that is a signed event POSTed to one
// webhook URL (OutboxMessage.Target). Webhooks travel through the outbox
// like emails, but a lane of their own sends them (see the webhook
// package): a slow receiver delays only webhooks.
const KindWebhook = "webhook"

// Webhook event types (Standard Webhooks "type").
const (
	EventLeadCreated      = "lead.created"
	EventConsentConfirmed = "consent.confirmed"
	EventConsentWithdrawn = "consent.withdrawn"
	EventSubjectErased    = "subject.erased"
)

// ErasedData is the data of a subject.erased event: the public ids of the
// leads whose personal data was erased, and nothing else, so that the
// event itself carries nothing of the person it is about.
type ErasedData struct {
	LeadIDs []string `json:"lead_ids"`
}

// WebhookRows returns the outbox rows of one event about lead leadID: one
// per URL, all with the same MessageID, which is the event's webhook-id
// ("msg_" + MessageID) on every attempt. data is stored as it is (JSON or
// empty); see OutboxMessage.Data for what may go there. None when urls is
// empty.
func WebhookRows(urls []string, event string, leadID int64, data string, now time.Time) []OutboxMessage {
	if len(urls) == 0 {
		return nil
	}
	id := NewKey(10)
	now = now.UTC()
	rows := make([]OutboxMessage, len(urls))
	for i, u := range urls {
		rows[i] = OutboxMessage{
			LeadID: leadID, Kind: KindWebhook, Event: event, Target: u, Data: data,
			Status: StatusPending, CreatedAt: now, NextAttemptAt: now, QueuedAt: now, MessageID: id,
		}
	}
	return rows
}

// ErasedRows returns the subject.erased rows for the erased leads
// (leadIDs row ids, publicIDs their public ids): the row points at the
// first lead, which keeps its anonymous row after erasure.
func ErasedRows(urls []string, leadIDs []int64, publicIDs []string, now time.Time) []OutboxMessage {
	if len(urls) == 0 || len(leadIDs) == 0 {
		return nil
	}
	data, _ := json.Marshal(ErasedData{LeadIDs: publicIDs}) // a struct of strings always marshals
	return WebhookRows(urls, EventSubjectErased, leadIDs[0], string(data), now)
}
