package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/match"
	"github.com/vigil-risk/vigil/runner/notify/route"
)

func (c *cli) routesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "Show the notification routing tree, and where an alert would go",
	}
	cmd.PersistentFlags().Bool("json", false, "print JSON")

	var labels, tags []string
	test := &cobra.Command{
		Use:   "test --labels NAME=VALUE,...",
		Short: "Print the receivers an alert with these labels would reach",
		Long: `Test routes an alert with the given labels through notify.route and prints the
routes that take it, in order: receiver, group, group_by and timers.

Alerts carry alertname and rule (the rule), severity, action, owner, entity,
entity_field, tags and env; rule and alertname stand for each other here, and
env defaults to the configured one. Give tags with --tags: the label holds
them as ",a,b,".`,
		Example: `  vigil routes test --labels severity=high,rule=card_testing,owner=payments-risk
  vigil routes test -l severity=critical -l action=block --tags card,velocity`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			tree, err := routeTree(cfg.Notify)
			if err != nil {
				return err
			}
			l, err := parseLabels(labels)
			if err != nil {
				return err
			}
			if len(tags) > 0 {
				l[alert.LabelTags] = alert.TagsValue(tags)
			}
			for a, b := range map[string]string{alert.LabelRule: alert.LabelAlertname, alert.LabelAlertname: alert.LabelRule} {
				if l[a] == "" && l[b] != "" {
					l[a] = l[b]
				}
			}
			if l["env"] == "" && cfg.Env != "" {
				l["env"] = cfg.Env
			}
			routes := tree.Match(l)
			if asJSON(cmd) {
				type out struct {
					Receiver       string            `json:"receiver"`
					Route          string            `json:"route"`
					GroupKey       string            `json:"group_key"`
					GroupLabels    map[string]string `json:"group_labels"`
					GroupWait      string            `json:"group_wait"`
					GroupInterval  string            `json:"group_interval"`
					RepeatInterval string            `json:"repeat_interval"`
				}
				var res []out
				for _, r := range routes {
					k, g := r.GroupKey(l)
					res = append(res, out{r.Receiver, r.ID(), k, g, r.GroupWait.String(), r.GroupInterval.String(), r.RepeatInterval.String()})
				}
				return writeJSON(c.stdout, map[string]any{"labels": l, "receivers": tree.Receivers(l), "routes": res})
			}
			fmt.Fprintf(c.stdout, "labels     %s\nreceivers  %s\n\n", l, strings.Join(tree.Receivers(l), ", "))
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RECEIVER\tGROUP\tGROUP_WAIT\tGROUP_INTERVAL\tREPEAT_INTERVAL\tROUTE")
			for _, r := range routes {
				_, g := r.GroupKey(l)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Receiver, g, r.GroupWait, r.GroupInterval, r.RepeatInterval, r.ID())
			}
			return tw.Flush()
		},
	}
	test.Flags().StringArrayVarP(&labels, "labels", "l", nil, "labels as name=value, comma-separated (repeatable)")
	test.Flags().StringSliceVar(&tags, "tags", nil, "the rule's tags, comma-separated")

	show := &cobra.Command{
		Use:   "show",
		Short: "Print the routing tree with what each route inherits",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			tree, err := routeTree(cfg.Notify)
			if err != nil {
				return err
			}
			writeTree(c.stdout, tree, 0)
			return nil
		},
	}
	cmd.AddCommand(test, show)
	return cmd
}

// parseLabels reads name=value pairs, several to an argument separated by
// commas.
func parseLabels(args []string) (alert.Labels, error) {
	l := alert.Labels{}
	for _, arg := range args {
		for pair := range strings.SplitSeq(arg, ",") {
			if strings.TrimSpace(pair) == "" {
				continue
			}
			name, value, ok := strings.Cut(pair, "=")
			name, value = strings.TrimSpace(name), strings.TrimSpace(value)
			if !ok {
				return nil, fmt.Errorf("--labels %q: want name=value", pair)
			}
			if _, err := match.New(match.Equal, name, ""); err != nil {
				return nil, fmt.Errorf("--labels %q: %w", pair, err)
			}
			l[name] = value
		}
	}
	return l, nil
}

func writeTree(w io.Writer, r *route.Route, depth int) {
	indent := strings.Repeat("  ", depth)
	gb := strings.Join(r.GroupBy, ",")
	if r.GroupByAll {
		gb = "..."
	}
	cont := ""
	if r.Continue {
		cont = " continue"
	}
	fmt.Fprintf(w, "%s%s → %s  group_by [%s]  wait %s  interval %s  repeat %s%s\n", indent, r.Matchers, r.Receiver, gb,
		r.GroupWait, r.GroupInterval, r.RepeatInterval, cont)
	for _, c := range r.Routes {
		writeTree(w, c, depth+1)
	}
}
