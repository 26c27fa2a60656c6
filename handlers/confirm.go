package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// confirmReader is what the confirmation page reads: the lead a link
// belongs to and its person's consent history.
type confirmReader interface {
	LeadByConfirmToken(ctx context.Context, token string) (models.Lead, error)
	ConsentHistory(ctx context.Context, subject string) ([]models.ConsentEvent, error)
}

// confirmWriter is what the confirm button needs besides: a way to record
// the confirmation.
type confirmWriter interface {
	confirmReader
	Confirm(ctx context.Context, lead models.Lead, ev models.ConsentEvent) (done bool, err error)
}

// confirmPage is the data of confirm.html.
type confirmPage struct {
	pageData
	Masked    string
	Action    string
	OptOutURL string
	// State is what the page says: pending (show the button), confirmed,
	// expired or superseded.
	State string
	// Current is the person's marketing state, to say it honestly on a
	// superseded link.
	Current models.MarketingState
	JustNow bool
}

// confirmState decides what a confirmation link can still do at now, from
// the person's consent history.
func confirmState(lead models.Lead, history []models.ConsentEvent, now time.Time) string {
	given, confirmed := models.ConfirmTarget(history, lead.ID)
	switch {
	case models.ComputeMarketingState(history, true) == models.StateSubscribed:
		return "confirmed"
	case confirmed:
		// Confirmed once, but the person ticked the box again since and
		// that newer consent waits for its own link: "already subscribed"
		// would not be true.
		return "superseded"
	case lead.ConfirmExpiresAt == nil || now.After(*lead.ConfirmExpiresAt):
		return "expired"
	case given == nil:
		return "superseded"
	}
	return "pending"
}

// confirmShow shows a page with one "Confirm" button. Like the opt-out page
// it changes nothing, because link scanners open it too.
func confirmShow(store confirmReader, now func() time.Time, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, page, ok := loadConfirm(c, store, now(), rend); ok {
			showConfirm(c, rend, page)
		}
	}
}

// confirmSubmit records the double opt-in confirmation. Repeating it
// changes nothing more.
func confirmSubmit(store confirmWriter, now func() time.Time, log *slog.Logger, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		at := now()
		lead, page, ok := loadConfirm(c, store, at, rend)
		if !ok {
			return
		}
		if page.State == "pending" {
			done, err := store.Confirm(ctx, lead, models.ConsentEvent{
				At:        at.UTC(),
				Method:    models.MethodConfirmLink,
				IP:        c.ClientIP(),
				UserAgent: truncate(c.Request.UserAgent(), maxUserAgent),
			})
			switch {
			case errors.Is(err, models.ErrConfirmSuperseded):
				page.State = "superseded"
			case err != nil:
				rend.internalError(c, err)
				return
			default:
				page.State, page.JustNow = "confirmed", done
				if done {
					log.InfoContext(ctx, "marketing consent confirmed", "request_id", requestID(c))
				}
			}
		}
		showConfirm(c, rend, page)
	}
}

// loadConfirm finds the lead of the link in the request and what its page
// says at now, answering 404 (or an internal error) itself when it cannot;
// ok reports whether to go on.
func loadConfirm(c *gin.Context, store confirmReader, now time.Time, rend *renderer) (models.Lead, confirmPage, bool) {
	ctx := c.Request.Context()
	lead, ok := lookupLead(c, rend, func(t string) (models.Lead, error) { return store.LeadByConfirmToken(ctx, t) })
	if !ok {
		return models.Lead{}, confirmPage{}, false
	}
	history, err := store.ConsentHistory(ctx, models.NormalizeEmail(lead.Email))
	if err != nil {
		rend.internalError(c, err)
		return models.Lead{}, confirmPage{}, false
	}
	return lead, confirmPage{
		pageData:  pageData{Site: rend.site},
		Masked:    maskEmail(lead.Email),
		Action:    c.Request.URL.Path,
		OptOutURL: "/optout/" + lead.OptOutToken,
		State:     confirmState(lead, history, now),
		Current:   models.ComputeMarketingState(history, true),
	}, true
}

// showConfirm answers with the page; an expired link is 410 Gone.
func showConfirm(c *gin.Context, rend *renderer, page confirmPage) {
	status := http.StatusOK
	if page.State == "expired" {
		status = http.StatusGone
	}
	rend.page(c, status, "confirm", page)
}
