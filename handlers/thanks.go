package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// thanksShow is the page a plain HTML form lands on after a submission.
func thanksShow(rend *renderer, doubleOptIn bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		rend.page(c, http.StatusOK, "thanks", thanksPage{pageData: pageData{Site: rend.site}, DoubleOptIn: doubleOptIn})
	}
}

// thanksPage is the data of thanks.html: without double opt-in no email
// asks the visitor to confirm, and the page must not promise one.
type thanksPage struct {
	pageData
	DoubleOptIn bool
}
