package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadbox/leadbox/internal/smtptest"
)

var privacyLinkRE = regexp.MustCompile(regexp.QuoteMeta(testBaseURL) + `/privacy/[a-z2-7]+\.[0-9]+\.[A-Za-z0-9_-]+`)

// TestPrivacyRequestByEmail: a person asks for their data on /privacy;
// the signed link arrives by email (from the outbox, with the opt-out
// headers every email to a lead has); the page shows what is held; the
// download is the JSON of it; erasing takes everything and kills the
// link. An unknown address gets the same answer and no email.
func TestPrivacyRequestByEmail(t *testing.T) {
	a := startApp(t, smtptest.NewServer(t))
	a.submit(t, leadForm("Ann Nowak", "ann@example.com", true))
	a.waitForEmailsTo(t, "ann@example.com", 1) // the confirmation

	ask := func(addr string) string {
		header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		resp, body := a.do(t, http.MethodPost, a.base+"/privacy", strings.NewReader(url.Values{"email": {addr}}.Encode()), header)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /privacy for %s: %d", addr, resp.StatusCode)
		}
		return strings.ReplaceAll(body, addr, "ADDRESS")
	}
	if ask("ann@example.com") != ask("nobody@example.com") {
		t.Errorf("the answer to /privacy tells a held address from one that is not")
	}
	mails := a.waitForEmailsTo(t, "ann@example.com", 2)
	m := mails[1]
	if !strings.Contains(m.header.Get("Subject"), "Your data at Acme Widgets") {
		t.Fatalf("second email to ann: %q, want the privacy link", m.header.Get("Subject"))
	}
	m.unsubscribeLink(t) // every email to a lead carries the one-click headers
	link := privacyLinkRE.FindString(m.text)
	if link == "" {
		t.Fatalf("privacy email has no link:\n%s", m.text)
	}
	if strings.Contains(m.text, "Ann Nowak") || strings.Contains(m.text, "300 widgets") {
		t.Errorf("the privacy email carries what the visitor typed:\n%s", m.text)
	}

	resp, page := a.do(t, http.MethodGet, link, nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Ann Nowak") || !strings.Contains(page, "We need 300 widgets by June.") {
		t.Fatalf("privacy page: %d\n%s", resp.StatusCode, page)
	}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	resp, body := a.do(t, http.MethodPost, link, strings.NewReader("action=download"), form)
	var data struct {
		Email string `json:"email"`
		Leads []struct {
			Message string `json:"message"`
		} `json:"leads"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &data) != nil || data.Email != "ann@example.com" ||
		len(data.Leads) != 1 || data.Leads[0].Message != "We need 300 widgets by June." {
		t.Errorf("download: %d %s", resp.StatusCode, body)
	}
	resp, _ = a.do(t, http.MethodPost, link, strings.NewReader("action=erase&understood=yes"), form)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("erase: %d", resp.StatusCode)
	}
	if resp, _ := a.do(t, http.MethodGet, link, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("link after the erasure: %d, want 404", resp.StatusCode)
	}
	if out := a.cli(t, "consent", "ann@example.com"); strings.Contains(out, "given") {
		t.Errorf("consent history after the erasure:\n%s", out)
	}
	time.Sleep(settle)
	if got := emailsTo(t, a.mail.Messages(), "nobody@example.com"); len(got) != 0 {
		t.Errorf("%d emails to the address nothing is held about", len(got))
	}
	if strings.Contains(a.logs.String(), "ann@example.com") || strings.Contains(a.logs.String(), "nobody@example.com") {
		t.Errorf("an address reached the log:\n%s", a.logs)
	}
}
