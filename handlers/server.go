// Package handlers is Leadbox's HTTP layer: the router, one file per page or
// action, and the middleware around them. It talks to the database and the
// mail sender only through the small interfaces declared here.
package handlers

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/templates"
)

// MaxBodyBytes is the largest request body accepted (the contract's 64 KiB).
const MaxBodyBytes = 64 << 10

// Store is what the handlers need from the database: together, the small
// interfaces each handler declares beside itself for what it uses.
type Store interface {
	pinger
	privacyStore
	optOutReader
	optOutWriter
	confirmWriter
	leadRecorder
	apiStore
	adminStore
}

// SpamNoter counts a dropped submission (models.SpamLog does).
type SpamNoter interface {
	Note(reason string)
}

type noSpamLog struct{}

func (noSpamLog) Note(string) {}

// Deps are the dependencies of the HTTP server.
type Deps struct {
	Config config.Config
	Store  Store
	// ConsentText is the stored version of the configured consent wording:
	// what the hosted form shows and what every consent event refers to.
	ConsentText models.ConsentText
	// Notify wakes the mail sender after a lead is committed; nil is fine.
	Notify func()
	// FormKey signs the hosted form's time-trap stamps; a server-side
	// secret (models.Store.Secret), the same for every instance and across
	// restarts. Nil means a random key for this process only.
	FormKey []byte
	// PrivacyKey signs the privacy-page links (models.PrivacyLinkSecret),
	// as the mailer does; nil means a random key for this process only.
	PrivacyKey []byte
	// Metrics counts submissions and requests for GET /metrics; nil
	// counts nothing. MetricsPage is that page, served to the clients in
	// LEADBOX_METRICS_NETWORKS; nil serves none.
	Metrics     Metrics
	MetricsPage http.Handler

	// Spam counts dropped submissions by reason; nil counts nothing.
	Spam SpamNoter
	Log  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewServer builds the HTTP handler with every route and middleware.
func NewServer(d Deps) (http.Handler, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Notify == nil {
		d.Notify = func() {}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Spam == nil {
		d.Spam = noSpamLog{}
	}
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	if len(d.FormKey) == 0 {
		// Stamps then only verify on this process: fine for tests and a
		// single instance that is never restarted mid-form.
		d.FormKey = []byte(models.NewToken(32))
	}
	if len(d.PrivacyKey) == 0 {
		d.PrivacyKey = []byte(models.NewToken(32))
	}
	cfg := d.Config
	capt, err := captchaOf(cfg)
	if err != nil {
		return nil, err
	}
	in := intake{
		consentText:   d.ConsentText.Text,
		consentTextID: d.ConsentText.ID,
		stamps:        formStamps{key: d.FormKey},
		minFillTime:   cfg.MinFillTime,
		captcha:       capt,
	}
	policy := securityPolicy{
		formActions:    cfg.AllowedOrigins,
		frameAncestors: cfg.FrameAncestors,
		hsts:           cfg.BaseURL.Scheme == "https",
	}
	if capt != nil {
		policy.thirdParty = capt.provider.origin
	}
	rend, err := newRenderer(templates.FS, site{Company: d.Config.Company, PrivacyURL: d.Config.PrivacyURL}, d.Log,
		"contact", "thanks", "error", "optout", "confirm", "admin_login", "admin_leads", "admin_lead", "admin_marketing", "admin_error",
		"privacy_request", "privacy_sent", "privacy_show", "privacy_done")
	if err != nil {
		return nil, err
	}
	assets, err := fs.Sub(templates.FS, "assets")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}

	r := gin.New()
	// Only the configured proxies may tell us the client's address; gin
	// trusts every proxy by default, which would let anyone forge it.
	if err := r.SetTrustedProxies(d.Config.TrustedProxies); err != nil {
		return nil, fmt.Errorf("LEADBOX_TRUSTED_PROXIES: %w", err)
	}
	r.HandleMethodNotAllowed = true
	r.Use(requestIDs(), accessLog(d.Log), requestMetrics(d.Metrics), recovery(rend), policy.headers(), adminHeaders(), limitBody(MaxBodyBytes))
	addRoutes(r, d, rend, in, contactPolicy(cfg), assets)
	return r, nil
}

// captchaOf is the CAPTCHA the settings configure, or nil. A pass counts
// only when solved on the hosted form's host or an allowed origin's.
func captchaOf(cfg config.Config) (*captcha, error) {
	hosts := []string{strings.ToLower(cfg.BaseURL.Hostname())}
	for _, o := range cfg.AllowedOrigins {
		if u, err := url.Parse(o); err == nil {
			hosts = append(hosts, strings.ToLower(u.Hostname()))
		}
	}
	capt, err := newCaptcha(cfg.Captcha, cfg.CaptchaSiteKey, cfg.CaptchaSecret.Reveal(), cfg.CaptchaVerifyURL, cfg.CaptchaTimeout, hosts...)
	if err != nil {
		return nil, fmt.Errorf("LEADBOX_CAPTCHA: %w", err)
	}
	return capt, nil
}

// contactPolicy is the policy of the one form the LEADBOX_* settings
// make, "contact".
func contactPolicy(cfg config.Config) formPolicy {
	return formPolicy{
		form:            ContactForm,
		recipients:      cfg.SalesTo,
		origins:         cfg.AllowedOrigins,
		doubleOptIn:     cfg.DoubleOptIn,
		confirmTTL:      cfg.ConfirmTokenTTL,
		confirmLimit:    cfg.ConfirmLimit,
		duplicateWindow: cfg.DuplicateWindow,
		rateLimit:       cfg.RateLimit,
	}
}
