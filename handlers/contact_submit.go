package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// maxUserAgent bounds the user agent kept as consent proof.
const maxUserAgent = 512

// leadRecorder is what accepting a submission needs from the database.
type leadRecorder interface {
	CreateLeadOnce(ctx context.Context, lead *models.Lead, consent *models.ConsentEvent, outbox []models.OutboxMessage, guards models.Guards) (models.Created, error)
	EarlierSubmission(ctx context.Context, subject, action, message string, since time.Time) (models.Lead, error)
}

// formPolicy is what one form's settings decide about its submissions once
// they are through the bot defences: whom they notify, how the marketing
// consent is confirmed, where the visitor may be sent afterwards, and how
// repeats and floods are treated. Today the LEADBOX_* settings make the
// one form, "contact"; a forms file will make one per form.
type formPolicy struct {
	form            string          // the form's key, as Metrics name it
	recipients      []*mail.Address // sales addresses notified of each lead
	origins         []string        // where _next may send the visitor
	doubleOptIn     bool
	confirmTTL      time.Duration
	confirmLimit    int           // confirmation emails per address per day
	duplicateWindow time.Duration // a repeat within it is answered, not stored; 0: off
	rateLimit       int           // accepted submissions per client per minute; 0: off
}

// submitResponse is the JSON answer to an accepted submission.
type submitResponse struct {
	ID string `json:"id"`
	// MarketingConsent is "given", "pending_confirmation" or "not_given".
	MarketingConsent string `json:"marketing_consent"`
}

// contactSubmit accepts a submission from the hosted form, a website's own
// HTML form or fetch(). It answers only after the lead, its consent event
// and its emails are committed.
//
// The steps are: take a rate-limit token, then submit (which knows nothing
// of HTTP), then carry out its outcome: settle the token, count spam, wake
// the mail sender, answer. Here, and only here, is a submission counted
// for metrics: by then its outcome is decided.
func contactSubmit(in intake, p formPolicy, store leadRecorder, rend *renderer, spam SpamNoter, m Metrics, notify func(), now func() time.Time, log *slog.Logger) gin.HandlerFunc {
	limit := newRateLimit(p.rateLimit, now)
	var storage storageEpisode
	return func(c *gin.Context) {
		ticket, wait, ok := limit.take(c.ClientIP())
		if !ok {
			spam.Note(models.SpamRateLimit)
			m.Spam(models.SpamRateLimit)
			m.Submission(p.form, OutcomeRateLimited)
			tooMany(c, rend, wait)
			return
		}
		c.Header("Cache-Control", "no-store")
		out := submit(c.Request.Context(), submitRequest{
			// The whole header, not c.ContentType(): gin's strips the
			// parameters, and with them the multipart boundary and the
			// charset.
			contentType: c.GetHeader("Content-Type"),
			body:        c.Request.Body,
			client: clientInfo{
				IP:        c.ClientIP(),
				UserAgent: truncate(c.Request.UserAgent(), maxUserAgent),
				Referer:   c.Request.Referer(),
			},
			requestID: requestID(c),
		}, in, p, store, now, log)
		ticket.settle(out.token)
		storage.note(c.Request.Context(), out, log)
		if out.spam != "" {
			spam.Note(out.spam)
			m.Spam(out.spam)
		}
		if counted := out.counted(); counted != "" {
			m.Submission(p.form, counted)
		}
		if out.fresh {
			notify()
		}
		answer(c, rend, in, out.reply)
	}
}

// submitRequest is what the pipeline reads from an HTTP request.
type submitRequest struct {
	contentType string // the whole header, parameters included
	body        io.Reader
	client      clientInfo
	requestID   string // for the log lines about this request
}

// clientInfo is what the request tells about the visitor, kept as proof of
// consent.
type clientInfo struct {
	IP, UserAgent, Referer string
}

// submit runs a submission through the pipeline (decode, validate, screen,
// persist) at the time now gives once the body is read. Its outcome says
// how to answer, and what becomes of the client's rate-limit token.
func submit(ctx context.Context, req submitRequest, in intake, p formPolicy, store leadRecorder, now func() time.Time, log *slog.Logger) outcome {
	sub, err := decode(req.contentType, req.body)
	if err != nil {
		return unreadable(err)
	}
	at := now()
	next := allowedNext(sub.Next, p.origins)
	given, _ := sub.consentGiven()
	// The honeypot comes first, so that it catches a bot whatever else it
	// filled in.
	if sub.spam() {
		return p.decoy(given, next).countedAs(models.SpamHoneypot)
	}
	// Validation comes before the time trap: a person who presses Enter a
	// second after opening the form must see what is missing, not a "thank
	// you" for a message that was never kept.
	if errs := sub.Valid(); errs != nil {
		return refused(http.StatusUnprocessableEntity, errs, sub)
	}
	sc := in.screen(ctx, sub, req.client.IP, at)
	switch sc.verdict {
	case screenTrapped:
		return p.decoy(given, next).countedAs(models.SpamTimeTrap)
	case screenCaptchaFailed:
		// A CAPTCHA answer is single-use: a double click or a browser
		// retry sends again the one its first post spent. Like any
		// duplicate, it gets the first answer.
		rec := sub.records(req.client, sc.wording, p, at)
		if earlier, ok := findEarlier(ctx, store, rec, p.duplicateWindow, req.requestID, log); ok {
			return p.success(earlier.PublicID, gaveConsent(earlier), next).countedAs(models.SpamDuplicate)
		}
		return captchaRefused(sub).countedAs(models.SpamCaptcha)
	case screenCaptchaDown:
		log.WarnContext(ctx, "captcha verification unavailable", "request_id", req.requestID, "err", sc.err)
		return captchaUnavailable(sub)
	}
	lead, created, err := persist(ctx, store, sub.records(req.client, sc.wording, p, at), p)
	if errors.Is(err, models.ErrUnavailable) {
		return storageUnavailable(sub, err)
	}
	if err != nil {
		return failed(err)
	}
	if created.ConfirmationDropped {
		log.InfoContext(ctx, "confirmation email limit reached for an address; not sending another",
			"request_id", req.requestID)
	}
	if created.Duplicate {
		// A double click or a browser retry: the same answer again.
		return p.success(lead.PublicID, gaveConsent(lead), next).countedAs(models.SpamDuplicate)
	}
	out := p.success(lead.PublicID, given, next)
	out.fresh = true
	return out
}

// decode reads and decodes the body. Its errors are those unreadable
// answers: the body limit's, errUnsupportedType, or a *bodyError.
func decode(contentType string, body io.Reader) (submission, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return submission{}, fmt.Errorf("read body: %w", err)
	}
	return decodeSubmission(contentType, b)
}

// screenVerdict is what the bot defences make of a valid submission.
type screenVerdict int

const (
	screenPassed        screenVerdict = iota
	screenTrapped                     // the time trap: posted too fast, or a stamp we never issued
	screenCaptchaFailed               // the CAPTCHA provider says the visitor did not pass
	screenCaptchaDown                 // the CAPTCHA provider could not be asked
)

// screening is what the bot defences found out about a valid submission.
type screening struct {
	verdict screenVerdict
	// wording is the consent wording the visitor was shown: the hosted
	// form's, from its signed stamp, or else (an external form, a JSON
	// client) the configured one.
	wording int64
	err     error // why the provider could not be asked
}

// screen runs a valid submission from a client at ip past the time trap
// and the CAPTCHA, at now.
func (in intake) screen(ctx context.Context, sub submission, ip string, now time.Time) screening {
	stamp := in.stamps.check(sub.Stamp, now, in.minFillTime)
	if in.minFillTime > 0 && (stamp == stampForged || stamp == stampFast) {
		return screening{verdict: screenTrapped}
	}
	sc := screening{verdict: screenPassed, wording: in.consentTextID}
	if stamp == stampOK {
		if shown := in.stamps.shown(sub.Stamp, sub.Wording); shown != 0 {
			sc.wording = shown
		}
	}
	if in.captcha == nil {
		return sc
	}
	err := in.captcha.verify(ctx, sub.captchaAnswer(in.captcha.provider.field), ip)
	switch {
	case errors.Is(err, errCaptchaFailed):
		sc.verdict = screenCaptchaFailed
	case err != nil:
		sc.verdict, sc.err = screenCaptchaDown, err
	}
	return sc
}

// findEarlier finds the lead rec repeats within the duplicate window, as
// the writer's duplicate detection would.
func findEarlier(ctx context.Context, store leadRecorder, rec records, window time.Duration, requestID string, log *slog.Logger) (models.Lead, bool) {
	if window <= 0 {
		return models.Lead{}, false
	}
	earlier, err := store.EarlierSubmission(ctx, rec.consent.Subject, rec.consent.Action, rec.lead.Message,
		rec.lead.CreatedAt.Add(-window))
	if err != nil {
		if !errors.Is(err, models.ErrNotFound) {
			log.WarnContext(ctx, "cannot look for an earlier submission", "request_id", requestID, "err", err)
		}
		return models.Lead{}, false
	}
	return earlier, true
}

// persist commits the lead, its consent event and its emails together. It
// returns the lead to answer with: the new one, or (created.Duplicate) the
// earlier one it repeats within the duplicate window, and then nothing is
// stored.
func persist(ctx context.Context, store leadRecorder, rec records, p formPolicy) (models.Lead, models.Created, error) {
	guards := models.Guards{LimitConfirmations: true, MaxConfirmations: p.confirmLimit}
	if p.duplicateWindow > 0 {
		guards.DuplicateSince = rec.lead.CreatedAt.Add(-p.duplicateWindow)
	}
	created, err := store.CreateLeadOnce(ctx, &rec.lead, &rec.consent, rec.outbox, guards)
	return rec.lead, created, err
}

// gaveConsent reports whether an earlier lead's submission ticked the box:
// a duplicate is answered with the first one's consent, not its own.
func gaveConsent(l models.Lead) bool {
	return l.Consent != nil && l.Consent.Action == models.ActionGiven
}

func consentStatus(given, doubleOptIn bool) string {
	switch {
	case !given:
		return "not_given"
	case doubleOptIn:
		return "pending_confirmation"
	}
	return "given"
}

// records are what an accepted submission commits, together.
type records struct {
	lead    models.Lead
	consent models.ConsentEvent
	outbox  []models.OutboxMessage
}

// records turns a valid submission, received at now from client, into the
// records to commit; wording is the consent text the visitor was shown.
func (s *submission) records(client clientInfo, wording int64, p formPolicy, now time.Time) records {
	now = now.UTC()
	page := cleanPageURL(s.Page)
	if page == "" {
		page = cleanPageURL(client.Referer)
	}
	lead := models.Lead{
		PublicID:    models.NewKey(16),
		CreatedAt:   now,
		Name:        strings.TrimSpace(s.Name),
		Email:       strings.TrimSpace(s.Email),
		Phone:       strings.TrimSpace(s.Phone),
		Company:     strings.TrimSpace(s.Company),
		Message:     strings.TrimSpace(normalizeNewlines(s.Message)),
		PageURL:     page,
		UTMSource:   cleanAttribution(s.UTMSource, maxAttribution),
		UTMMedium:   cleanAttribution(s.UTMMedium, maxAttribution),
		UTMCampaign: cleanAttribution(s.UTMCampaign, maxAttribution),
		UTMTerm:     cleanAttribution(s.UTMTerm, maxAttribution),
		UTMContent:  cleanAttribution(s.UTMContent, maxAttribution),
		OptOutToken: models.NewKey(20),
	}
	given, _ := s.consentGiven()
	consent := models.ConsentEvent{
		Subject:       models.NormalizeEmail(lead.Email),
		Purpose:       models.PurposeMarketingEmail,
		At:            now,
		Action:        models.ActionNotGiven,
		Method:        models.MethodForm,
		IP:            client.IP,
		UserAgent:     client.UserAgent,
		PageURL:       page,
		ConsentTextID: &wording,
	}
	outbox := salesNotifications(p.recipients, now)
	if given {
		consent.Action = models.ActionGiven
		if p.doubleOptIn {
			token := models.NewKey(20)
			expires := now.Add(p.confirmTTL)
			lead.ConfirmToken, lead.ConfirmExpiresAt = &token, &expires
			outbox = append(outbox, models.OutboxMessage{Kind: models.KindConsentConfirmation, CreatedAt: now})
		}
	}
	return records{lead: lead, consent: consent, outbox: outbox}
}

// salesNotifications queues the lead's notification for each sales
// address, each sent and retried on its own: one address that is refused
// must not keep the lead from the others. With none configured, one row
// still records that sales is owed an email.
func salesNotifications(salesTo []*mail.Address, now time.Time) []models.OutboxMessage {
	msgs := make([]models.OutboxMessage, 0, max(len(salesTo), 1)+1) // room for a confirmation
	for _, a := range salesTo {
		msgs = append(msgs, models.OutboxMessage{Kind: models.KindSalesNotification, Recipient: a.String(), CreatedAt: now})
	}
	if len(msgs) == 0 {
		msgs = append(msgs, models.OutboxMessage{Kind: models.KindSalesNotification, CreatedAt: now})
	}
	return msgs
}

// allowedNext returns the _next URL when its origin is exactly one of the
// allowed origins, and "" otherwise (the thank-you page is used instead),
// so the form cannot be turned into an open redirect.
func allowedNext(next string, allowed []string) string {
	next = strings.TrimSpace(next)
	if next == "" || len(allowed) == 0 || len(next) > maxPageURL {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.User != nil || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	// Compare the host as the browser will read it: only plain ASCII
	// lower-cases the same way for Go and for a browser ("İ" is "i" to
	// strings.ToLower, and "i̇", another domain, to a browser).
	if strings.ContainsFunc(u.Host, func(r rune) bool { return r >= utf8.RuneSelf }) {
		return ""
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	if !slices.Contains(allowed, origin) {
		return ""
	}
	return u.String()
}

// truncate cuts s to at most n bytes without splitting a character, and
// drops control characters and invalid UTF-8 on the way.
func truncate(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if isForbiddenInLine(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// storageEpisode logs a spell of "leads cannot be stored" once when it
// begins, with its cause, and once when a lead is stored again: not once per
// submission, which under a campaign would bury the cause in thousands of
// identical lines.
type storageEpisode struct{ down atomic.Bool }

func (e *storageEpisode) note(ctx context.Context, out outcome, log *slog.Logger) {
	switch {
	case out.storageErr != nil && e.down.CompareAndSwap(false, true):
		log.ErrorContext(ctx, "leads cannot be stored; submissions are answered 503 with Retry-After until a lead is stored again",
			"err", out.storageErr)
	case out.fresh && e.down.CompareAndSwap(true, false):
		log.InfoContext(ctx, "leads are stored again")
	}
}
