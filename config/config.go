// Package config reads Leadbox's settings from LEADBOX_* environment
// variables into one typed struct. Every setting has a default or a start-up
// error that names the variable; all problems are reported together so an
// operator fixes a broken deployment in one pass, not one restart per typo.
package config

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultConsentText is the marketing-consent wording shown beside the
// checkbox when LEADBOX_CONSENT_TEXT is not set.
const DefaultConsentText = "I agree to be contacted about other offerings by email. " +
	"I can withdraw this consent at any time with the link in every email."

// TLS policies for LEADBOX_SMTP_TLS.
const (
	TLSStartTLS      = "starttls"
	TLSImplicit      = "tls"
	TLSOpportunistic = "opportunistic"
	TLSNone          = "none"
)

// Secret is a string that never shows itself when printed or logged.
type Secret string

// String implements fmt.Stringer so %v and %s print a placeholder.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value either.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders (JSON, YAML) from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// SigningKey is a private key that, like Secret, never shows itself when
// printed, logged or encoded. The zero value holds no key.
type SigningKey struct{ signer crypto.Signer }

// Signer returns the key itself (an *rsa.PrivateKey or an
// ed25519.PrivateKey), or nil when there is none.
func (k SigningKey) Signer() crypto.Signer { return k.signer }

// String implements fmt.Stringer so %v and %s print a placeholder.
func (k SigningKey) String() string {
	if k.signer == nil {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the key either.
func (k SigningKey) GoString() string { return strconv.Quote(k.String()) }

// LogValue keeps slog from printing the key.
func (k SigningKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText keeps encoders (JSON, YAML) from printing the key.
func (k SigningKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Config is every setting of Leadbox. Build it with Load.
type Config struct {
	Listen string
	// BaseURL starts every link in emails. When LEADBOX_BASE_URL is not
	// set it is derived from Listen (see BaseURLDerived), so that links
	// reach a server started on another port than the default.
	BaseURL *url.URL
	// BaseURLDerived says BaseURL was derived from LEADBOX_LISTEN rather
	// than set: right for trying Leadbox on one machine, wrong for a
	// public server, whose links must name its public address.
	BaseURLDerived bool
	Database       string

	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword Secret
	SMTPTLS      string
	SMTPTimeout  time.Duration
	// SMTPConnections is how many SMTP connections the outbox may use at
	// once to work through a backlog (one per batch being sent).
	SMTPConnections int
	MailDir         string
	MailFrom        *mail.Address
	SalesTo         []*mail.Address

	// DKIM signing of every outgoing email; off when DKIMKeyFile is empty.
	// The key is read and parsed by Load, so a bad key stops start-up
	// instead of the first email.
	DKIMKeyFile  string
	DKIMSelector string
	DKIMDomain   string
	DKIMKey      SigningKey

	// Outbox tuning: how often the worker looks for due mail even when not
	// woken, how retries back off, and when a message is given up.
	OutboxPoll      time.Duration
	RetryBase       time.Duration
	RetryMax        time.Duration
	GiveUpAfter     time.Duration
	ConfirmTokenTTL time.Duration

	// AdminToken is a bearer token of the API with the admin role, named
	// "env" in the audit log (automation, and a first start before any
	// token was created); empty for none. access.NewAuthenticator takes
	// it as it is.
	AdminToken     Secret
	DoubleOptIn    bool
	RateLimit      int
	TrustedProxies []string
	AllowedOrigins []string
	PrivacyURL     string
	Company        string
	ConsentText    string
	Timezone       *time.Location
	LogLevel       slog.Level

	// MetricsNetworks are the client networks /metrics answers; none
	// (LEADBOX_METRICS_NETWORKS=off) turns it off.
	MetricsNetworks []netip.Prefix

	// Defences against bots and abuse (see docs/operations.md, "Security").
	MinFillTime     time.Duration // time trap: faster posts of the hosted form are spam; 0 is off
	DuplicateWindow time.Duration // the same message from the same person within it is answered, not stored again
	ConfirmLimit    int           // confirmation emails per address per 24 hours
	SpamRetention   time.Duration // how long spam tallies are kept

	// Retention of personal data (see docs/privacy.md); zero keeps it for
	// ever.
	Retention        time.Duration // a lead's inquiry data, after its last change
	IPRetention      time.Duration // IP addresses and user agents, outside proof of a standing consent
	FrameAncestors   []string      // who may embed the pages in a frame; empty is nobody
	Captcha          string        // "", "turnstile" or "hcaptcha"
	CaptchaSiteKey   string
	CaptchaSecret    Secret
	CaptchaVerifyURL string
	CaptchaTimeout   time.Duration

	// Webhooks (see docs/webhooks.md): where signed events go, and the
	// Standard Webhooks secret they are signed with.
	WebhookURLs   []string
	WebhookSecret Secret
}

// UsesSMTP reports whether mail goes to an SMTP server rather than to .eml
// files in MailDir.
func (c Config) UsesSMTP() bool { return c.SMTPHost != "" }

// SignsDKIM reports whether outgoing email is DKIM-signed.
func (c Config) SignsDKIM() bool { return c.DKIMKey.signer != nil }

// Load reads the configuration through getenv (os.Getenv in production, a map
// in tests). It returns every problem found, joined, each naming its variable.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	tlsMode := p.oneOf("LEADBOX_SMTP_TLS", TLSStartTLS, TLSStartTLS, TLSImplicit, TLSOpportunistic, TLSNone)
	// Implicit TLS has its own port (RFC 8314 §3.3); submission with
	// STARTTLS, or none, is on 587.
	smtpPort := 587
	if tlsMode == TLSImplicit {
		smtpPort = 465
	}
	listen := p.listen("LEADBOX_LISTEN", ":8080")
	baseURL, derived := p.baseURL("LEADBOX_BASE_URL", listen)
	c := Config{
		Listen:          listen,
		BaseURL:         baseURL,
		BaseURLDerived:  derived,
		Database:        p.databasePath("LEADBOX_DATABASE", "leadbox.db"),
		SMTPHost:        p.host("LEADBOX_SMTP_HOST"),
		SMTPPort:        p.port("LEADBOX_SMTP_PORT", smtpPort),
		SMTPUsername:    p.str("LEADBOX_SMTP_USERNAME", ""),
		SMTPPassword:    Secret(p.str("LEADBOX_SMTP_PASSWORD", "")),
		SMTPTLS:         tlsMode,
		SMTPTimeout:     p.duration("LEADBOX_SMTP_TIMEOUT", 30*time.Second),
		SMTPConnections: p.between("LEADBOX_SMTP_CONNECTIONS", 3, 1, 32),
		MailDir:         p.str("LEADBOX_MAIL_DIR", "mail"),
		MailFrom:        p.address("LEADBOX_MAIL_FROM", "leadbox@localhost"),
		SalesTo:         p.addressList("LEADBOX_SALES_TO"),
		OutboxPoll:      p.duration("LEADBOX_OUTBOX_POLL", 15*time.Second),
		RetryBase:       p.duration("LEADBOX_RETRY_BASE", 30*time.Second),
		RetryMax:        p.duration("LEADBOX_RETRY_MAX", time.Hour),
		GiveUpAfter:     p.duration("LEADBOX_GIVE_UP_AFTER", 5*24*time.Hour),
		ConfirmTokenTTL: p.duration("LEADBOX_CONFIRM_TTL", 7*24*time.Hour),
		AdminToken:      p.adminToken("LEADBOX_ADMIN_TOKEN"),
		DoubleOptIn:     p.boolean("LEADBOX_DOUBLE_OPT_IN", true),
		RateLimit:       p.nonNegative("LEADBOX_RATE_LIMIT", 10),
		TrustedProxies:  p.proxies("LEADBOX_TRUSTED_PROXIES"),
		MetricsNetworks: p.networks("LEADBOX_METRICS_NETWORKS", "127.0.0.1/32,::1/128"),
		AllowedOrigins:  p.origins("LEADBOX_ALLOWED_ORIGINS"),
		PrivacyURL:      p.absoluteURL("LEADBOX_PRIVACY_URL"),
		Company:         p.text("LEADBOX_COMPANY", "Our company"),
		ConsentText:     p.text("LEADBOX_CONSENT_TEXT", DefaultConsentText),
		Timezone:        p.location("LEADBOX_TIMEZONE", "UTC"),
		LogLevel:        p.logLevel("LEADBOX_LOG_LEVEL", slog.LevelInfo),

		MinFillTime:      p.durationOrZero("LEADBOX_MIN_FILL_TIME", 3*time.Second),
		DuplicateWindow:  p.durationOrZero("LEADBOX_DUPLICATE_WINDOW", 10*time.Minute),
		ConfirmLimit:     p.nonNegative("LEADBOX_CONFIRM_LIMIT", 3),
		SpamRetention:    p.duration("LEADBOX_SPAM_RETENTION", 30*24*time.Hour),
		FrameAncestors:   p.origins("LEADBOX_FRAME_ANCESTORS"),
		Captcha:          p.oneOf("LEADBOX_CAPTCHA", "", "", "turnstile", "hcaptcha"),
		CaptchaSiteKey:   p.str("LEADBOX_CAPTCHA_SITE_KEY", ""),
		CaptchaSecret:    Secret(p.str("LEADBOX_CAPTCHA_SECRET", "")),
		CaptchaVerifyURL: p.absoluteURL("LEADBOX_CAPTCHA_VERIFY_URL"),
		CaptchaTimeout:   p.duration("LEADBOX_CAPTCHA_TIMEOUT", 5*time.Second),

		Retention:   p.retention("LEADBOX_RETENTION", 730*day, day),
		IPRetention: p.retention("LEADBOX_IP_RETENTION", 30*day, time.Hour),
	}
	c.WebhookURLs = p.webhookURLs("LEADBOX_WEBHOOK_URLS")
	c.WebhookSecret = p.webhookSecret("LEADBOX_WEBHOOK_SECRET", c.WebhookURLs)
	// A set but unparseable list was reported already; a blank one was not.
	if c.Captcha != "" && (c.CaptchaSiteKey == "" || c.CaptchaSecret == "") {
		p.fail("LEADBOX_CAPTCHA", "is set, so LEADBOX_CAPTCHA_SITE_KEY and LEADBOX_CAPTCHA_SECRET are required (from the provider's dashboard)")
	}
	if c.UsesSMTP() && len(c.SalesTo) == 0 && strings.TrimSpace(p.getenv("LEADBOX_SALES_TO")) == "" {
		p.fail("LEADBOX_SALES_TO", "is required when LEADBOX_SMTP_HOST is set (who receives lead notifications?)")
	}
	if !c.UsesSMTP() && len(c.SalesTo) == 0 {
		// .eml files need a To as well; nobody receives them, so a
		// placeholder keeps `go run ./cmd/leadbox` working with no settings.
		c.SalesTo = []*mail.Address{{Address: "sales@localhost"}}
	}
	if c.SMTPPassword != "" && c.SMTPUsername == "" {
		p.fail("LEADBOX_SMTP_PASSWORD", "is set but LEADBOX_SMTP_USERNAME is empty")
	}
	c.DKIMKeyFile, c.DKIMSelector, c.DKIMDomain, c.DKIMKey = p.dkim(c.MailFrom)
	if c.RetryBase > 0 && c.RetryMax > 0 && c.RetryMax < c.RetryBase {
		p.fail("LEADBOX_RETRY_MAX", fmt.Sprintf("(%s) must not be shorter than LEADBOX_RETRY_BASE (%s)", c.RetryMax, c.RetryBase))
	}
	if len(p.errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration:\n%w", errors.Join(p.errs...))
	}
	return c, nil
}

// String prints the effective configuration with secrets redacted, for the
// start-up log and `leadbox check-config`.
func (c Config) String() string {
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	row("LEADBOX_LISTEN", c.Listen)
	row("LEADBOX_BASE_URL", c.BaseURL)
	row("LEADBOX_DATABASE", c.Database)
	row("LEADBOX_SMTP_HOST", c.SMTPHost)
	row("LEADBOX_SMTP_PORT", c.SMTPPort)
	row("LEADBOX_SMTP_USERNAME", c.SMTPUsername)
	row("LEADBOX_SMTP_PASSWORD", c.SMTPPassword)
	row("LEADBOX_SMTP_TLS", c.SMTPTLS)
	row("LEADBOX_SMTP_TIMEOUT", c.SMTPTimeout)
	row("LEADBOX_SMTP_CONNECTIONS", c.SMTPConnections)
	row("LEADBOX_MAIL_DIR", c.MailDir)
	row("LEADBOX_MAIL_FROM", c.MailFrom)
	row("LEADBOX_SALES_TO", joinAddrs(c.SalesTo))
	row("LEADBOX_DKIM_KEY_FILE", c.DKIMKeyFile)
	row("LEADBOX_DKIM_SELECTOR", c.DKIMSelector)
	row("LEADBOX_DKIM_DOMAIN", c.DKIMDomain)
	row("LEADBOX_OUTBOX_POLL", c.OutboxPoll)
	row("LEADBOX_RETRY_BASE", c.RetryBase)
	row("LEADBOX_RETRY_MAX", c.RetryMax)
	row("LEADBOX_GIVE_UP_AFTER", c.GiveUpAfter)
	row("LEADBOX_CONFIRM_TTL", c.ConfirmTokenTTL)
	row("LEADBOX_ADMIN_TOKEN", c.AdminToken)
	row("LEADBOX_DOUBLE_OPT_IN", c.DoubleOptIn)
	row("LEADBOX_RATE_LIMIT", c.RateLimit)
	row("LEADBOX_TRUSTED_PROXIES", strings.Join(c.TrustedProxies, ","))
	row("LEADBOX_METRICS_NETWORKS", metricsNetworks(c.MetricsNetworks))
	row("LEADBOX_ALLOWED_ORIGINS", strings.Join(c.AllowedOrigins, ","))
	row("LEADBOX_PRIVACY_URL", c.PrivacyURL)
	row("LEADBOX_COMPANY", c.Company)
	row("LEADBOX_CONSENT_TEXT", c.ConsentText)
	row("LEADBOX_TIMEZONE", c.Timezone)
	row("LEADBOX_LOG_LEVEL", c.LogLevel)
	row("LEADBOX_MIN_FILL_TIME", c.MinFillTime)
	row("LEADBOX_DUPLICATE_WINDOW", c.DuplicateWindow)
	row("LEADBOX_CONFIRM_LIMIT", c.ConfirmLimit)
	row("LEADBOX_SPAM_RETENTION", c.SpamRetention)
	row("LEADBOX_FRAME_ANCESTORS", strings.Join(c.FrameAncestors, ","))
	row("LEADBOX_CAPTCHA", c.Captcha)
	row("LEADBOX_CAPTCHA_SITE_KEY", c.CaptchaSiteKey)
	row("LEADBOX_CAPTCHA_SECRET", c.CaptchaSecret)
	row("LEADBOX_CAPTCHA_VERIFY_URL", c.CaptchaVerifyURL)
	row("LEADBOX_CAPTCHA_TIMEOUT", c.CaptchaTimeout)
	row("LEADBOX_RETENTION", FormatRetention(c.Retention))
	row("LEADBOX_IP_RETENTION", FormatRetention(c.IPRetention))
	row("LEADBOX_WEBHOOK_URLS", strings.Join(c.WebhookURLs, ","))
	row("LEADBOX_WEBHOOK_SECRET", c.WebhookSecret)
	return b.String()
}

func joinAddrs(as []*mail.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// parser collects problems instead of stopping at the first one.
type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, why string) {
	p.errs = append(p.errs, fmt.Errorf("%s %s", name, why))
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

// minAdminToken is the shortest LEADBOX_ADMIN_TOKEN accepted: an admin
// token is the key to every lead, and 32 random characters are beyond
// guessing however many requests are made.
const minAdminToken = 32

// adminToken is LEADBOX_ADMIN_TOKEN: empty, or at least minAdminToken
// printable ASCII characters without spaces (it travels in an HTTP
// header). Errors never repeat the value.
func (p *parser) adminToken(name string) Secret {
	v := p.str(name, "")
	if v == "" {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			p.fail(name, "must be printable ASCII without spaces (the value is not shown)")
			return ""
		}
	}
	if len(v) < minAdminToken {
		p.fail(name, fmt.Sprintf("must be at least %d characters, got %d (the value is not shown); make one with `openssl rand -hex 32`", minAdminToken, len(v)))
		return ""
	}
	return Secret(v)
}

// listen is a host:port to listen on (":8080", "127.0.0.1:8080").
func (p *parser) listen(name, def string) string {
	v := p.str(name, def)
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		p.fail(name, fmt.Sprintf("%q must be host:port or :port, such as :8080 or 127.0.0.1:8080", v))
		return def
	}
	return v
}

// host is a host name or IP address alone: a port or a scheme written into
// it would fail every email for days instead of failing at start-up.
func (p *parser) host(name string) string {
	v := p.str(name, "")
	if v == "" {
		return ""
	}
	if ip, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
		return ip.String()
	}
	if strings.ContainsAny(v, ":/@ ") {
		p.fail(name, fmt.Sprintf("%q must be a host name or IP address only, such as smtp.example.com; the port goes in LEADBOX_SMTP_PORT", v))
		return ""
	}
	return v
}

// databasePath is the SQLite file. A database URL (the contract's later
// postgres://) is refused without repeating it: it may carry a password.
func (p *parser) databasePath(name, def string) string {
	v := p.str(name, def)
	if strings.Contains(v, "://") && !strings.HasPrefix(v, "file:") { // file: is SQLite's own URI form
		p.fail(name, "is a URL; only a SQLite file path is supported yet (the value is not shown: it may hold a password)")
		return ""
	}
	return v
}

// text is a human-facing string: surrounding space is dropped and control
// characters are refused, because it ends up in pages and email headers.
func (p *parser) text(name, def string) string {
	v := p.str(name, def)
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p.fail(name, "must not contain control characters or line breaks")
		return def
	}
	return v
}

func (p *parser) port(name string, def int) int {
	return p.integer(name, def, 1, 65535, "a port number from 1 to 65535")
}

func (p *parser) nonNegative(name string, def int) int {
	return p.integer(name, def, 0, math.MaxInt, "a whole number, 0 or more")
}

func (p *parser) between(name string, def, lo, hi int) int {
	return p.integer(name, def, lo, hi, fmt.Sprintf("a whole number from %d to %d", lo, hi))
}

// integer parses a whole number from lo to hi; want says what that is, for
// the error.
func (p *parser) integer(name string, def, lo, hi int, want string) int {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Sprintf("must be %s, got %q", want, v))
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(name, fmt.Sprintf("must be a positive duration such as 30s, 15m or 96h, got %q", v))
		return def
	}
	return d
}

// durationOrZero is duration where a zero ("0", "0s", "0m") means "off".
func (p *parser) durationOrZero(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(p.str(name, "")); err == nil && d == 0 {
		return 0
	}
	return p.duration(name, def)
}

const day = 24 * time.Hour

// retention reads how long personal data is kept: a number of days
// ("730d"), a Go duration ("36h"), or 0 for ever; at least least, so that
// a slip ("30" for "30d", "1m") cannot erase the leads sales is working on.
func (p *parser) retention(name string, def, least time.Duration) time.Duration {
	v := strings.TrimSpace(p.str(name, ""))
	if v == "" {
		return def
	}
	if v == "0" {
		return 0
	}
	d, err := ParseRetention(v)
	if err != nil || d < least {
		p.fail(name, fmt.Sprintf("must be a number of days such as 730d, a duration of at least %s such as 48h, or 0 to keep for ever; got %q",
			FormatRetention(least), v))
		return def
	}
	return d
}

// ParseRetention reads "730d" (days) or a Go duration ("36h").
func ParseRetention(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(days) * day, nil
	}
	return time.ParseDuration(v)
}

// FormatRetention writes a retention as the settings take it: whole days
// as "730d", 0 as "0", anything else as a Go duration.
func FormatRetention(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

func (p *parser) boolean(name string, def bool) bool {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	p.fail(name, fmt.Sprintf("must be true or false, got %q", v))
	return def
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, ", "), v))
	return def
}

// baseURL reads the public URL of the server, or, when it is not set,
// derives one from the listen address and reports that it did.
func (p *parser) baseURL(name, listen string) (u *url.URL, derived bool) {
	v := strings.TrimRight(p.str(name, ""), "/")
	if v == "" {
		return derivedBaseURL(listen), true
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.fail(name, fmt.Sprintf("must be an absolute http(s) URL without query, such as https://leads.example.com, got %q", v))
		return derivedBaseURL(listen), true
	}
	return u, false
}

func (p *parser) absoluteURL(name string) string {
	v := p.str(name, "")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, fmt.Sprintf("must be an absolute http(s) URL, got %q", v))
		return ""
	}
	return u.String()
}

func (p *parser) address(name, def string) *mail.Address {
	v := p.str(name, def)
	a, err := mail.ParseAddress(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("must be an email address such as Leads <leads@example.com>, got %q", v))
		a, _ = mail.ParseAddress(def)
	}
	return a
}

func (p *parser) addressList(name string) []*mail.Address {
	v := p.str(name, "")
	if v == "" {
		return nil
	}
	as, err := mail.ParseAddressList(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("must be a comma-separated list of email addresses, got %q: %v", v, err))
		return nil
	}
	return as
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) proxies(name string) []string {
	items := splitList(p.str(name, ""))
	for _, s := range items {
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if net.ParseIP(s) == nil {
			p.fail(name, fmt.Sprintf("must list IP addresses or CIDR ranges, got %q", s))
		}
	}
	return items
}

// networks reads a comma-separated list of CIDR ranges; a bare address is
// a range of one. "off" is no range at all, which turns off what the list
// guards.
func (p *parser) networks(name, def string) []netip.Prefix {
	v := p.str(name, def)
	if strings.EqualFold(v, "off") {
		return nil
	}
	var out []netip.Prefix
	for _, s := range splitList(v) {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				p.fail(name, fmt.Sprintf("must list CIDR ranges such as 127.0.0.1/32 or 10.0.0.0/8, or be off, got %q", s))
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		// 10.1.2.3/8 means 10.0.0.0/8, as it does to ip(8); and an
		// IPv4-mapped range matches what clients' IPv4 addresses become.
		out = append(out, netip.PrefixFrom(pfx.Addr().Unmap(), unmappedBits(pfx)).Masked())
	}
	if len(out) == 0 {
		p.fail(name, "lists no network; write off to turn /metrics off")
	}
	return out
}

// unmappedBits is the length of pfx once an IPv4-mapped address in it is
// written as IPv4 (::ffff:10.0.0.0/104 is 10.0.0.0/8).
func unmappedBits(pfx netip.Prefix) int {
	if pfx.Addr().Is4In6() {
		return max(0, pfx.Bits()-96)
	}
	return pfx.Bits()
}

// metricsNetworks prints LEADBOX_METRICS_NETWORKS as it can be set again.
func metricsNetworks(ns []netip.Prefix) string {
	if len(ns) == 0 {
		return "off"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

// origins accepts only scheme://host[:port]: an origin with a path would never
// match a browser's Origin header, so it is a mistake worth reporting.
func (p *parser) origins(name string) []string {
	items := splitList(p.str(name, ""))
	out := items[:0]
	for _, s := range items {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			p.fail(name, fmt.Sprintf("must list origins such as https://www.example.com (scheme and host, no path), got %q", s))
			continue
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out
}

func (p *parser) location(name, def string) *time.Location {
	v := p.str(name, def)
	loc, err := time.LoadLocation(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("must be an IANA time zone such as Europe/Warsaw, got %q", v))
		return time.UTC
	}
	return loc
}

func (p *parser) logLevel(name string, def slog.Level) slog.Level {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		p.fail(name, fmt.Sprintf("must be debug, info, warn or error, got %q", v))
		return def
	}
	return l
}

// minRSABits is the smallest RSA key a DKIM verifier accepts (RFC 8301
// §3.2); 2048 bits are what RFC 8301 recommends and what to generate.
const minRSABits = 1024

// dkim reads the DKIM settings. Signing is all or nothing: a selector or
// domain without a key would look configured and sign nothing, so it is an
// error rather than a silent no-op.
func (p *parser) dkim(from *mail.Address) (keyFile, selector, domain string, key SigningKey) {
	const (
		keyVar      = "LEADBOX_DKIM_KEY_FILE"
		selectorVar = "LEADBOX_DKIM_SELECTOR"
		domainVar   = "LEADBOX_DKIM_DOMAIN"
	)
	keyFile, selector = p.str(keyVar, ""), p.str(selectorVar, "")
	domain = p.str(domainVar, "")
	if keyFile == "" {
		for _, name := range []string{selectorVar, domainVar} {
			if p.str(name, "") != "" {
				p.fail(name, "is set but "+keyVar+" is empty (no key, no signature)")
			}
		}
		return "", "", "", SigningKey{}
	}
	if domain == "" && from != nil {
		if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
			domain = from.Address[at+1:]
		}
	}
	// Both end up verbatim in the DKIM-Signature header (s= and d=) and in
	// the DNS name verifiers look up, so only DNS names are accepted.
	switch {
	case selector == "":
		p.fail(selectorVar, "is required when "+keyVar+" is set (the s= of the signature; the public key is published at SELECTOR._domainkey.DOMAIN)")
	case !isDNSName(selector):
		p.fail(selectorVar, fmt.Sprintf("must be a DNS label such as mail2026 (letters, digits, hyphens, dots), got %q", selector))
	}
	if !isDNSName(domain) {
		p.fail(domainVar, fmt.Sprintf("must be a domain name such as example.com (it defaults to the domain of LEADBOX_MAIL_FROM), got %q", domain))
	}
	// The error texts below name the file, never its contents.
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		p.fail(keyVar, fmt.Sprintf("cannot be read: %v", err))
		return keyFile, selector, domain, SigningKey{}
	}
	signer, err := gomail.PrivKeyFromPEM(pemBytes)
	if err != nil {
		p.fail(keyVar, fmt.Sprintf("(%s) must hold an RSA or Ed25519 private key in PEM (PKCS #1 or PKCS #8, unencrypted): %v", keyFile, err))
		return keyFile, selector, domain, SigningKey{}
	}
	if k, ok := signer.(*rsa.PrivateKey); ok && k.N.BitLen() < minRSABits {
		p.fail(keyVar, fmt.Sprintf("(%s) holds a %d-bit RSA key; verifiers ignore signatures by keys under %d bits, use 2048", keyFile, k.N.BitLen(), minRSABits))
		return keyFile, selector, domain, SigningKey{}
	}
	return keyFile, selector, domain, SigningKey{signer: signer}
}

// isDNSName reports whether s is a dot-separated sequence of labels of
// letters, digits and inner hyphens, each at most 63 bytes long.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
