package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// auditCmd is `vigil audit verify|export`: the alert events' hash chain.
func (c *cli) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the tamper-evident audit log of alert handling",
		Long: `Every change to an alert is an event in alert_events carrying the SHA-256 of the
event before it. verify walks the chain and names the first event that was
edited, deleted or reordered; export writes the events as JSONL (with their
hashes) for archiving elsewhere. Keep the head hash verify prints somewhere
else to notice, later, that the newest events were removed.`,
	}
	cmd.PersistentFlags().String("store", "", "SQLite file (store.path)")

	verify := &cobra.Command{
		Use:   "verify",
		Short: `Check the audit chain: "ok: N events, head HASH" (exit 0), or the first bad event (exit 1)`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAuditDB(cmd, func(db *sql.DB) error {
				rep, err := alertsqlite.VerifyChain(cmd.Context(), db)
				var ce *alert.ChainError
				if errors.As(err, &ce) {
					fmt.Fprintf(c.stdout, "FAIL: %v\n", ce)
					fmt.Fprintf(c.stdout, "%d events verified before it\n", rep.Events)
					return exitError{code: 1}
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "ok: %d events, head %s\n", rep.Events, headText(rep))
				return nil
			})
		},
	}

	var out string
	var after int64
	exp := &cobra.Command{
		Use:   "export",
		Short: "Write the audit events as JSONL (to --out, or standard output)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if after < 0 {
				return fmt.Errorf("--after %d: want an event id, or 0 for all", after)
			}
			return c.withAuditDB(cmd, func(db *sql.DB) error {
				w := c.stdout
				if out != "" {
					f, err := os.Create(out)
					if err != nil {
						return fmt.Errorf("--out: %w", err)
					}
					defer f.Close()
					w = f
				}
				n, err := exportEvents(cmd, db, w, after)
				if err != nil {
					return err
				}
				if f, ok := w.(*os.File); ok && out != "" {
					if err := f.Close(); err != nil {
						return fmt.Errorf("--out: %w", err)
					}
					fmt.Fprintf(c.stderr, "wrote %d events to %s\n", n, out)
				}
				return nil
			})
		},
	}
	exp.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	exp.Flags().Int64Var(&after, "after", 0, "only events after this id (to append to an earlier export)")
	cmd.AddCommand(verify, exp)
	return cmd
}

func exportEvents(cmd *cobra.Command, db *sql.DB, w io.Writer, after int64) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	err := alertsqlite.EachEvent(cmd.Context(), db, after, func(e *alert.Event) error {
		n++
		return enc.Encode(e)
	})
	if err != nil {
		return n, err
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write events: %w", err)
	}
	return n, nil
}

func headText(rep alertsqlite.ChainReport) string {
	if rep.Events == 0 {
		return "(empty)"
	}
	return fmt.Sprintf("%s (event %d)", rep.LastHash, rep.LastID)
}

// withAuditDB opens the configured store for reading the chain. It does not
// open the alert store (which migrates and writes): verifying must not
// change what it verifies.
func (c *cli) withAuditDB(cmd *cobra.Command, fn func(*sql.DB) error) error {
	cfg, err := c.loadConfig(cmd.Flags(), shortcut{"store", "store.path"})
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.Store.Path); err != nil {
		return fmt.Errorf("store.path: %w", err)
	}
	db, err := sqldb.Open(cmd.Context(), cfg.Store.Path)
	if err != nil {
		return fmt.Errorf("store.path: %w", err)
	}
	defer db.Close()
	return fn(db)
}
