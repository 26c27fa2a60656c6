package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// maxUserAgent bounds the user agent kept as consent proof.
const maxUserAgent = 512

// submitResponse is the JSON answer to an accepted submission.
type submitResponse struct {
	ID string `json:"id"`
	// MarketingConsent is "given", "pending_confirmation" or "not_given".
	MarketingConsent string `json:"marketing_consent"`
}

// contactSubmit accepts a submission from the hosted form, a website's own
// HTML form or fetch(). It answers only after the lead, its consent event
// and its emails are committed.
func contactSubmit(d Deps, rend *renderer, in intake) gin.HandlerFunc {
	cfg := d.Config
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		c.Header("Cache-Control", "no-store")
		asJSON := wantsJSON(c.Request)
		sub, ok := readSubmission(c, rend)
		if !ok {
			return
		}
		next := allowedNext(sub.Next, cfg.AllowedOrigins)
		given, _ := sub.consentGiven()
		// Bots must not learn that a trap caught them: answer exactly like
		// a success, store nothing, send nothing, count the reason.
		fakeSuccess := func(reason string) {
			in.spam.Note(reason)
			accepted(c, asJSON, next, submitResponse{ID: models.NewKey(16), MarketingConsent: consentStatus(given, cfg.DoubleOptIn)})
		}
		if sub.spam() {
			fakeSuccess(models.SpamHoneypot)
			return
		}
		// Validation comes before the time trap: a person who presses
		// Enter a second after opening the form must see what is missing,
		// not a "thank you" for a message that was never kept.
		if errs := sub.Valid(); errs != nil {
			refuse(c, rend, in, sub, http.StatusUnprocessableEntity, errs)
			return
		}
		verdict := in.stamps.check(sub.Stamp, d.Now(), in.minFillTime)
		if in.minFillTime > 0 && (verdict == stampForged || verdict == stampFast) {
			fakeSuccess(models.SpamTimeTrap)
			return
		}
		var shownText int64
		if verdict == stampOK {
			shownText = in.stamps.shown(sub.Stamp, sub.Wording)
		}
		ci := clientInfo{
			IP:        c.ClientIP(),
			UserAgent: truncate(c.Request.UserAgent(), maxUserAgent),
			Referer:   c.Request.Referer(),
			ShownText: shownText,
		}
		if in.captcha != nil {
			err := in.captcha.verify(ctx, sub.captchaAnswer(in.captcha.provider.field), c.ClientIP())
			switch {
			case errors.Is(err, errCaptchaFailed):
				// A CAPTCHA answer is single-use: a double click or a
				// browser retry sends again the one its first post spent.
				// Like any duplicate, it gets the first answer.
				if earlier, ok := earlierSubmission(ctx, d, sub, ci); ok {
					in.spam.Note(models.SpamDuplicate)
					accepted(c, asJSON, next, submitResponse{ID: earlier.PublicID, MarketingConsent: consentStatus(gaveConsent(earlier), cfg.DoubleOptIn)})
					return
				}
				in.spam.Note(models.SpamCaptcha)
				c.Set(keepRateToken, true)
				refuse(c, rend, in, sub, http.StatusUnprocessableEntity,
					map[string]string{"captcha": "Please complete the check that you are not a robot, then send the form again."})
				return
			case err != nil:
				c.Set(keepRateToken, true) // each retry calls the provider again
				d.Log.WarnContext(ctx, "captcha verification unavailable", "request_id", requestID(c), "err", err)
				refuse(c, rend, in, sub, http.StatusServiceUnavailable,
					map[string]string{"captcha": "We could not check that you are not a robot just now. Please send the form again in a minute."})
				return
			}
		}

		lead, consent, outbox := sub.lead(d, ci)
		guards := models.Guards{LimitConfirmations: true, MaxConfirmations: cfg.ConfirmLimit}
		if cfg.DuplicateWindow > 0 {
			guards.DuplicateSince = lead.CreatedAt.Add(-cfg.DuplicateWindow)
		}
		created, err := d.Store.CreateLeadOnce(ctx, &lead, &consent, outbox, guards)
		if err != nil {
			rend.internalError(c, err)
			return
		}
		if created.ConfirmationDropped {
			d.Log.InfoContext(ctx, "confirmation email limit reached for an address; not sending another",
				"request_id", requestID(c))
		}
		if created.Duplicate {
			// A double click or a browser retry: the same answer again.
			in.spam.Note(models.SpamDuplicate)
			given = gaveConsent(lead)
		} else {
			d.Notify()
		}
		accepted(c, asJSON, next, submitResponse{ID: lead.PublicID, MarketingConsent: consentStatus(given, cfg.DoubleOptIn)})
	}
}

// gaveConsent reports whether an earlier lead's submission ticked the box:
// a duplicate is answered with the first one's consent, not its own.
func gaveConsent(l models.Lead) bool {
	return l.Consent != nil && l.Consent.Action == models.ActionGiven
}

// earlierSubmission finds the lead this submission repeats within the
// duplicate window, as the writer's duplicate detection would.
func earlierSubmission(ctx context.Context, d Deps, sub submission, ci clientInfo) (models.Lead, bool) {
	if d.Config.DuplicateWindow <= 0 {
		return models.Lead{}, false
	}
	lead, consent, _ := sub.lead(d, ci)
	earlier, err := d.Store.EarlierSubmission(ctx, consent.Subject, consent.Action, lead.Message,
		lead.CreatedAt.Add(-d.Config.DuplicateWindow))
	if err != nil {
		if !errors.Is(err, models.ErrNotFound) {
			d.Log.WarnContext(ctx, "cannot look for an earlier submission", "err", err)
		}
		return models.Lead{}, false
	}
	return earlier, true
}

// readSubmission reads and decodes the body, answering 413, 415 or 400
// itself when it cannot; ok reports whether to go on.
func readSubmission(c *gin.Context, rend *renderer) (submission, bool) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if isTooLarge(err) {
			rend.errorPage(c, http.StatusRequestEntityTooLarge, "Too much text",
				"The form is larger than 64 KiB. Please shorten your message and send it again.")
			return submission{}, false
		}
		rend.errorPage(c, http.StatusBadRequest, "Incomplete request", "The form did not arrive whole. Please send it again.")
		return submission{}, false
	}
	// The whole header, not c.ContentType(): gin's strips the parameters,
	// and with them the multipart boundary and the charset.
	sub, err := decodeSubmission(c.GetHeader("Content-Type"), body)
	switch {
	case errors.Is(err, errUnsupportedType):
		rend.errorPage(c, http.StatusUnsupportedMediaType, "Unsupported form",
			"Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json (UTF-8).")
		return submission{}, false
	case err != nil:
		rend.errorPage(c, http.StatusBadRequest, "Unreadable form", err.Error())
		return submission{}, false
	}
	return sub, true
}

// refuse answers a submission that cannot be accepted as it is: JSON with
// each field's problem, or the form again with every value kept.
func refuse(c *gin.Context, rend *renderer, in intake, sub submission, status int, errs map[string]string) {
	if wantsJSON(c.Request) {
		code := "validation"
		if status == http.StatusServiceUnavailable {
			code = "captcha_unavailable"
		}
		c.JSON(status, gin.H{"error": code, "fields": errs})
		return
	}
	page := in.page(rend, sub, errs)
	page.Unavailable = status == http.StatusServiceUnavailable
	rend.page(c, status, "contact", page)
}

// accepted answers a successful submission: 201 with the lead's id for
// JSON clients, 303 to the thank-you page (or an allowed _next) for forms.
func accepted(c *gin.Context, asJSON bool, next string, resp submitResponse) {
	if asJSON {
		c.JSON(http.StatusCreated, resp)
		return
	}
	if next == "" {
		next = "/contact/thanks"
	}
	c.Redirect(http.StatusSeeOther, next)
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

// clientInfo is what the request tells about the visitor, kept as proof of
// consent.
type clientInfo struct {
	IP, UserAgent, Referer string
	// ShownText is the consent wording the hosted form showed, from its
	// signed stamp; 0 (an external form, a JSON client): the configured one.
	ShownText int64
}

// lead turns a valid submission into the records to commit.
func (s *submission) lead(d Deps, ci clientInfo) (models.Lead, models.ConsentEvent, []models.OutboxMessage) {
	now := d.Now().UTC()
	page := cleanPageURL(s.Page)
	if page == "" {
		page = cleanPageURL(ci.Referer)
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
	textID := d.ConsentText.ID
	if ci.ShownText != 0 {
		textID = ci.ShownText
	}
	consent := models.ConsentEvent{
		Subject:       models.NormalizeEmail(lead.Email),
		Purpose:       models.PurposeMarketingEmail,
		At:            now,
		Action:        models.ActionNotGiven,
		Method:        models.MethodForm,
		IP:            ci.IP,
		UserAgent:     ci.UserAgent,
		PageURL:       page,
		ConsentTextID: &textID,
	}
	outbox := salesNotifications(d.Config.SalesTo, now)
	if given {
		consent.Action = models.ActionGiven
		if d.Config.DoubleOptIn {
			token := models.NewKey(20)
			expires := now.Add(d.Config.ConfirmTokenTTL)
			lead.ConfirmToken, lead.ConfirmExpiresAt = &token, &expires
			outbox = append(outbox, models.OutboxMessage{Kind: models.KindConsentConfirmation, CreatedAt: now})
		}
	}
	return lead, consent, outbox
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
