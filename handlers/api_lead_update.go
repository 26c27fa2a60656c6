package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// leadUpdater changes a lead and audits the change in one transaction.
type leadUpdater interface {
	UpdateLead(ctx context.Context, publicID string, ch models.LeadChange, o models.Origin, doubleOptIn bool) (models.LeadItem, error)
}

// leadUpdate answers PATCH /api/v1/leads/{id}: a new status, a note, or
// both, then the lead as changed. The store appends the note to the
// lead's history (a note never replaces an earlier one) and writes the
// audit entry in the same transaction.
func leadUpdate(store leadUpdater, now func() time.Time, doubleOptIn bool, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if isTooLarge(err) {
			apiError(c, http.StatusRequestEntityTooLarge, "too_large")
			return
		}
		if err != nil {
			// The client went away or sent a broken body; there is no one
			// to answer, but the log should not call it our error.
			apiError(c, http.StatusBadRequest, "bad_request")
			return
		}
		ch, errs := decodeLeadChange(body)
		if errs != nil {
			apiValidation(c, errs)
			return
		}
		it, err := store.UpdateLead(c.Request.Context(), c.Param("id"), ch, origin(c, now), doubleOptIn)
		if errors.Is(err, models.ErrNotFound) {
			apiError(c, http.StatusNotFound, "not_found")
			return
		}
		if errors.Is(err, models.ErrLeadErased) {
			apiValidation(c, map[string]string{"note": "This lead's personal data was erased; a note about it cannot be added (its status can still change)."})
			return
		}
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		c.JSON(http.StatusOK, newLeadJSON(it))
	}
}

// changeExample is what a PATCH body looks like, for the messages that
// say it.
const changeExample = `{"status": "contacted", "note": "Called, sending a quote."}`

// decodeLeadChange reads a PATCH body: a JSON object with status, note or
// both. Anything else is a message per field ("body" for the body as a
// whole). Unknown fields are refused rather than ignored: a misspelt
// "stauts" must not answer 200 and change nothing.
func decodeLeadChange(body []byte) (models.LeadChange, map[string]string) {
	if !utf8.Valid(body) {
		return models.LeadChange{}, map[string]string{"body": "Is not valid UTF-8."}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return models.LeadChange{}, map[string]string{"body": "Must be a JSON object such as " + changeExample + "."}
	}
	var ch models.LeadChange
	fields := map[string]*string{"status": &ch.Status, "note": &ch.Note}
	errs := map[string]string{}
	for key := range raw {
		if _, known := fields[key]; !known {
			errs[key] = "Is not a field of a change: give status, note or both."
		}
	}
	if mayRepeatKeys(body, raw, fields) {
		for _, key := range repeatedKeys(body, fields) {
			errs[key] = "Was sent more than once with different values."
		}
	}
	for key, dst := range fields {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			continue
		}
		if _, bad := errs[key]; bad {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			errs[key] = "Must be a JSON string."
		}
	}
	if _, bad := errs["status"]; !bad && ch.Status != "" && !models.ValidLeadStatus(ch.Status) {
		errs["status"] = "Must be one of " + strings.Join(models.LeadStatuses(), ", ") + "."
	}
	ch.Note = strings.TrimSpace(normalizeNewlines(ch.Note))
	if _, bad := errs["note"]; !bad {
		if msg := validNote(ch.Note); msg != "" {
			errs["note"] = msg
		}
	}
	if len(errs) == 0 && ch.Status == "" && ch.Note == "" {
		errs["body"] = "Give a status, a note or both, such as " + changeExample + "."
	}
	if len(errs) > 0 {
		return models.LeadChange{}, errs
	}
	return ch, nil
}

// validNote checks a note: at most models.MaxNote characters, line breaks
// and tabs allowed, other control characters not (as in a message).
func validNote(v string) string {
	if n := utf8.RuneCountInString(v); n > models.MaxNote {
		return fmt.Sprintf("Must be at most %d characters (this is %d).", models.MaxNote, n)
	}
	if strings.ContainsFunc(v, isForbiddenInMessage) {
		return "Must not contain control characters other than line breaks and tabs."
	}
	return ""
}
