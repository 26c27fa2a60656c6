package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// TestSubmitOutcomes runs the pipeline without HTTP and checks, for each
// way a submission can end, the reply, what becomes of the rate token, the
// spam counted, and whether anything was written.
func TestSubmitOutcomes(t *testing.T) {
	t.Parallel()
	const valid = "name=Ann&email=ann%40example.com&message=Hello&marketing_consent=on"
	received := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	stamps := formStamps{key: []byte("test key")}
	// The earlier lead did not tick the box; its repeat, which does, is
	// answered with the earlier consent.
	earlier := models.Lead{PublicID: "earlier-id", Consent: &models.ConsentEvent{Action: models.ActionNotGiven}}
	tests := []struct {
		name        string
		contentType string
		body        string
		minFillTime time.Duration
		bodyLimit   int64 // 0: none
		store       fakeRecorder
		wantKind    replyKind
		wantStatus  int // of refused and unreadable replies
		wantToken   tokenUse
		wantID      string // of an accepted reply, when known
		wantSpam    string
		wantWrites  int
		wantFresh   bool
	}{
		{name: "accepted", contentType: "application/x-www-form-urlencoded", body: valid,
			wantKind: replyAccepted, wantToken: tokenSpent, wantWrites: 1, wantFresh: true},
		{name: "unsupported body", contentType: "text/plain", body: "hi",
			wantKind: replyUnreadable, wantStatus: http.StatusUnsupportedMediaType, wantToken: tokenReturned},
		{name: "body too large", contentType: "application/x-www-form-urlencoded", body: valid, bodyLimit: 10,
			wantKind: replyUnreadable, wantStatus: http.StatusRequestEntityTooLarge, wantToken: tokenReturned},
		{name: "malformed body", contentType: "application/json", body: "{",
			wantKind: replyUnreadable, wantStatus: http.StatusBadRequest, wantToken: tokenReturned},
		{name: "invalid field", contentType: "application/x-www-form-urlencoded", body: "name=Ann&email=typo&message=Hello",
			wantKind: replyRefused, wantStatus: http.StatusUnprocessableEntity, wantToken: tokenReturned},
		{name: "honeypot, even with invalid fields", contentType: "application/x-www-form-urlencoded", body: "email=typo&_gotcha=x",
			wantKind: replyAccepted, wantToken: tokenSpent, wantSpam: models.SpamHoneypot},
		{name: "time trap", contentType: "application/x-www-form-urlencoded", body: valid + "&_ts=" + stamps.issue(received),
			minFillTime: 3 * time.Second,
			wantKind:    replyAccepted, wantToken: tokenSpent, wantSpam: models.SpamTimeTrap},
		{name: "duplicate", contentType: "application/x-www-form-urlencoded", body: valid,
			store:    fakeRecorder{created: models.Created{Duplicate: true}, earlier: earlier},
			wantKind: replyAccepted, wantToken: tokenSpent, wantID: earlier.PublicID, wantSpam: models.SpamDuplicate, wantWrites: 1},
		{name: "database fails", contentType: "application/x-www-form-urlencoded", body: valid,
			store:    fakeRecorder{err: errors.New("a constraint failed")},
			wantKind: replyFailed, wantToken: tokenReturned, wantWrites: 1},
		{name: "database cannot store", contentType: "application/x-www-form-urlencoded", body: valid,
			store:    fakeRecorder{err: fmt.Errorf("create lead: %w: disk full", models.ErrUnavailable)},
			wantKind: replyRefused, wantStatus: http.StatusServiceUnavailable, wantToken: tokenReturned, wantWrites: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := intake{consentTextID: 1, stamps: stamps, minFillTime: tc.minFillTime}
			p := formPolicy{doubleOptIn: true, confirmTTL: time.Hour}
			store := tc.store
			var body io.Reader = strings.NewReader(tc.body)
			if tc.bodyLimit > 0 {
				body = http.MaxBytesReader(nil, io.NopCloser(body), tc.bodyLimit)
			}
			req := submitRequest{contentType: tc.contentType, body: body, client: clientInfo{IP: "192.0.2.1"}}
			out := submit(context.Background(), req, in, p, &store, func() time.Time { return received }, slog.New(slog.DiscardHandler))
			if out.reply.kind != tc.wantKind || (tc.wantStatus != 0 && out.reply.status != tc.wantStatus) {
				t.Errorf("reply kind %d status %d, want kind %d status %d", out.reply.kind, out.reply.status, tc.wantKind, tc.wantStatus)
			}
			if out.token != tc.wantToken {
				t.Errorf("token %d, want %d (0 spent, 1 returned)", out.token, tc.wantToken)
			}
			if out.spam != tc.wantSpam || out.fresh != tc.wantFresh || store.writes != tc.wantWrites {
				t.Errorf("spam %q, fresh %v, %d writes; want %q, %v, %d", out.spam, out.fresh, store.writes, tc.wantSpam, tc.wantFresh, tc.wantWrites)
			}
			if tc.wantID != "" && (out.reply.accepted.ID != tc.wantID || out.reply.accepted.MarketingConsent != "not_given") {
				t.Errorf("answered %+v, want id %q and the earlier lead's consent, not_given", out.reply.accepted, tc.wantID)
			}
		})
	}
}
