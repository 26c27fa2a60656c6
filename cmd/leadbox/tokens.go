package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
)

const (
	tokenCreateUsage = "leadbox token create --role ROLE --name NAME"
	tokenRevokeUsage = "leadbox token revoke NAME"
)

// tokenCmd manages API tokens: `leadbox token create --role ROLE --name
// NAME`, `leadbox token list`, `leadbox token revoke NAME`. What was typed
// is checked before the database is opened.
func tokenCmd(ctx context.Context, getenv func(string) string, args []string, stdout io.Writer, now time.Time) error {
	if len(args) == 0 {
		return badInput("token: say create, list or revoke (usage: %s; leadbox token list; %s)", tokenCreateUsage, tokenRevokeUsage)
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "create":
		return tokenCreate(ctx, getenv, rest, stdout, now)
	case "list":
		if len(rest) != 0 {
			return badInput("token list takes no arguments")
		}
		return withReadOnlyStore(ctx, getenv, func(_ config.Config, store models.Store) error {
			return tokenList(ctx, store, stdout)
		})
	case "revoke":
		pos, err := parseArgs(flag.NewFlagSet("token revoke", flag.ContinueOnError), rest, tokenRevokeUsage)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return badInput("token revoke: give one NAME (usage: %s)", tokenRevokeUsage)
		}
		name := pos[0]
		return withStore(ctx, getenv, func(_ config.Config, store models.Store) error {
			err := store.RevokeToken(ctx, name, models.Origin{Actor: models.CLIActor, At: now})
			if errors.Is(err, models.ErrNotFound) {
				return badInput("token revoke: there is no token named %q (see leadbox token list)", name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Revoked token %s: it is refused from now on.\n", name)
			return nil
		})
	}
	return badInput("token: unknown sub-command %q: say create, list or revoke", args[0])
}

// tokenCreate is `leadbox token create --role ROLE --name NAME`. It
// prints the token and nothing else, so that a script can capture it
// (TOKEN=$(leadbox token create ...)); the token cannot be shown again,
// because only its hash is stored.
func tokenCreate(ctx context.Context, getenv func(string) string, args []string, stdout io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	roleName := fs.String("role", "", "admin, sales or marketing")
	name := fs.String("name", "", "what the token is for, such as crm")
	pos, err := parseArgs(fs, args, tokenCreateUsage)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return badInput("token create: unexpected %q (usage: %s)", pos[0], tokenCreateUsage)
	case *roleName == "":
		return badInput("token create: --role is required: admin, sales or marketing")
	case *name == "":
		return badInput("token create: --name is required (what the token is for, such as crm)")
	}
	role, err := models.ParseRole(*roleName)
	if err != nil {
		return badInput("token create: %v", err)
	}
	if err := models.ValidTokenName(*name); err != nil {
		return badInput("token create: %v", err)
	}
	return withStore(ctx, getenv, func(_ config.Config, store models.Store) error {
		token := access.NewToken()
		t := models.APIToken{Name: *name, Role: role, Hash: access.HashSecret(token), CreatedAt: now.UTC()}
		err := store.CreateToken(ctx, &t, models.Origin{Actor: models.CLIActor, At: now})
		if errors.Is(err, models.ErrDuplicate) {
			return badInput("token create: there is already a token named %q (revoke it first, or choose another name)", *name)
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, token)
		return err
	})
}

// tokenList prints every token, never the token or its hash: `leadbox
// token list`.
func tokenList(ctx context.Context, store models.Store, stdout io.Writer) error {
	ts, err := store.Tokens(ctx)
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		fmt.Fprintln(stdout, "No API tokens. Make one with: "+tokenCreateUsage)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED (UTC)\tLAST USED (UTC)")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedAt.UTC().Format(time.RFC3339), timeOrNever(t.LastUsedAt))
	}
	return tw.Flush()
}
