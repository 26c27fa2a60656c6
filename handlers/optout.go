package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// optOutFinder finds the lead an opt-out link belongs to.
type optOutFinder interface {
	LeadByOptOutToken(ctx context.Context, token string) (models.Lead, error)
}

// optOutReader is what the opt-out page reads: the lead and where its
// person stands.
type optOutReader interface {
	optOutFinder
	MarketingStateOf(ctx context.Context, subject string, doubleOptIn bool) (models.MarketingState, error)
}

// optOutWriter is what the opt-out button needs: the lead, and a way to
// record the withdrawal.
type optOutWriter interface {
	optOutFinder
	Withdraw(ctx context.Context, ev models.ConsentEvent) (done bool, err error)
}

// optOutPage is the data of optout.html.
type optOutPage struct {
	pageData
	Masked   string
	Action   string
	OptedOut bool
	JustNow  bool
	// State is the person's marketing state, for the page to say where
	// they stand before they choose.
	State models.MarketingState
}

// optOutShow shows whether the person is opted out and, if not, one button
// to opt out. It changes nothing: mail scanners open every link in a
// message, and an unsubscribe by GET would unsubscribe people who never
// clicked. doubleOptIn decides whether an unconfirmed consent counts.
func optOutShow(store optOutReader, doubleOptIn bool, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		lead, ok := lookupLead(c, rend, func(t string) (models.Lead, error) { return store.LeadByOptOutToken(ctx, t) })
		if !ok {
			return
		}
		state, err := store.MarketingStateOf(ctx, models.NormalizeEmail(lead.Email), doubleOptIn)
		if err != nil {
			rend.internalError(c, err)
			return
		}
		rend.page(c, http.StatusOK, "optout", optOutPage{
			pageData: pageData{Site: rend.site},
			Masked:   maskEmail(lead.Email),
			Action:   c.Request.URL.Path,
			OptedOut: state == models.StateWithdrawn,
			State:    state,
		})
	}
}

// optOutSubmit withdraws marketing consent. It is both the page's button
// and the RFC 8058 one-click target (body List-Unsubscribe=One-Click, sent
// by mail providers with no cookies and no Origin), so it answers 200 with
// no redirect. Repeating it changes nothing more.
func optOutSubmit(store optOutWriter, now func() time.Time, log *slog.Logger, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		lead, ok := lookupLead(c, rend, func(t string) (models.Lead, error) { return store.LeadByOptOutToken(ctx, t) })
		if !ok {
			return
		}
		method := models.MethodOptOutPage
		if c.PostForm("List-Unsubscribe") == "One-Click" {
			method = models.MethodOneClick
		}
		done, err := store.Withdraw(ctx, models.ConsentEvent{
			Subject:   models.NormalizeEmail(lead.Email),
			LeadID:    &lead.ID,
			At:        now().UTC(),
			Method:    method,
			IP:        c.ClientIP(),
			UserAgent: truncate(c.Request.UserAgent(), maxUserAgent),
		})
		if err != nil {
			rend.internalError(c, err)
			return
		}
		if done {
			log.InfoContext(ctx, "marketing consent withdrawn", "request_id", requestID(c), "method", method)
		}
		if wantsJSON(c.Request) {
			c.JSON(http.StatusOK, gin.H{"status": "opted_out"})
			return
		}
		rend.page(c, http.StatusOK, "optout", optOutPage{
			pageData: pageData{Site: rend.site},
			Masked:   maskEmail(lead.Email),
			OptedOut: true,
			JustNow:  done,
		})
	}
}
