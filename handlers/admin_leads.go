package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// inboxPageSize is how many leads one page of the list shows.
const inboxPageSize = 50

// maxQuery bounds the search text, in characters.
const maxQuery = 200

// adminLeadLister is what the lead list reads.
type adminLeadLister interface {
	adminAuditLog
	Leads(ctx context.Context, f models.LeadFilter, before int64, limit int, doubleOptIn bool) ([]models.LeadItem, error)
	LeadByPublicID(ctx context.Context, publicID string) (models.Lead, error)
}

// adminLeadQuery is the list's search and filters as typed: the form shows
// them again and the links to other pages and the CSV carry them.
type adminLeadQuery struct {
	Q, Status, Marketing, Since, Until string
}

// readLeadQuery reads the search and filters from the URL.
func readLeadQuery(c *gin.Context) adminLeadQuery {
	return adminLeadQuery{
		Q:         strings.TrimSpace(c.Query("q")),
		Status:    c.Query("status"),
		Marketing: c.Query("marketing"),
		Since:     strings.TrimSpace(c.Query("since")),
		Until:     strings.TrimSpace(c.Query("until")),
	}
}

// filter is the query as storage takes it. Dates are days in loc (the
// zone the pages show times in): since from the start of its day, until
// to the end of its day. errs maps a field to what is wrong with it, as a
// code the template puts into words.
func (q adminLeadQuery) filter(loc *time.Location) (f models.LeadFilter, errs map[string]string) {
	errs = map[string]string{}
	f.Query = q.Q
	if utf8.RuneCountInString(q.Q) > maxQuery {
		errs["q"] = "too_long"
	}
	if q.Status != "" && !models.ValidLeadStatus(q.Status) {
		errs["status"] = "unknown"
	}
	f.Status = q.Status
	if q.Marketing != "" && !slices.Contains(models.MarketingStates(), q.Marketing) {
		errs["marketing"] = "unknown"
	}
	f.Marketing = q.Marketing
	if q.Since != "" {
		d, err := time.ParseInLocation(time.DateOnly, q.Since, loc)
		if err != nil {
			errs["since"] = "date"
		}
		f.Since = d
	}
	if q.Until != "" {
		d, err := time.ParseInLocation(time.DateOnly, q.Until, loc)
		if err != nil {
			errs["until"] = "date"
		}
		f.Until = d.AddDate(0, 0, 1)
		if err == nil && !f.Since.IsZero() && f.Until.Before(f.Since) {
			errs["until"] = "before_since"
		}
	}
	return f, errs
}

// values is the query as URL parameters, the empty ones left out.
func (q adminLeadQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Q, "status": q.Status, "marketing": q.Marketing, "since": q.Since, "until": q.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// withQuery is path with the query's parameters and extra ones.
func (q adminLeadQuery) withQuery(path string, extra ...string) string {
	v := q.values()
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// First is the link to the first page with the same search and filters.
func (q adminLeadQuery) First() string { return q.withQuery("/admin") }

// leadRow is one lead of the list.
type leadRow struct {
	PublicID, Name, Email, Company, Excerpt string
	Status, Marketing                       string
	Received                                shownTime
}

// maxExcerpt is how much of a message the list shows, in characters.
const maxExcerpt = 160

// excerpt is the start of a message on one line.
func excerpt(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if utf8.RuneCountInString(msg) <= maxExcerpt {
		return msg
	}
	r := []rune(msg)
	return strings.TrimSpace(string(r[:maxExcerpt])) + "…"
}

// adminLeadsPage is the data of admin_leads.html.
type adminLeadsPage struct {
	adminPageData
	Query           adminLeadQuery
	Errors          map[string]string
	Leads           []leadRow
	Statuses        []string
	MarketingStates []string
	// Filtered: a search or filter is on (the page offers to clear it).
	Filtered bool
	// Older is the link to the next page of older leads, "" on the last;
	// Paged: this is not the first page.
	Older string
	Paged bool
	// CSV is the link to leads.csv with the same search and filters.
	CSV string
}

// leadList serves the lead list, newest first: a search over name, email,
// company and message, filters by status, marketing state and date, and
// pages linked by the last lead shown (a keyset: leads arriving meanwhile
// neither repeat nor push others off a page). The read is audited.
func leadList(store adminLeadLister, rend *renderer, view inboxView) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		q := readLeadQuery(c)
		page := adminLeadsPage{
			adminPageData:   adminData(c, rend, "leads"),
			Query:           q,
			Statuses:        models.LeadStatuses(),
			MarketingStates: models.MarketingStates(),
			Filtered:        len(q.values()) > 0,
			CSV:             q.withQuery("/admin/leads.csv"),
		}
		f, errs := q.filter(view.loc)
		if len(errs) > 0 {
			page.Errors = errs
			rend.page(c, http.StatusUnprocessableEntity, "admin_leads", page)
			return
		}
		// Pages name the last lead of the page before by its public id:
		// row ids never leave the server.
		var before int64
		if older := c.Query("older"); older != "" {
			l, err := store.LeadByPublicID(ctx, older)
			switch {
			case errors.Is(err, models.ErrNotFound):
				// A lead erased since: start again from the newest.
			case err != nil:
				rend.internalError(c, err)
				return
			default:
				before, page.Paged = l.ID, true
			}
		}
		items, err := store.Leads(ctx, f, before, inboxPageSize+1, view.doubleOptIn)
		if err != nil {
			rend.internalError(c, err)
			return
		}
		if len(items) > inboxPageSize {
			items = items[:inboxPageSize]
			page.Older = q.withQuery("/admin", "older", items[len(items)-1].PublicID)
		}
		for _, it := range items {
			page.Leads = append(page.Leads, leadRow{
				PublicID: it.PublicID, Name: it.Name, Email: it.Email, Company: it.Company,
				Excerpt: excerpt(it.Message), Status: it.Status, Marketing: it.Marketing.State,
				Received: view.show(it.CreatedAt),
			})
		}
		if !auditRead(c, store, rend, view.now(), actionLeadsList, "leads") {
			return
		}
		rend.page(c, http.StatusOK, "admin_leads", page)
	}
}
