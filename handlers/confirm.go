package handlers

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

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

// confirmState decides what a confirmation link can still do, from the
// person's consent history.
func confirmState(d Deps, lead models.Lead, history []models.ConsentEvent) string {
	given, confirmed := models.ConfirmTarget(history, lead.ID)
	switch {
	case models.ComputeMarketingState(history, true) == models.StateSubscribed:
		return "confirmed"
	case confirmed:
		// Confirmed once, but the person ticked the box again since and
		// that newer consent waits for its own link: "already subscribed"
		// would not be true.
		return "superseded"
	case lead.ConfirmExpiresAt == nil || d.Now().After(*lead.ConfirmExpiresAt):
		return "expired"
	case given == nil:
		return "superseded"
	}
	return "pending"
}

// confirmShow shows a page with one "Confirm" button. Like the opt-out page
// it changes nothing, because link scanners open it too.
func confirmShow(d Deps, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		d.confirm(c, rend, false)
	}
}

// confirmSubmit records the double opt-in confirmation. Repeating it
// changes nothing more.
func confirmSubmit(d Deps, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		d.confirm(c, rend, true)
	}
}

func (d Deps) confirm(c *gin.Context, rend *renderer, write bool) {
	ctx := c.Request.Context()
	lead, ok := lookupLead(c, rend, func(t string) (models.Lead, error) { return d.Store.LeadByConfirmToken(ctx, t) })
	if !ok {
		return
	}
	history, err := d.Store.ConsentHistory(ctx, models.NormalizeEmail(lead.Email))
	if err != nil {
		rend.internalError(c, err)
		return
	}
	page := confirmPage{
		pageData:  pageData{Site: rend.site},
		Masked:    maskEmail(lead.Email),
		Action:    c.Request.URL.Path,
		OptOutURL: "/optout/" + lead.OptOutToken,
		State:     confirmState(d, lead, history),
		Current:   models.ComputeMarketingState(history, true),
	}
	if write && page.State == "pending" {
		done, err := d.Store.Confirm(ctx, lead, models.ConsentEvent{
			At:        d.Now().UTC(),
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
				d.Log.InfoContext(ctx, "marketing consent confirmed", "request_id", requestID(c))
			}
		}
	}
	status := http.StatusOK
	if page.State == "expired" {
		status = http.StatusGone
	}
	rend.page(c, status, "confirm", page)
}
