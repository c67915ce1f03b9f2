package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify"
)

func (c *cli) notificationsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notifications",
		Short: "List the notification outbox: pending, delivered, failed (dead letters), merged, rerouted",
	}
	cmd.PersistentFlags().String("db", "", "SQLite file (store.path)")
	cmd.PersistentFlags().Bool("json", false, "print JSON")

	var f notify.Filter
	var status string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List notifications, newest first",
		Example: "  vigil notifications list --status failed",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.Status = notify.Status(status)
			return c.withOutbox(cmd, func(ctx context.Context, o *notify.Outbox) error {
				ns, err := o.List(ctx, f)
				if err != nil {
					return err
				}
				if asJSON(cmd) {
					return writeJSON(c.stdout, map[string]any{"notifications": nonNil(ns)})
				}
				writeNotificationTable(c.stdout, ns)
				return nil
			})
		},
	}
	list.Flags().StringVar(&status, "status", "", "pending, delivered, failed, merged or rerouted")
	list.Flags().StringVar(&f.Receiver, "receiver", "", "only this receiver")
	list.Flags().IntVar(&f.Limit, "limit", 50, "at most this many")
	list.Flags().Int64Var(&f.Before, "before", 0, "only notifications with a smaller id (the next page)")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a notification with its message",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return fmt.Errorf("notification id %q: want a positive integer", args[0])
			}
			return c.withOutbox(cmd, func(ctx context.Context, o *notify.Outbox) error {
				n, err := o.Get(ctx, id)
				if err != nil {
					return err
				}
				return writeJSON(c.stdout, n)
			})
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

// withOutbox opens the configured store's outbox for one command.
func (c *cli) withOutbox(cmd *cobra.Command, fn func(context.Context, *notify.Outbox) error) error {
	return c.withStore(cmd, func(ctx context.Context, _ config.Config, db *sql.DB) error {
		o, err := notify.OpenOutbox(ctx, db)
		if err != nil {
			return err
		}
		return fn(ctx, o)
	})
}

func writeNotificationTable(w io.Writer, ns []notify.Notification) {
	if len(ns) == 0 {
		fmt.Fprintln(w, "no notifications")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tRECEIVER\tKIND\tALERTS\tDIGEST\tPARTS\tATTEMPTS\tCREATED\tLAST ERROR")
	for _, n := range ns {
		status := string(n.Status)
		if n.CarriedBy != 0 {
			status += " → " + strconv.FormatInt(n.CarriedBy, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d/%d\t%d\t%s\t%s\n", n.ID, status, n.Receiver, n.Kind, n.Alerts, n.Digest,
			n.PartsSent, n.Parts, n.Attempts, n.CreatedAt.UTC().Format(time.RFC3339), truncate(n.LastError, 80))
	}
	tw.Flush()
}
