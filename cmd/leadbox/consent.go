package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"text/tabwriter"
	"time"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
)

// consentCmd prints a person's whole consent history, the proof an operator
// shows a regulator: `leadbox consent EMAIL`.
func consentCmd(ctx context.Context, cfg config.Config, store models.Store, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: leadbox consent EMAIL")
	}
	subject, err := subjectOf(args[0])
	if err != nil {
		return err
	}
	evs, err := store.ConsentHistory(ctx, subject)
	if err != nil {
		return err
	}
	state := models.ComputeMarketingState(evs, cfg.DoubleOptIn)
	fmt.Fprintf(stdout, "Consent history of %s (purpose: %s)\n", subject, models.PurposeMarketingEmail)
	fmt.Fprintf(stdout, "Current state: %s (may receive marketing: %s)\n\n", state, yesNo(state.MayMarket()))
	if len(evs) == 0 {
		fmt.Fprintln(stdout, "No consent events recorded for this address.")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTIME (UTC)\tACTION\tMETHOD\tIP\tLEAD\tWORDING")
	for i, e := range evs {
		lead := "-"
		if e.LeadID != nil {
			lead = fmt.Sprint(*e.LeadID)
		}
		wording := "-"
		if e.ConsentText != nil {
			wording = "sha256:" + e.ConsentText.Hash[:12]
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, e.At.UTC().Format(time.RFC3339),
			e.Action, e.Method, orDash(e.IP), lead, wording)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	seen := map[int64]bool{}
	for i, e := range evs {
		fmt.Fprintf(stdout, "Event %d: user agent %q, page %q\n", i+1, e.UserAgent, e.PageURL)
		if e.ConsentText != nil && !seen[e.ConsentText.ID] {
			seen[e.ConsentText.ID] = true
			fmt.Fprintf(stdout, "  wording sha256:%s (first used %s): %q\n", e.ConsentText.Hash,
				e.ConsentText.CreatedAt.UTC().Format(time.RFC3339), e.ConsentText.Text)
		}
	}
	return nil
}

// optOutCmd records an operator's withdrawal, for a person who asked by
// phone or letter: `leadbox optout EMAIL`.
func optOutCmd(ctx context.Context, store models.Store, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: leadbox optout EMAIL")
	}
	subject, err := subjectOf(args[0])
	if err != nil {
		return err
	}
	done, err := store.Withdraw(ctx, models.ConsentEvent{
		Subject: subject, At: time.Now().UTC(), Method: models.MethodOperator,
	})
	if err != nil {
		return err
	}
	if done {
		fmt.Fprintf(stdout, "%s is now opted out of marketing email.\n", subject)
	} else {
		fmt.Fprintf(stdout, "%s was already opted out; nothing changed.\n", subject)
	}
	return nil
}

// subjectOf returns the key under which the consent of the address an
// operator typed or pasted is kept. A pasted "Name <addr>" counts as addr:
// an opt-out filed under the whole string would match nobody.
func subjectOf(arg string) (string, error) {
	addr, err := mail.ParseAddress(arg)
	if err != nil {
		return "", fmt.Errorf("%q is not an email address", arg)
	}
	return models.NormalizeEmail(addr.Address), nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
