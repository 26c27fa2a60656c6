package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// contactPage is the data of contact.html.
type contactPage struct {
	pageData
	Form           submission
	ConsentText    string
	ConsentChecked bool
	Errors         map[string]string
	ErrorOrder     []string          // fields with errors, in form order
	Labels         map[string]string // field name to its label, for the error summary
	// Captcha is the widget to show, when a CAPTCHA is configured.
	Captcha *captchaWidget
	// Unavailable: nothing the visitor typed is wrong; the form could not
	// be sent just now (the CAPTCHA provider is down).
	Unavailable bool
}

// captchaWidget is what the page needs to show a provider's widget.
type captchaWidget struct {
	Class, SiteKey, Script string
}

// intake is what showing and accepting a form share: the wording beside
// the box and the bot defences a submission passes.
type intake struct {
	consentText   string
	consentTextID int64 // its stored version, signed into the form's stamp
	stamps        formStamps
	minFillTime   time.Duration // 0: time trap off
	captcha       *captcha      // nil: no CAPTCHA
}

// formOrder is the order of fields on the form, for the error summary.
var formOrder = []string{"name", "email", "phone", "company", "message", "marketing_consent"}

// page is the data of the hosted form showing form's values and errs.
func (in intake) page(rend *renderer, form submission, errs map[string]string) contactPage {
	// A form shown again (refused) shows today's wording; its token must
	// say so. Its stamp stays, so a quick fix is not taken for a bot.
	form.Wording = ""
	if form.Stamp != "" {
		form.Wording = in.stamps.wording(form.Stamp, in.consentTextID)
	}
	p := contactPage{
		pageData:    pageData{Site: rend.site},
		Form:        form,
		ConsentText: in.consentText,
		Errors:      errs,
		Labels: map[string]string{
			"name": "Name", "email": "Email", "phone": "Phone", "company": "Company",
			"message": "How can we help you?", "marketing_consent": "Marketing consent", "captcha": "Robot check",
			"form": "Sending",
		},
	}
	if in.captcha != nil {
		p.Captcha = &captchaWidget{Class: in.captcha.widgetClass(), SiteKey: in.captcha.siteKey, Script: in.captcha.provider.script}
	}
	given, ok := form.consentGiven()
	p.ConsentChecked = given && ok
	for _, f := range append(formOrder, "captcha", "form") {
		if _, bad := errs[f]; bad {
			p.ErrorOrder = append(p.ErrorOrder, f)
		}
	}
	return p
}

// contactShow serves the hosted "How can we help you?" form. UTM parameters
// of the link that led here and the referring page travel with the form as
// hidden fields, so the lead keeps its attribution.
//
// The form carries a signed stamp of when it was rendered, for the time
// trap; a refused form shown again keeps the stamp it came with.
func contactShow(rend *renderer, in intake, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := c.Request.URL.Query()
		form := submission{
			Page:        cleanPageURL(c.Request.Referer()),
			UTMSource:   cleanAttribution(q.Get("utm_source"), maxAttribution),
			UTMMedium:   cleanAttribution(q.Get("utm_medium"), maxAttribution),
			UTMCampaign: cleanAttribution(q.Get("utm_campaign"), maxAttribution),
			UTMTerm:     cleanAttribution(q.Get("utm_term"), maxAttribution),
			UTMContent:  cleanAttribution(q.Get("utm_content"), maxAttribution),
		}
		form.Stamp = in.stamps.issue(now())
		rend.page(c, http.StatusOK, "contact", in.page(rend, form, nil))
	}
}
