package handlers_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/models"
)

// inboxPassword is every test user's password.
const inboxPassword = "correct horse battery staple"

// inboxUser is a person using the web inbox in a browser: the cookies it
// keeps and sends back, as a browser does.
type inboxUser struct {
	app     *testApp
	email   string
	cookies map[string]string
	// header is sent with every request (X-Forwarded-For, in the tests
	// that speak for several clients).
	header http.Header
}

// addInboxUser adds a user, as `leadbox user add` does, and returns them
// signed out.
func (a *testApp) addInboxUser(t *testing.T, email string, role models.Role) *inboxUser {
	t.Helper()
	hash, err := access.HashPassword(inboxPassword)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	u := models.User{Email: models.NormalizeEmail(email), Role: role, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if err := a.store.AddUser(context.Background(), &u, models.Origin{Actor: models.CLIActor, At: time.Now()}); err != nil {
		t.Fatalf("AddUser(%s): %v", email, err)
	}
	return a.visitor()
}

// visitor is a browser with no cookies yet.
func (a *testApp) visitor() *inboxUser {
	return &inboxUser{app: a, cookies: map[string]string{}, header: http.Header{}}
}

// as returns the user after signing in as email.
func (a *testApp) signedIn(t *testing.T, email string, role models.Role) *inboxUser {
	t.Helper()
	u := a.addInboxUser(t, email, role)
	u.email = email
	if res := u.signIn(t, email, inboxPassword); res.status != http.StatusSeeOther {
		t.Fatalf("sign in as %s: got %v, want 303", email, res)
	}
	return u
}

// do sends a request with the user's cookies and keeps the cookies the
// answer sets (or deletes). A non-nil form is posted urlencoded.
func (u *inboxUser) do(t *testing.T, method, path string, form url.Values) response {
	t.Helper()
	h := u.header.Clone()
	var cookies []string
	for name, value := range u.cookies {
		cookies = append(cookies, name+"="+value)
	}
	slices.Sort(cookies)
	if len(cookies) > 0 {
		h.Set("Cookie", strings.Join(cookies, "; "))
	}
	var body []byte
	ct := ""
	if form != nil {
		body, ct = []byte(form.Encode()), "application/x-www-form-urlencoded"
	}
	res := u.app.do(t, method, path, ct, body, h)
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.MaxAge < 0 {
			delete(u.cookies, c.Name)
		} else {
			u.cookies[c.Name] = c.Value
		}
	}
	return res
}

func (u *inboxUser) get(t *testing.T, path string) response {
	t.Helper()
	return u.do(t, http.MethodGet, path, nil)
}

// signIn opens the sign-in page and sends it with email and password.
func (u *inboxUser) signIn(t *testing.T, email, password string) response {
	t.Helper()
	page := u.get(t, "/admin/login")
	if page.status != http.StatusOK {
		t.Fatalf("GET /admin/login: got %v, want 200", page)
	}
	return u.do(t, http.MethodPost, "/admin/login", url.Values{
		"email": {email}, "password": {password}, "csrf": {csrfOf(t, page.body)},
	})
}

var csrfRe = regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]*)">`)

// csrfOf is the CSRF token in a page's forms.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// checkAdminHeaders checks what every /admin answer carries.
func checkAdminHeaders(t *testing.T, what string, r response) {
	t.Helper()
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control = %q, want no-store", what, got)
	}
	if got := r.header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options = %q, want DENY", what, got)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") ||
		strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy = %q, want no script at all and no framing", what, csp)
	}
	if strings.Contains(r.body, "<script") {
		t.Errorf("%s: the page has a script", what)
	}
}

// setCookie is the Set-Cookie header that sets name (not one that deletes
// it), or fails the test.
func setCookie(t *testing.T, r response, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			return c
		}
	}
	t.Fatalf("no cookie %s set; Set-Cookie: %q", name, r.header.Values("Set-Cookie"))
	return nil
}

// auditActions lists the audit log's entries as "actor action target",
// oldest first.
func (a *testApp) auditActions(t *testing.T) []string {
	t.Helper()
	var es []models.AuditEntry
	if err := a.store.DB().WithContext(context.Background()).Order("id").Find(&es).Error; err != nil {
		t.Fatalf("read the audit log: %v", err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Actor+" "+e.Action+" "+e.Target)
	}
	return out
}

// TestInboxSignInAndOut: a user signs in (a session cookie with the
// contract's attributes, 303 to the list), sees the leads, signs out, and
// the old cookie opens nothing any more.
func TestInboxSignInAndOut(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	app.submitLead(t, "ann@example.com", false)
	u := app.addInboxUser(t, "Sales@Example.com", models.RoleSales)

	page := u.get(t, "/admin/login")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Sign in") {
		t.Fatalf("GET /admin/login: %v", page)
	}
	checkAdminHeaders(t, "sign-in page", page)

	res := u.do(t, http.MethodPost, "/admin/login", url.Values{
		"email": {"sales@example.com"}, "password": {inboxPassword}, "csrf": {csrfOf(t, page.body)},
	})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin" {
		t.Fatalf("POST /admin/login: got %v, Location %q; want 303 to /admin", res, res.header.Get("Location"))
	}
	c := setCookie(t, res, "leadbox_session")
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("session cookie %s: want HttpOnly, SameSite=Strict, Path=/, and not Secure on an http base URL", c)
	}
	first := c.Value

	list := u.get(t, "/admin")
	if list.status != http.StatusOK || !strings.Contains(list.body, "Ann Example") || !strings.Contains(list.body, "sales@example.com") {
		t.Fatalf("GET /admin signed in: %v, want the list with Ann's lead and who is signed in", list)
	}
	checkAdminHeaders(t, "lead list", list)

	// A signed-in user who opens the sign-in page goes on to the inbox.
	if res := u.get(t, "/admin/login?next=%2Fadmin%2Fmarketing"); res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin/marketing" {
		t.Errorf("GET /admin/login signed in: %v, Location %q; want 303 to next", res, res.header.Get("Location"))
	}
	// Signing in again (a sign-in form left open in another tab) starts
	// a new session and ends the old one.
	delete(u.cookies, "leadbox_session")
	form := u.get(t, "/admin/login")
	u.cookies["leadbox_session"] = first
	if res := u.do(t, http.MethodPost, "/admin/login", url.Values{
		"email": {"sales@example.com"}, "password": {inboxPassword}, "csrf": {csrfOf(t, form.body)},
	}); res.status != http.StatusSeeOther {
		t.Fatalf("second sign-in: %v", res)
	}
	if u.cookies["leadbox_session"] == first {
		t.Errorf("the session cookie is the same after signing in again; want a new session")
	}
	old := app.visitor()
	old.cookies["leadbox_session"] = first
	if res := old.get(t, "/admin"); res.status != http.StatusSeeOther {
		t.Errorf("GET /admin with the session before the second sign-in: %v, want 303 to sign in", res)
	}

	// Signing out needs the page's token, like every other POST.
	list = u.get(t, "/admin")
	if res := u.do(t, http.MethodPost, "/admin/logout", url.Values{}); res.status != http.StatusForbidden {
		t.Errorf("POST /admin/logout without csrf: %v, want 403", res)
	}
	kept := u.cookies["leadbox_session"]
	res = u.do(t, http.MethodPost, "/admin/logout", url.Values{"csrf": {csrfOf(t, list.body)}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin/login" {
		t.Fatalf("POST /admin/logout: %v, Location %q; want 303 to /admin/login", res, res.header.Get("Location"))
	}
	if _, ok := u.cookies["leadbox_session"]; ok {
		t.Errorf("the session cookie is still set after signing out")
	}
	// A copy of the cookie kept from before is refused.
	u.cookies["leadbox_session"] = kept
	if res := u.get(t, "/admin"); res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), "/admin/login") {
		t.Errorf("GET /admin with the cookie of an ended session: %v, want 303 to sign in", res)
	}
}

// TestInboxCookieOnHTTPS: behind an https base URL the session cookie is
// Secure, with the __Host- prefix.
func TestInboxCookieOnHTTPS(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withSetting("LEADBOX_BASE_URL", "https://leads.example.com"))
	u := app.addInboxUser(t, "sales@example.com", models.RoleSales)
	page := u.get(t, "/admin/login")
	setCookie(t, page, "__Host-leadbox_signin")
	res := u.do(t, http.MethodPost, "/admin/login", url.Values{
		"email": {"sales@example.com"}, "password": {inboxPassword}, "csrf": {csrfOf(t, page.body)},
	})
	if res.status != http.StatusSeeOther {
		t.Fatalf("sign in: %v", res)
	}
	c := setCookie(t, res, "__Host-leadbox_session")
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("session cookie %s: want Secure, HttpOnly, SameSite=Strict, Path=/, no Domain", c)
	}
	if res := u.get(t, "/admin"); res.status != http.StatusOK {
		t.Errorf("GET /admin with the session: %v", res)
	}
}

// TestInboxSignInFailures: an unknown user and a wrong password get the
// same 401 page; a sign-in form posted without its token (from another
// site) is refused before any password is checked.
func TestInboxSignInFailures(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	app.addInboxUser(t, "sales@example.com", models.RoleSales)

	var pages []string
	for _, email := range []string{"sales@example.com", "nobody@example.com"} {
		u := app.visitor()
		res := u.signIn(t, email, "not the password at all")
		if res.status != http.StatusUnauthorized {
			t.Fatalf("sign in as %s with a wrong password: %v, want 401", email, res)
		}
		if _, ok := u.cookies["leadbox_session"]; ok {
			t.Errorf("a failed sign-in set a session cookie")
		}
		checkAdminHeaders(t, "refused sign-in", res)
		page := strings.ReplaceAll(withoutRequestID(t, res), email, "EMAIL")
		page = strings.ReplaceAll(page, csrfOf(t, res.body), "TOKEN")
		pages = append(pages, page)
	}
	if pages[0] != pages[1] {
		t.Errorf("a wrong password and an unknown user get different pages:\n%s\n---\n%s", pages[0], pages[1])
	}
	if !strings.Contains(pages[0], "The email or the password is not right") {
		t.Errorf("refused sign-in page does not say why:\n%s", pages[0])
	}

	// No token, or a token without its cookie: 403 and no session, even
	// with the right password.
	u := app.visitor()
	for _, form := range []url.Values{
		{"email": {"sales@example.com"}, "password": {inboxPassword}},
		{"email": {"sales@example.com"}, "password": {inboxPassword}, "csrf": {"forged"}},
	} {
		res := u.do(t, http.MethodPost, "/admin/login", form)
		if res.status != http.StatusForbidden || !strings.Contains(res.body, "The sign-in form had expired") {
			t.Errorf("sign-in post without a valid token: %v, want 403 with a fresh form", res)
		}
		if _, ok := u.cookies["leadbox_session"]; ok {
			t.Fatalf("a sign-in without a valid token set a session cookie")
		}
	}
	page := app.visitor().get(t, "/admin/login")
	if res := u.do(t, http.MethodPost, "/admin/login", url.Values{
		"email": {"sales@example.com"}, "password": {inboxPassword}, "csrf": {csrfOf(t, page.body)},
	}); res.status != http.StatusForbidden {
		t.Errorf("sign-in with another browser's token: %v, want 403", res)
	}
}

// TestInboxSignInThrottled: after 5 failures for one account, or from one
// client, within 15 minutes, even the right password gets 429, until the
// 15 minutes have passed.
func TestInboxSignInThrottled(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	app := newTestServer(t, withClock(func() time.Time { return now }),
		withSetting("LEADBOX_TRUSTED_PROXIES", "127.0.0.1"))
	app.addInboxUser(t, "sales@example.com", models.RoleSales)
	app.addInboxUser(t, "other@example.com", models.RoleSales)
	from := func(ip string) *inboxUser {
		u := app.visitor()
		u.header.Set("X-Forwarded-For", ip)
		return u
	}

	// One account, attacked from five addresses.
	for i := range 5 {
		if res := from("192.0.2."+string(rune('1'+i))).signIn(t, "sales@example.com", "wrong password!"); res.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %v, want 401", i+1, res)
		}
	}
	res := from("198.51.100.7").signIn(t, "sales@example.com", inboxPassword)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" ||
		!strings.Contains(res.body, "Too many failed sign-ins") {
		t.Fatalf("right password after 5 failures for the account: %v (Retry-After %q), want 429", res, res.header.Get("Retry-After"))
	}
	if res := from("198.51.100.7").signIn(t, "other@example.com", inboxPassword); res.status != http.StatusSeeOther {
		t.Errorf("another account from a fresh address: %v, want 303", res)
	}

	// One address, trying five accounts.
	for i := range 5 {
		if res := from("203.0.113.9").signIn(t, "guess"+string(rune('a'+i))+"@example.com", "wrong password!"); res.status != http.StatusUnauthorized {
			t.Fatalf("failure %d from one address: %v, want 401", i+1, res)
		}
	}
	if res := from("203.0.113.9").signIn(t, "other@example.com", inboxPassword); res.status != http.StatusTooManyRequests {
		t.Errorf("right password from an address with 5 failures: %v, want 429", res)
	}

	now = now.Add(15*time.Minute + time.Second)
	if res := from("198.51.100.7").signIn(t, "sales@example.com", inboxPassword); res.status != http.StatusSeeOther {
		t.Errorf("right password once 15 minutes have passed: %v, want 303", res)
	}
	if res := from("203.0.113.9").signIn(t, "other@example.com", inboxPassword); res.status != http.StatusSeeOther {
		t.Errorf("right password from the address once 15 minutes have passed: %v, want 303", res)
	}
}

// TestInboxNeedsSession: every page of the inbox without a session (or
// with a made-up one) sends the browser to the sign-in page, remembering
// a page that was asked for; signing in then leads there, but never off
// the inbox.
func TestInboxNeedsSession(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", false)
	before := app.counts(t)
	for _, tc := range []struct {
		method, path, wantLocation string
	}{
		{"GET", "/admin", "/admin/login"},
		{"GET", "/admin/leads/" + lead.PublicID, "/admin/login?next=%2Fadmin%2Fleads%2F" + lead.PublicID},
		{"GET", "/admin/leads.csv?status=new", "/admin/login?next=%2Fadmin%2Fleads.csv%3Fstatus%3Dnew"},
		{"GET", "/admin/marketing", "/admin/login?next=%2Fadmin%2Fmarketing"},
		{"GET", "/admin/marketing.csv", "/admin/login?next=%2Fadmin%2Fmarketing.csv"},
		{"POST", "/admin/leads/" + lead.PublicID, "/admin/login"},
		{"POST", "/admin/logout", "/admin/login"},
	} {
		for _, cookie := range []string{"", "made-up"} {
			u := app.visitor()
			if cookie != "" {
				u.cookies["leadbox_session"] = cookie
			}
			var form url.Values
			if tc.method == http.MethodPost {
				form = url.Values{"status": {"won"}, "csrf": {"x"}}
			}
			res := u.do(t, tc.method, tc.path, form)
			if res.status != http.StatusSeeOther || res.header.Get("Location") != tc.wantLocation {
				t.Errorf("%s %s with cookie %q: %v, Location %q; want 303 to %s", tc.method, tc.path, cookie, res, res.header.Get("Location"), tc.wantLocation)
			}
			checkAdminHeaders(t, tc.method+" "+tc.path, res)
		}
	}
	if app.counts(t) != before {
		t.Errorf("requests without a session changed the database")
	}
	if got := app.lastLead(t).lead.Status; got != models.LeadNew {
		t.Errorf("lead status = %q after posts without a session, want new", got)
	}

	// The page asked for is where signing in leads; anything else leads
	// to the list.
	app.addInboxUser(t, "sales@example.com", models.RoleSales)
	for next, want := range map[string]string{
		"/admin/leads/" + lead.PublicID: "/admin/leads/" + lead.PublicID,
		"/admin/leads.csv?status=new":   "/admin/leads.csv?status=new",
		"https://evil.example/admin":    "/admin",
		"//evil.example/admin":          "/admin",
		"/admin/../contact":             "/admin",
		"/contact":                      "/admin",
		`/admin\..\evil`:                "/admin",
		"/admin/login":                  "/admin",
	} {
		u := app.visitor()
		page := u.get(t, "/admin/login?next="+url.QueryEscape(next))
		res := u.do(t, http.MethodPost, "/admin/login", url.Values{
			"email": {"sales@example.com"}, "password": {inboxPassword}, "csrf": {csrfOf(t, page.body)}, "next": {next},
		})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != want {
			t.Errorf("sign in with next %q: %v, Location %q; want 303 to %s", next, res, res.header.Get("Location"), want)
		}
	}
}

// TestInboxHeaders: every answer under /admin, pages and errors alike,
// may not be cached, framed or run a script, even where the public form
// may be framed.
func TestInboxHeaders(t *testing.T) {
	t.Parallel()
	app := newTestServer(t, withSetting("LEADBOX_FRAME_ANCESTORS", "https://www.example.com"))
	lead := app.submitLead(t, "ann@example.com", false)
	sales := app.signedIn(t, "sales@example.com", models.RoleSales)
	mkt := app.signedIn(t, "mkt@example.com", models.RoleMarketing)
	for _, tc := range []struct {
		u      *inboxUser
		path   string
		status int
	}{
		{app.visitor(), "/admin/login", http.StatusOK},
		{app.visitor(), "/admin/nothing-here", http.StatusNotFound},
		{sales, "/admin", http.StatusOK},
		{sales, "/admin/leads/" + lead.PublicID, http.StatusOK},
		{sales, "/admin/leads/nosuchlead", http.StatusNotFound},
		{sales, "/admin/leads.csv", http.StatusOK},
		{sales, "/admin/marketing", http.StatusOK},
		{mkt, "/admin/marketing.csv", http.StatusOK},
		{mkt, "/admin", http.StatusForbidden},
	} {
		res := tc.u.get(t, tc.path)
		if res.status != tc.status {
			t.Errorf("GET %s: %v, want %d", tc.path, res, tc.status)
		}
		checkAdminHeaders(t, tc.path, res)
	}
}

// TestInboxLinkFromElsewhere: a link to the inbox in a chat or an email
// is a cross-site navigation, for which browsers leave out the
// SameSite=Strict session cookie. The sign-in page it lands on reloads
// itself once (a reload is not cross-site, so the cookie comes along) and
// then sends a signed-in user on to the page asked for.
func TestInboxLinkFromElsewhere(t *testing.T) {
	t.Parallel()
	app := newTestServer(t)
	lead := app.submitLead(t, "ann@example.com", false)
	u := app.signedIn(t, "sales@example.com", models.RoleSales)
	path := "/admin/login?next=%2Fadmin%2Fleads%2F" + lead.PublicID

	stranger := app.visitor()
	stranger.header.Set("Sec-Fetch-Site", "cross-site")
	res := stranger.get(t, path)
	if res.status != http.StatusOK || !strings.Contains(res.body, `<meta http-equiv="refresh" content="0">`) {
		t.Errorf("sign-in page reached from another site: %v, want the form with a reload", res)
	}
	stranger.header.Set("Sec-Fetch-Site", "same-origin")
	if res := stranger.get(t, path); res.status != http.StatusOK || strings.Contains(res.body, "http-equiv") {
		t.Errorf("sign-in page reloaded without a session: %v, want the form and no further reload", res)
	}
	u.header.Set("Sec-Fetch-Site", "same-origin")
	if res := u.get(t, path); res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin/leads/"+lead.PublicID {
		t.Errorf("sign-in page reloaded with a session: %v, Location %q; want 303 to the lead", res, res.header.Get("Location"))
	}
}

// TestInboxSignInBurst: guesses sent all at once, before any failure is
// recorded, are limited like guesses sent one by one: at most
// models.MaxSignInFailures passwords are checked for one account in the
// window (the right one among them only if it came early), and the rest
// are refused unchecked.
func TestInboxSignInBurst(t *testing.T) {
	app := newTestServer(t)
	app.addInboxUser(t, "sales@example.com", models.RoleSales)
	u := app.visitor()
	token := csrfOf(t, u.get(t, "/admin/login").body)
	cookie := "leadbox_signin=" + u.cookies["leadbox_signin"]

	const n = 60
	codes := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		password := "a wrong guess, number " + strconv.Itoa(i)
		if i == n-1 {
			password = inboxPassword // the attacker's last guess happens to be right
		}
		body := url.Values{"email": {"sales@example.com"}, "password": {password}, "csrf": {token}}.Encode()
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, app.srv.URL+"/admin/login", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Cookie", cookie)
			<-start
			res, err := app.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	checked := count[http.StatusUnauthorized] + count[http.StatusSeeOther]
	if checked > models.MaxSignInFailures || count[http.StatusTooManyRequests] != n-checked {
		t.Errorf("answers %v: want at most %d passwords checked (401, or 303 for the right one) and the rest refused unchecked (429)",
			count, models.MaxSignInFailures)
	}
}
