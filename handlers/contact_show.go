package handlers

import (
	"net/http"

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
}

// formOrder is the order of fields on the form, for the error summary.
var formOrder = []string{"name", "email", "phone", "company", "message", "marketing_consent"}

func newContactPage(rend *renderer, consentText string, form submission, errs map[string]string) contactPage {
	p := contactPage{
		pageData:    pageData{Site: rend.site},
		Form:        form,
		ConsentText: consentText,
		Errors:      errs,
		Labels: map[string]string{
			"name": "Name", "email": "Email", "phone": "Phone", "company": "Company",
			"message": "Message", "marketing_consent": "Marketing consent",
		},
	}
	given, ok := form.consentGiven()
	p.ConsentChecked = given && ok
	for _, f := range formOrder {
		if _, bad := errs[f]; bad {
			p.ErrorOrder = append(p.ErrorOrder, f)
		}
	}
	return p
}

// contactShow serves the hosted "How can we help you?" form. UTM parameters
// of the link that led here and the referring page travel with the form as
// hidden fields, so the lead keeps its attribution.
func contactShow(rend *renderer, consentText string) gin.HandlerFunc {
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
		rend.page(c, http.StatusOK, "contact", newContactPage(rend, consentText, form, nil))
	}
}
