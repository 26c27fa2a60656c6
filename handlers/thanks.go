package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// thanksShow is the page a plain HTML form lands on after a submission.
func thanksShow(rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		rend.page(c, http.StatusOK, "thanks", pageData{Site: rend.site})
	}
}
