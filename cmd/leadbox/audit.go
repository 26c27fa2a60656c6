package main

import (
	"context"
	"fmt"
	"io"

	"github.com/leadbox/leadbox/config"
	"github.com/leadbox/leadbox/models"
)

// auditCmd is `leadbox audit verify`: it walks the audit log's hash chain
// and prints "audit log intact: N entries", or fails (exit status 1)
// naming the first entry that does not match, one changed or deleted in
// the database behind Leadbox's back.
func auditCmd(ctx context.Context, getenv func(string) string, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "verify" {
		return badInput("audit: the only sub-command is verify (usage: leadbox audit verify)")
	}
	return withReadOnlyStore(ctx, getenv, func(_ config.Config, store models.Store) error {
		c, err := store.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		if !c.Intact() {
			return fmt.Errorf("audit log NOT intact: entry %d does not match: %s", c.FirstBad, c.Problem)
		}
		_, err = fmt.Fprintf(stdout, "audit log intact: %d entries\n", c.Entries)
		return err
	})
}
