package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// The self-service privacy pages (GDPR articles 15, 17 and 21): a person
// asks for a link by entering their address; the link, emailed to that
// address, opens a page with everything held about it and three buttons.

// privacyStore is what the privacy pages need of storage.
type privacyStore interface {
	subjectStore
	QueuePrivacyLink(ctx context.Context, subject string, at time.Time) (bool, error)
	ErasedSince(ctx context.Context, subject string, t time.Time) (bool, error)
	LeadByPublicID(ctx context.Context, publicID string) (models.Lead, error)
}

// privacyActor is who an audit entry names for what a person does on
// their own privacy page; with no IP, as an entry that can never be
// erased must not keep theirs.
const privacyActor = "data subject (privacy link)"

// maxPrivacyInFlight bounds the link requests being looked up at once.
const maxPrivacyInFlight = 16

// privacyLinks queues privacy-link emails away from the request: the
// page answers before the address is even looked up, so its answer and
// its timing are the same whether Leadbox holds the address or not (a
// lookup and a write for one and not the other would tell them apart).
type privacyLinks struct {
	store interface {
		QueuePrivacyLink(ctx context.Context, subject string, at time.Time) (bool, error)
	}
	notify func()
	now    func() time.Time
	log    *slog.Logger
	slots  chan struct{}
}

// request looks subject up and queues its link, in the background. When
// too many requests are in flight (a flood, which the rate limit should
// have stopped) it drops this one: the person can ask again.
func (p *privacyLinks) request(subject string) {
	select {
	case p.slots <- struct{}{}:
	default:
		p.log.Warn("privacy: too many link requests at once, one dropped")
		return
	}
	go func() {
		defer func() { <-p.slots }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		queued, err := p.store.QueuePrivacyLink(ctx, subject, p.now().UTC())
		if err != nil {
			p.log.Error("privacy: cannot queue a privacy link", "err", err)
			return
		}
		if queued {
			p.notify()
		}
	}()
}

// privacyRequestPage is the data of privacy_request.html and
// privacy_sent.html.
type privacyRequestPage struct {
	pageData
	Email string
	Error string
}

// privacyRequestShow answers GET /privacy: the form that asks for a link.
func privacyRequestShow(rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		rend.page(c, http.StatusOK, "privacy_request", privacyRequestPage{pageData: pageData{Site: rend.site}})
	}
}

// privacyRequestSubmit answers POST /privacy: it checks the address,
// counts against the client's budget like a submission, hands the
// address to links and answers "if we hold it, a link is on its way".
func privacyRequestSubmit(links *privacyLinks, limit rateLimit, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		if _, wait, ok := limit.take(c.ClientIP()); !ok {
			tooMany(c, rend, wait)
			return
		}
		email := strings.TrimSpace(c.PostForm("email"))
		if msg := validEmail(email); msg != "" {
			rend.page(c, http.StatusUnprocessableEntity, "privacy_request", privacyRequestPage{
				pageData: pageData{Site: rend.site}, Email: email, Error: msg,
			})
			return
		}
		links.request(models.NormalizeEmail(email))
		rend.page(c, http.StatusOK, "privacy_sent", privacyRequestPage{pageData: pageData{Site: rend.site}, Email: email})
	}
}

// privacyPage is the data of privacy_show.html and privacy_done.html.
type privacyPage struct {
	pageData
	Action     string
	Email      string
	Marketing  string // models.MarketingStates' words
	Suppressed bool
	Leads      []privacyLeadView
	Consent    []privacyConsentView
	Expires    string
	Done       string // withdrawn or erased
	NeedsTick  bool   // erase was pressed without ticking the box
}

// privacyLeadView is one lead as the person sees it.
type privacyLeadView struct {
	Created                                string
	Name, Phone, Company, Message, PageURL string
	Status                                 string
	InquiryErased                          bool // emptied under the retention policy
	UTM                                    string
}

// privacyConsentView is one consent event as the person sees it.
type privacyConsentView struct {
	At, Event, Method, IP, UserAgent, Wording string
}

// view fills the page with d, times shown in loc.
func (p *privacyPage) view(d models.SubjectData, loc *time.Location) {
	p.Email, p.Suppressed, p.Marketing = d.Subject, d.Suppressed, models.MarketingNotGiven
	p.Leads, p.Consent = nil, nil
	for _, l := range d.Leads {
		var utm []string
		for k, v := range l.UTM() {
			utm = append(utm, k+"="+v)
		}
		sort.Strings(utm)
		p.Leads = append(p.Leads, privacyLeadView{
			Created: showTime(l.CreatedAt, loc), Name: l.Name, Phone: l.Phone, Company: l.Company,
			Message: l.Message, PageURL: l.PageURL, Status: l.Status, InquiryErased: l.Message == "",
			UTM: strings.Join(utm, ", "),
		})
		p.Marketing = l.Marketing.State
	}
	if len(d.Leads) > 0 {
		for _, e := range d.Leads[0].Consent {
			v := privacyConsentView{At: showTime(e.At, loc), Event: e.Action, Method: e.Method, IP: e.IP, UserAgent: e.UserAgent}
			if e.ConsentText != nil {
				v.Wording = e.ConsentText.Text
			}
			p.Consent = append(p.Consent, v)
		}
	}
}

// privacySubject checks the link's token and returns the address it was
// sent to and when; on any failure (forged, expired, erased since) it has
// answered the uniform 404.
func privacySubject(c *gin.Context, store privacyStore, key []byte, now func() time.Time, rend *renderer) (string, time.Time, bool) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Robots-Tag", "noindex")
	// The token is in the URL: no link on the page may carry it away.
	c.Header("Referrer-Policy", "no-referrer")
	publicID, issued, err := models.ParsePrivacyToken(key, c.Param("token"), now())
	if err != nil {
		tokenNotFound(c, rend)
		return "", time.Time{}, false
	}
	ctx := c.Request.Context()
	lead, err := store.LeadByPublicID(ctx, publicID)
	if errors.Is(err, models.ErrNotFound) || err == nil && (lead.ErasedAt != nil || lead.EmailKey == "") {
		tokenNotFound(c, rend)
		return "", time.Time{}, false
	}
	if err != nil {
		rend.internalError(c, err)
		return "", time.Time{}, false
	}
	erased, err := store.ErasedSince(ctx, lead.EmailKey, issued)
	if err != nil {
		rend.internalError(c, err)
		return "", time.Time{}, false
	}
	if erased {
		tokenNotFound(c, rend)
		return "", time.Time{}, false
	}
	return lead.EmailKey, issued, true
}

// privacyShow answers GET /privacy/{token}: what is held and the three
// buttons. It changes nothing (mail scanners open links).
func privacyShow(store privacyStore, key []byte, now func() time.Time, doubleOptIn bool, loc *time.Location, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		subject, issued, ok := privacySubject(c, store, key, now, rend)
		if !ok {
			return
		}
		d, err := store.SubjectAccess(c.Request.Context(), subject, doubleOptIn)
		if err != nil {
			rend.internalError(c, err)
			return
		}
		page := privacyPage{pageData: pageData{Site: rend.site}, Action: c.Request.URL.Path,
			Expires: showTime(issued.Add(models.PrivacyLinkTTL), loc)}
		page.view(d, loc)
		rend.page(c, http.StatusOK, "privacy_show", page)
	}
}

// privacyAct answers POST /privacy/{token}: action download (the same
// JSON as the API's access request), withdraw (no more marketing, for
// good) or erase (which needs the box ticked that says it cannot be
// undone). Each writes its audit entry.
func privacyAct(store privacyStore, key []byte, now func() time.Time, doubleOptIn bool, salesTo emailsTo, loc *time.Location, rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		subject, issued, ok := privacySubject(c, store, key, now, rend)
		if !ok {
			return
		}
		ctx := c.Request.Context()
		o := models.Origin{Actor: privacyActor, At: now().UTC()}
		page := privacyPage{pageData: pageData{Site: rend.site}, Action: c.Request.URL.Path,
			Expires: showTime(issued.Add(models.PrivacyLinkTTL), loc)}
		switch c.PostForm("action") {
		case "download":
			d, err := store.SubjectAccess(ctx, subject, doubleOptIn)
			if err == nil {
				err = store.AuditSubject(ctx, models.AuditSubjectAccess, subject, o)
			}
			if err != nil {
				rend.internalError(c, err)
				return
			}
			body, err := json.MarshalIndent(newSubjectJSON(d, salesTo), "", "  ")
			if err != nil {
				rend.internalError(c, err)
				return
			}
			c.Header("Content-Disposition", `attachment; filename="my-data-`+now().UTC().Format("2006-01-02")+`.json"`)
			c.Data(http.StatusOK, "application/json; charset=utf-8", body)
		case "withdraw":
			if _, err := store.Suppress(ctx, subject, models.MethodPrivacyPage, o); err != nil {
				rend.internalError(c, err)
				return
			}
			page.Done = "withdrawn"
			rend.page(c, http.StatusOK, "privacy_done", page)
		case "erase":
			if c.PostForm("understood") != "yes" {
				d, err := store.SubjectAccess(ctx, subject, doubleOptIn)
				if err != nil {
					rend.internalError(c, err)
					return
				}
				page.view(d, loc)
				page.NeedsTick = true
				rend.page(c, http.StatusUnprocessableEntity, "privacy_show", page)
				return
			}
			if _, err := store.EraseSubject(ctx, subject, o); err != nil {
				rend.internalError(c, err)
				return
			}
			page.Done = "erased"
			rend.page(c, http.StatusOK, "privacy_done", page)
		default:
			rend.errorPage(c, http.StatusUnprocessableEntity, "Choose what to do",
				"Please use one of the buttons on your privacy page: download my data, stop marketing, or erase my data.")
		}
	}
}

// showTime writes t for a page, in the configured zone.
func showTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2 January 2006, 15:04 MST")
}
