package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// adminLeadReader is what the lead page reads.
type adminLeadReader interface {
	adminAuditLog
	LeadDetail(ctx context.Context, publicID string, doubleOptIn bool) (models.LeadDetail, error)
}

// adminLeadUpdater is what the lead page's form changes.
type adminLeadUpdater interface {
	adminLeadReader
	UpdateLead(ctx context.Context, publicID string, ch models.LeadChange, o models.Origin, doubleOptIn bool) (models.LeadItem, error)
}

// consentRow is one event of the consent timeline.
type consentRow struct {
	At                  shownTime
	Action, Method      string
	IP, UserAgent       string
	Wording, WordingSHA string
}

// emailRow is one email about the lead.
type emailRow struct {
	Kind, State, LastError string
	// To is the recipient when the row names one; "" means every
	// address of LEADBOX_SALES_TO (the template says so).
	To       string
	Attempts int
	Queued   shownTime
	Sent     shownTime
}

// historyRow is one status change or note.
type historyRow struct {
	At                  shownTime
	Actor, Status, Note string
}

// leadChangeForm is what the lead page's form sends.
type leadChangeForm struct {
	Status, Note string
}

// valid checks the form against the lead's current status; errs maps a
// field to a problem code the template puts into words.
func (f leadChangeForm) valid() map[string]string {
	errs := map[string]string{}
	if f.Status != "" && !models.ValidLeadStatus(f.Status) {
		errs["status"] = "unknown"
	}
	switch {
	case utf8.RuneCountInString(f.Note) > models.MaxNote:
		errs["note"] = "too_long"
	case !utf8.ValidString(f.Note) || strings.ContainsFunc(f.Note, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}):
		errs["note"] = "control"
	}
	return errs
}

// adminLeadPage is the data of admin_lead.html.
type adminLeadPage struct {
	adminPageData
	Lead           models.LeadDetail
	Received       shownTime
	MarketingSince shownTime
	Consent        []consentRow
	Emails         []emailRow
	History        []historyRow
	Statuses       []string
	// Form is what the form shows: the lead's status, or what was sent
	// when it comes back with Errors.
	Form   leadChangeForm
	Errors map[string]string
	// Saved: the page follows a change just made.
	Saved bool
	// Erased is when the lead's personal data was erased, zero when it
	// was not; the page then shows what is kept (time, form, status) and
	// takes no notes. InquiryErased: the retention policy emptied the
	// message and details and kept the address, which is still held for
	// its consent.
	Erased        shownTime
	InquiryErased bool
	FormKey       string
}

// leadPage is the page of a lead, with the form showing form.
func leadPage(c *gin.Context, rend *renderer, view inboxView, d models.LeadDetail, form leadChangeForm) adminLeadPage {
	p := adminLeadPage{
		adminPageData:  adminData(c, rend, "leads"),
		Lead:           d,
		Received:       view.show(d.CreatedAt),
		MarketingSince: view.show(d.Marketing.Since),
		Statuses:       models.LeadStatuses(),
		Form:           form,
		Erased:         view.showPtr(d.ErasedAt),
		InquiryErased:  d.ErasedAt == nil && d.Message == "", // a message is required, so only retention empties it
		FormKey:        leadFormKey(d.Lead),
	}
	for _, e := range d.Consent {
		row := consentRow{At: view.show(e.At), Action: e.Action, Method: e.Method, IP: e.IP, UserAgent: e.UserAgent}
		if e.ConsentText != nil {
			row.Wording, row.WordingSHA = e.ConsentText.Text, e.ConsentText.Hash
		}
		p.Consent = append(p.Consent, row)
	}
	for _, m := range d.Emails {
		row := emailRow{Kind: m.Kind, State: m.Status, LastError: m.LastError, To: m.Recipient,
			Attempts: m.Attempts, Queued: view.show(m.CreatedAt), Sent: view.showPtr(m.SentAt)}
		if m.Kind != models.KindSalesNotification { // a confirmation request or a privacy link
			row.To = d.Email
		}
		p.Emails = append(p.Emails, row)
	}
	for _, h := range d.History {
		p.History = append(p.History, historyRow{At: view.show(h.At), Actor: h.Actor, Status: h.Status, Note: h.Note})
	}
	return p
}

// adminLeadShow serves everything about one lead: what they sent, where sales
// is with them, their consent timeline, the emails about them and the
// history of changes, with the form to change the status or add a note.
// The read is audited.
func adminLeadShow(store adminLeadReader, rend *renderer, view inboxView) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, ok := adminLoadLead(c, store, rend, view)
		if !ok {
			return
		}
		if !auditRead(c, store, rend, view.now(), actionLeadRead, models.LeadTarget(d.PublicID)) {
			return
		}
		page := leadPage(c, rend, view, d, leadChangeForm{Status: d.Status})
		page.Saved = c.Query("saved") == "1"
		rend.page(c, http.StatusOK, "admin_lead", page)
	}
}

// adminLoadLead reads the lead the path names, answering 404 or 500
// itself when it cannot; ok reports whether to go on.
func adminLoadLead(c *gin.Context, store adminLeadReader, rend *renderer, view inboxView) (models.LeadDetail, bool) {
	d, err := store.LeadDetail(c.Request.Context(), c.Param("id"), view.doubleOptIn)
	if errors.Is(err, models.ErrNotFound) {
		notFoundLead(c, rend)
		return models.LeadDetail{}, false
	}
	if err != nil {
		rend.internalError(c, err)
		return models.LeadDetail{}, false
	}
	return d, true
}

// adminLeadUpdate changes a lead's status and adds a note (adminGate has
// checked the CSRF token). The change, its history entry and its audit
// entry are one write (models.InboxStore.UpdateLead), recorded as made by
// the signed-in user. A status that is the lead's already is no change;
// with no note either, nothing is written. Then 303 back to the lead.
func adminLeadUpdate(store adminLeadUpdater, rend *renderer, view inboxView) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		form := leadChangeForm{Status: c.PostForm("status"), Note: strings.TrimSpace(c.PostForm("note"))}
		d, ok := adminLoadLead(c, store, rend, view)
		if !ok {
			return
		}
		errs := form.valid()
		if d.ErasedAt != nil && form.Note != "" {
			// The person asked to be forgotten (or retention did it): a
			// note about them would be personal data again.
			errs["note"] = "erased"
		}
		if len(errs) > 0 {
			// The page shown again holds the lead's data: a read.
			if !auditRead(c, store, rend, view.now(), actionLeadRead, models.LeadTarget(d.PublicID)) {
				return
			}
			page := leadPage(c, rend, view, d, form)
			page.Errors = errs
			rend.page(c, http.StatusUnprocessableEntity, "admin_lead", page)
			return
		}
		ch := models.LeadChange{Note: form.Note}
		if form.Status != d.Status {
			ch.Status = form.Status
		}
		back := "/admin/leads/" + d.PublicID
		if ch == (models.LeadChange{}) {
			c.Redirect(http.StatusSeeOther, back)
			return
		}
		p := adminPrincipal(c)
		_, err := store.UpdateLead(ctx, d.PublicID, ch, models.Origin{Actor: p.Name, IP: c.ClientIP(), At: view.now().UTC()}, view.doubleOptIn)
		if errors.Is(err, models.ErrNotFound) {
			notFoundLead(c, rend)
			return
		}
		if errors.Is(err, models.ErrLeadErased) {
			// Erased between this page's read and the write.
			c.Redirect(http.StatusSeeOther, back)
			return
		}
		if err != nil {
			rend.internalError(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, back+"?saved=1")
	}
}
