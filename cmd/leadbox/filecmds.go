package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/leadbox/leadbox/config"
)

const checkDBUsage = "leadbox check-db [--full]"

// checkDBShown bounds the problems printed: a badly damaged file can have
// thousands, and the first say what is wrong.
const checkDBShown = 20

// checkDBCmd is `leadbox check-db [--full]`: SQLite's quick check (or,
// with --full, its integrity check, which also compares every index with
// its table) on the database, opened read-only and not migrated, so a
// damaged file stays exactly as it is for recovery.
func checkDBCmd(ctx context.Context, getenv func(string) string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check-db", flag.ContinueOnError)
	full := fs.Bool("full", false, "also compare every index with its table (slower)")
	pos, err := parseArgs(fs, args, checkDBUsage)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return badInput("check-db takes no arguments (usage: %s)", checkDBUsage)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	check := "quick_check"
	if *full {
		check = "integrity_check"
	}
	problems, err := checkDatabase(ctx, cfg.Database, *full)
	if err != nil {
		return err
	}
	if len(problems) == 0 {
		_, err := fmt.Fprintf(stdout, "database ok (%s): %s\n", check, cfg.Database)
		return err
	}
	fmt.Fprintf(stdout, "database damaged (%s found %d problems): %s\n", check, len(problems), cfg.Database)
	for i, p := range problems {
		if i == checkDBShown {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(problems)-checkDBShown)
			break
		}
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	fmt.Fprintln(stdout, "Stop the server, keep a copy of the file as it is, then restore the last backup, or recover what can be read: see docs/operations.md, \"A damaged database\".")
	return fmt.Errorf("check-db: the database is damaged")
}

// backupCmd is `leadbox backup FILE`: a consistent copy of the database in
// a new file, while the server runs.
func backupCmd(ctx context.Context, getenv func(string) string, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return badInput("usage: leadbox backup FILE")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if err := backupDatabase(ctx, cfg.Database, args[0]); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "backed up to %s\n", args[0])
	return err
}
