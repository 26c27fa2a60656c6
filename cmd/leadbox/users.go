package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leadbox/leadbox/access"
	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
)

const (
	userAddUsage    = "leadbox user add EMAIL --role ROLE, with the password as the first line of stdin"
	userRemoveUsage = "leadbox user remove EMAIL"
)

// userCmd manages the people who sign in to the inbox: `leadbox user add
// EMAIL --role ROLE`, `leadbox user list`, `leadbox user remove EMAIL`.
// What was typed is checked before the database is opened, so bad input
// is reported as such (exit status 2) wherever the command runs.
func userCmd(ctx context.Context, getenv func(string) string, args []string, stdin io.Reader, stdout io.Writer, now time.Time) error {
	if len(args) == 0 {
		return badInput("user: say add, list or remove (usage: %s; leadbox user list; %s)", userAddUsage, userRemoveUsage)
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "add":
		return userAdd(ctx, getenv, rest, stdin, stdout, now)
	case "list":
		if len(rest) != 0 {
			return badInput("user list takes no arguments")
		}
		return withReadOnlyStore(ctx, getenv, func(_ config.Config, store models.Store) error {
			return userList(ctx, store, stdout)
		})
	case "remove":
		pos, err := parseArgs(flag.NewFlagSet("user remove", flag.ContinueOnError), rest, userRemoveUsage)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return badInput("user remove: give one EMAIL (usage: %s)", userRemoveUsage)
		}
		email, err := userEmail("user remove", pos[0])
		if err != nil {
			return err
		}
		return withStore(ctx, getenv, func(_ config.Config, store models.Store) error {
			err := store.RemoveUser(ctx, email, models.Origin{Actor: models.CLIActor, At: now})
			if errors.Is(err, models.ErrNotFound) {
				return badInput("user remove: there is no user %s", email)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Removed user %s; their sessions are ended.\n", email)
			return nil
		})
	}
	return badInput("user: unknown sub-command %q: say add, list or remove", args[0])
}

// userAdd is `leadbox user add EMAIL --role ROLE`. The password comes
// from stdin, never from an argument: arguments show in `ps` and in shell
// history.
func userAdd(ctx context.Context, getenv func(string) string, args []string, stdin io.Reader, stdout io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	roleName := fs.String("role", "", "admin, sales or marketing")
	pos, err := parseArgs(fs, args, userAddUsage)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("user add: give one EMAIL (usage: %s)", userAddUsage)
	}
	if *roleName == "" {
		return badInput("user add: --role is required: admin, sales or marketing")
	}
	role, err := models.ParseRole(*roleName)
	if err != nil {
		return badInput("user add: %v", err)
	}
	email, err := userEmail("user add", pos[0])
	if err != nil {
		return err
	}
	password, err := firstLine(stdin)
	if err != nil {
		return fmt.Errorf("user add: read the password from stdin: %w", err)
	}
	if password == "" {
		return badInput("user add: no password: give it as the first line of stdin")
	}
	if err := access.ValidatePassword(password); err != nil {
		return badInput("user add: %v", err)
	}
	hash, err := access.HashPassword(password)
	if err != nil {
		return err
	}
	return withStore(ctx, getenv, func(_ config.Config, store models.Store) error {
		u := models.User{Email: email, Role: role, PasswordHash: hash, CreatedAt: now.UTC()}
		err := store.AddUser(ctx, &u, models.Origin{Actor: models.CLIActor, At: now})
		if errors.Is(err, models.ErrDuplicate) {
			return badInput("user add: there is already a user %s", email)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added user %s with role %s.\n", email, role)
		return nil
	})
}

// userEmail returns the normalised form of the address an operator typed
// (or pasted as "Name <addr>"), the form users are kept and looked up in.
func userEmail(cmd, arg string) (string, error) {
	email, err := subjectOf(arg)
	if err != nil {
		return "", badInput("%s: %q is not an email address", cmd, arg)
	}
	return email, nil
}

// firstLine reads the first line of r, without its line ending ("\n" or
// "\r\n"); a last line without one counts too.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// userList prints every user: `leadbox user list`.
func userList(ctx context.Context, store models.Store, stdout io.Writer) error {
	us, err := store.Users(ctx)
	if err != nil {
		return err
	}
	if len(us) == 0 {
		fmt.Fprintln(stdout, "No users. Add one with: leadbox user add EMAIL --role ROLE")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tROLE\tCREATED (UTC)\tLAST SIGN-IN (UTC)")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Email, u.Role, u.CreatedAt.UTC().Format(time.RFC3339), timeOrNever(u.LastSignInAt))
	}
	return tw.Flush()
}

// timeOrNever formats an optional time for a listing.
func timeOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
