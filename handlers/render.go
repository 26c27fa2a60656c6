package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// site is what every page shows around its content.
type site struct {
	Company    string
	PrivacyURL string
}

// pageData is embedded by every page's typed data.
type pageData struct {
	Site site
}

// errorPage is the data of error.html.
type errorPage struct {
	pageData
	Title, Message, RequestID string
}

// renderer holds one parsed template set per page, built once at start-up.
type renderer struct {
	pages map[string]*template.Template
	site  site
	log   *slog.Logger
}

// newRenderer parses layout.html together with each named page.
func newRenderer(fsys fs.FS, s site, log *slog.Logger, names ...string) (*renderer, error) {
	r := &renderer{pages: make(map[string]*template.Template, len(names)), site: s, log: log}
	for _, name := range names {
		layout := "pages/layout.html"
		if strings.HasPrefix(name, "admin_") {
			// The inbox has its own frame: navigation, a wider page.
			layout = "pages/admin_layout.html"
		}
		t, err := template.New(name).ParseFS(fsys, layout, "pages/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// page renders a page into a buffer first, so a template error becomes a
// clean 500 instead of half a page.
func (r *renderer) page(c *gin.Context, status int, name string, data any) {
	t, ok := r.pages[name]
	if !ok {
		r.internalError(c, fmt.Errorf("no page template %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		r.internalError(c, fmt.Errorf("render page %s: %w", name, err))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// errorPage answers with the friendly error page (or JSON for API clients).
func (r *renderer) errorPage(c *gin.Context, status int, title, message string) {
	if wantsJSON(c.Request) {
		c.JSON(status, gin.H{"error": errorCode(status), "message": message})
		return
	}
	r.page(c, status, "error", errorPage{
		pageData: pageData{Site: r.site}, Title: title, Message: message,
		RequestID: requestID(c),
	})
}

// internalError logs the cause for operators and shows users only a
// reference they can quote.
func (r *renderer) internalError(c *gin.Context, err error) {
	r.log.ErrorContext(c.Request.Context(), "internal error", "err", err,
		"request_id", requestID(c), "method", c.Request.Method, "route", c.FullPath())
	msg := "Something went wrong on our side. Please try again in a minute."
	if wantsJSON(c.Request) {
		c.AbortWithStatusJSON(http.StatusInternalServerError,
			gin.H{"error": "internal", "message": msg, "request_id": requestID(c)})
		return
	}
	t := r.pages["error"]
	var buf bytes.Buffer
	if t == nil || t.ExecuteTemplate(&buf, "layout", errorPage{
		pageData: pageData{Site: r.site}, Title: "Internal error", Message: msg, RequestID: requestID(c),
	}) != nil {
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Abort()
	c.Data(http.StatusInternalServerError, "text/html; charset=utf-8", buf.Bytes())
}

// errorCode is the machine-readable "error" value of a JSON error answer.
func errorCode(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusForbidden:
		return "forbidden"
	}
	return "error"
}
