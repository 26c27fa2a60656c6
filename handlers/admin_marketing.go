package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// adminMarketingPage is the data of admin_marketing.html.
type adminMarketingPage struct {
	adminPageData
	// Count is how many addresses may receive marketing now.
	Count int
	// DoubleOptIn: a consent counts only once confirmed by email.
	DoubleOptIn bool
}

// marketingShow serves the marketing export page, the one page of the
// inbox the marketing role sees: how many addresses may be mailed, the
// rule that decides it, and the download. It shows a count, no one's
// data, so it is not audited (the download is).
func marketingShow(store adminMarketingReader, rend *renderer, view inboxView) gin.HandlerFunc {
	return func(c *gin.Context) {
		n := 0
		err := store.EachMarketingContact(c.Request.Context(), view.doubleOptIn, func(models.MarketingContact) error {
			n++
			return nil
		})
		if err != nil {
			rend.internalError(c, err)
			return
		}
		rend.page(c, http.StatusOK, "admin_marketing", adminMarketingPage{
			adminPageData: adminData(c, rend, "marketing"),
			Count:         n,
			DoubleOptIn:   view.doubleOptIn,
		})
	}
}
