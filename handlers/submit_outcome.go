package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// outcome is what became of a submission: the reply the client gets, and
// what the handler does besides. The pipeline decides it without touching
// HTTP; contactSubmit carries it out.
type outcome struct {
	reply reply
	// token is what becomes of the client's rate-limit token.
	token tokenUse
	// spam is why the submission counts as spam (dropped by a trap, or a
	// repeat answered without storing anything); "" when it does not.
	spam string
	// fresh: a new lead was committed, so the mail sender has work.
	fresh bool
	// storageErr: the database could not keep the lead (see
	// storageUnavailable).
	storageErr error
}

// tokenUse says whether a submission spends its client's rate-limit token.
type tokenUse int

const (
	// tokenSpent: the submission was accepted, or answered as if it were,
	// or it cost a call to the CAPTCHA provider (a failed check is a bot's
	// more likely than a typo). It is the zero value, so that an outcome
	// that does not say counts against a flood.
	tokenSpent tokenUse = iota
	// tokenReturned: refused for something the visitor can fix (a typo, a
	// body too large) or for our own failure. Someone fixing a form must
	// not be locked out.
	tokenReturned
)

// countedAs marks the outcome as spam for the counters.
func (o outcome) countedAs(reason string) outcome {
	o.spam = reason
	return o
}

// replyKind is the shape of the answer to a submission.
type replyKind int

const (
	replyAccepted   replyKind = iota + 1 // 201 with the id, or 303 to the thank-you page
	replyRefused                         // 422 or 503 naming each field's problem; for forms the form again
	replyUnreadable                      // 400, 413 or 415: the body is no submission at all
	replyFailed                          // 500: our fault; the cause goes to the log only
)

// reply is the answer to a submission, as data; answer writes it.
type reply struct {
	kind   replyKind
	status int // of replyRefused and replyUnreadable

	accepted submitResponse
	next     string // an allowed _next; "" for the thank-you page

	fields map[string]string // replyRefused: each field's problem
	form   submission        // replyRefused: what the visitor typed, shown again
	// code is a refusal's JSON "error" ("validation" when empty), and
	// retryAfter, when set, its Retry-After in seconds.
	code       string
	retryAfter int

	title, message string // replyUnreadable: the error page
	err            error  // replyFailed: the cause
}

// success is the answer to an accepted submission (or one answered as if
// it were): the lead's public id, where its marketing consent stands, and
// where a form goes next.
func (p formPolicy) success(id string, given bool, next string) outcome {
	return outcome{reply: reply{
		kind:     replyAccepted,
		accepted: submitResponse{ID: id, MarketingConsent: consentStatus(given, p.doubleOptIn)},
		next:     next,
	}}
}

// decoy answers a submission dropped by a bot trap. Bots must not learn
// that a trap caught them: the answer is exactly a success's, with an id
// that names no lead, and nothing is stored or sent.
func (p formPolicy) decoy(given bool, next string) outcome {
	return p.success(models.NewKey(16), given, next)
}

// refused answers a submission with fields to fix; the token is returned.
func refused(status int, fields map[string]string, form submission) outcome {
	return outcome{
		reply: reply{kind: replyRefused, status: status, fields: fields, form: form},
		token: tokenReturned,
	}
}

// captchaRefused answers a failed CAPTCHA. The token stays spent: each try
// costs a call to the provider.
func captchaRefused(form submission) outcome {
	o := refused(http.StatusUnprocessableEntity,
		map[string]string{"captcha": "Please complete the check that you are not a robot, then send the form again."}, form)
	o.token = tokenSpent
	return o
}

// statusClientClosedRequest is the status logged for a request whose
// client went away first (nginx's 499; no client reads it).
const statusClientClosedRequest = 499

// storageRetryAfter is how long a visitor is asked to wait when leads
// cannot be stored: long enough for an operator's fix, short enough that
// the visitor is still there.
const storageRetryAfter = 60

// storageUnavailable answers a submission the database could not keep (a
// full disk, a read-only file): 503 with Retry-After, nothing saved, and
// for a form every typed value kept, so that the visitor can send it again
// in a minute. It is our failure, so the token is returned; storageErr
// lets the handler log the episode once.
func storageUnavailable(form submission, err error) outcome {
	o := refused(http.StatusServiceUnavailable,
		map[string]string{"form": "We could not take your message right now, and nothing was saved. Please send it again in a minute; everything you typed is still here."}, form)
	o.reply.code, o.reply.retryAfter = "unavailable", storageRetryAfter
	o.storageErr = err
	return o
}

// captchaUnavailable answers when the CAPTCHA provider could not be asked.
// The token stays spent: each retry calls the provider again.
func captchaUnavailable(form submission) outcome {
	o := refused(http.StatusServiceUnavailable,
		map[string]string{"captcha": "We could not check that you are not a robot just now. Please send the form again in a minute."}, form)
	o.token = tokenSpent
	return o
}

// unreadable answers a body that is no submission at all, from decode's
// error; the token is returned.
func unreadable(err error) outcome {
	r := reply{kind: replyUnreadable, status: http.StatusBadRequest,
		title: "Incomplete request", message: "The form did not arrive whole. Please send it again."}
	var bad *bodyError
	switch {
	case isTooLarge(err):
		r.status, r.title, r.message = http.StatusRequestEntityTooLarge, "Too much text",
			"The form is larger than 64 KiB. Please shorten your message and send it again."
	case errors.Is(err, errUnsupportedType):
		r.status, r.title, r.message = http.StatusUnsupportedMediaType, "Unsupported form",
			"Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json (UTF-8)."
	case errors.As(err, &bad):
		r.title, r.message = "Unreadable form", bad.msg
	}
	return outcome{reply: r, token: tokenReturned}
}

// failed answers our own failure; the token is returned.
func failed(err error) outcome {
	return outcome{reply: reply{kind: replyFailed, err: err}, token: tokenReturned}
}

// answer writes a submission's reply: JSON for JSON clients, and for HTML
// forms a redirect, the form again, or an error page.
func answer(c *gin.Context, rend *renderer, in intake, r reply) {
	asJSON := wantsJSON(c.Request)
	switch r.kind {
	case replyAccepted:
		if asJSON {
			c.JSON(http.StatusCreated, r.accepted)
			return
		}
		next := r.next
		if next == "" {
			next = "/contact/thanks"
		}
		c.Redirect(http.StatusSeeOther, next)
	case replyRefused:
		unavailable := r.status == http.StatusServiceUnavailable
		if r.retryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(r.retryAfter))
		}
		if asJSON {
			code := r.code
			switch {
			case code != "":
			case unavailable:
				code = "captcha_unavailable"
			default:
				code = "validation"
			}
			c.JSON(r.status, gin.H{"error": code, "fields": r.fields})
			return
		}
		page := in.page(rend, r.form, r.fields)
		page.Unavailable = unavailable
		rend.page(c, r.status, "contact", page)
	case replyUnreadable:
		rend.errorPage(c, r.status, r.title, r.message)
	case replyFailed:
		if errors.Is(r.err, context.Canceled) && c.Request.Context().Err() != nil {
			// The client went away before the answer (a closed tab, a
			// proxy's timeout): not a fault of ours, and nothing was
			// stored. 499 is what proxies log for it.
			rend.log.InfoContext(c.Request.Context(), "the client closed the request before it was answered",
				"request_id", requestID(c), "route", c.FullPath())
			c.AbortWithStatus(statusClientClosedRequest)
			return
		}
		rend.internalError(c, r.err)
	default:
		rend.internalError(c, fmt.Errorf("a submission's outcome has no reply (kind %d)", r.kind))
	}
}
