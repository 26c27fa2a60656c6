package handlers

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// subjectStore answers data-subject requests (models.SubjectStore).
type subjectStore interface {
	SubjectAccess(ctx context.Context, subject string, doubleOptIn bool) (models.SubjectData, error)
	AuditSubject(ctx context.Context, action, subject string, o models.Origin) error
	EraseSubject(ctx context.Context, subject string, o models.Origin) (models.Erasure, error)
	Suppress(ctx context.Context, subject, method string, o models.Origin) (models.Suppression, error)
}

// subjectJSON is everything held about an address, as the access request
// and the privacy page's download give it.
type subjectJSON struct {
	Email      string           `json:"email"`
	Leads      []leadDetailJSON `json:"leads"`
	Suppressed bool             `json:"suppressed"`
}

func newSubjectJSON(d models.SubjectData, salesTo emailsTo) subjectJSON {
	out := subjectJSON{Email: d.Subject, Leads: make([]leadDetailJSON, 0, len(d.Leads)), Suppressed: d.Suppressed}
	for _, l := range d.Leads {
		out.Leads = append(out.Leads, newLeadDetailJSON(l, salesTo))
	}
	return out
}

// subjectExample is what a request's body looks like, for the messages
// that say it.
const subjectExample = `{"email": "name@example.com"}`

// decodeSubject reads a data-subject request's body, {"email": ...}, and
// returns the address in its normal form (models.NormalizeEmail), or a
// message per field ("body" for the body as a whole). The address travels
// in the body, never in the URL, so that it stays out of access logs.
func decodeSubject(c *gin.Context) (string, bool) {
	body, err := io.ReadAll(c.Request.Body)
	if isTooLarge(err) {
		apiError(c, http.StatusRequestEntityTooLarge, "too_large")
		return "", false
	}
	if err != nil {
		apiError(c, http.StatusBadRequest, "bad_request")
		return "", false
	}
	if !utf8.Valid(body) {
		apiValidation(c, map[string]string{"body": "Is not valid UTF-8."})
		return "", false
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		apiValidation(c, map[string]string{"body": "Must be a JSON object such as " + subjectExample + "."})
		return "", false
	}
	errs := map[string]string{}
	for key := range raw {
		if key != "email" {
			errs[key] = "Is not a field of this request: give email only."
		}
	}
	var email string
	if v, ok := raw["email"]; !ok || string(v) == "null" {
		errs["email"] = "Is required: the address the request is about."
	} else if err := json.Unmarshal(v, &email); err != nil {
		errs["email"] = "Must be a JSON string."
	} else if msg := validEmail(strings.TrimSpace(email)); msg != "" {
		errs["email"] = msg
	}
	if len(errs) > 0 {
		apiValidation(c, errs)
		return "", false
	}
	return models.NormalizeEmail(email), true
}

// subjectAccess answers POST /api/v1/subjects/access (GDPR article 15):
// everything held about the address, after the request's audit entry.
func subjectAccess(store subjectStore, now func() time.Time, doubleOptIn bool, salesTo emailsTo, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		subject, ok := decodeSubject(c)
		if !ok {
			return
		}
		d, err := store.SubjectAccess(c.Request.Context(), subject, doubleOptIn)
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		if err := store.AuditSubject(c.Request.Context(), models.AuditSubjectAccess, subject, origin(c, now)); err != nil {
			apiInternal(c, log, err)
			return
		}
		c.JSON(http.StatusOK, newSubjectJSON(d, salesTo))
	}
}

// erasureJSON is what an erasure did.
type erasureJSON struct {
	ErasedLeads     int `json:"erased_leads"`
	CancelledEmails int `json:"cancelled_emails"`
}

// subjectErase answers POST /api/v1/subjects/erase (GDPR article 17). An
// address nothing is held about answers zeros, like one erased already:
// the answer must not tell who is held.
func subjectErase(store subjectStore, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		subject, ok := decodeSubject(c)
		if !ok {
			return
		}
		res, err := store.EraseSubject(c.Request.Context(), subject, origin(c, now))
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		c.JSON(http.StatusOK, erasureJSON{ErasedLeads: res.Leads, CancelledEmails: res.CancelledEmails})
	}
}

// suppressionJSON answers a suppression.
type suppressionJSON struct {
	Suppressed bool `json:"suppressed"`
}

// suppressionAdd answers POST /api/v1/suppressions (GDPR article 21, a
// request by phone or letter): 201 when the address went on the list, 200
// when it was on it already.
func suppressionAdd(store subjectStore, now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		subject, ok := decodeSubject(c)
		if !ok {
			return
		}
		res, err := store.Suppress(c.Request.Context(), subject, models.MethodSuppression, origin(c, now))
		if err != nil {
			apiInternal(c, log, err)
			return
		}
		status := http.StatusOK
		if res.Listed {
			status = http.StatusCreated
		}
		c.JSON(status, suppressionJSON{Suppressed: true})
	}
}
