// Package export turns handled alerts back into test material: a labelled
// dataset (JSONL, one line per kept record of each alert, with a fraud
// column from the analyst's resolution) and scenario fixtures in the format
// `vigil test --fixtures` replays (runner/check).
//
// A fixture must pass on today's policy, or `vigil test` goes red the day
// it is exported. So each fixture's expect is what the policy decides now —
// computed by replaying the alert's records exactly as check does, from
// empty feature state — and the analyst's label rides along in comments.
// The workflow: a false positive is exported with the rule in its hits;
// once the rule is fixed, edit that expect (drop the rule) and the fixture
// becomes the regression case that keeps the fix.
package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

// Files written under Options.Out.
const (
	DatasetFile = "labels.jsonl"
	FixturesDir = "fixtures"
)

// Options say what to export and against which policy.
type Options struct {
	Out    string         // directory; created if missing
	Status alert.Status   // default resolved
	Since  time.Time      // only alerts raised at or after (wall time); zero: all
	Rule   string         // only this rule; empty: all
	Engine *policy.Engine // the policy the fixtures' expectations come from (required)
	Record record.Options // the deployment's record options, as `vigil test` applies them
}

// Summary is what Export wrote.
type Summary struct {
	Alerts     int    `json:"alerts"`     // alerts looked at
	Labelled   int    `json:"labelled"`   // alerts in the dataset (true or false positive, benign)
	Duplicates int    `json:"duplicates"` // skipped: a duplicate says nothing
	NoRecords  int    `json:"no_records"` // skipped: no record kept
	Lines      int    `json:"lines"`      // dataset lines
	Fixtures   int    `json:"fixtures"`   // fixture files
	Records    int    `json:"records"`    // fixture records
	Dataset    string `json:"dataset"`
	FixtureDir string `json:"fixture_dir"`
}

// Line is one line of the labelled dataset: a record an alert kept, and
// the label its resolution gives it. A record that hit two rules appears
// once per alert, each with its own label.
type Line struct {
	AlertID    int64            `json:"alert_id"`
	Rule       string           `json:"rule"`
	Entity     decision.Entity  `json:"entity"`
	Resolution alert.Resolution `json:"resolution"`
	Fraud      bool             `json:"fraud"` // the label: true_positive → true; false_positive, benign → false
	ResolvedBy string           `json:"resolved_by,omitempty"`
	ResolvedAt *time.Time       `json:"resolved_at,omitempty"`
	RecordID   string           `json:"record_id"`
	Time       time.Time        `json:"ts"`
	Record     json.RawMessage  `json:"record"`
}

// Export writes the dataset and the fixtures for the alerts f selects.
// Files of an earlier export in the same directory are replaced.
func Export(ctx context.Context, svc *alert.Service, o Options) (Summary, error) {
	sum := Summary{Dataset: filepath.Join(o.Out, DatasetFile), FixtureDir: filepath.Join(o.Out, FixturesDir)}
	switch {
	case o.Out == "":
		return sum, errors.New("export: out: a directory is required")
	case o.Engine == nil:
		return sum, errors.New("export: the policy engine is required (fixtures expect what it decides)")
	}
	if o.Status == "" {
		o.Status = alert.Resolved
	}
	alerts, err := selectAlerts(ctx, svc, alert.Filter{Status: o.Status, Since: o.Since, Rule: o.Rule})
	if err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	if err := os.MkdirAll(sum.FixtureDir, 0o755); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	var dataset bytes.Buffer
	enc := json.NewEncoder(&dataset)
	enc.SetEscapeHTML(false)
	for i := range alerts {
		a := &alerts[i]
		sum.Alerts++
		if a.Resolution == alert.Duplicate {
			sum.Duplicates++
			continue
		}
		recs, err := svc.Records(ctx, a.ID)
		if err != nil {
			return sum, fmt.Errorf("export: alert %d: %w", a.ID, err)
		}
		if len(recs) == 0 {
			sum.NoRecords++
			continue
		}
		if fraud, ok := a.Resolution.Fraud(); ok {
			sum.Labelled++
			for _, r := range recs {
				l := Line{AlertID: a.ID, Rule: a.Rule, Entity: a.Entity, Resolution: a.Resolution, Fraud: fraud,
					ResolvedBy: a.ResolvedBy, ResolvedAt: a.ResolvedAt, RecordID: r.RecordID, Time: r.Time.UTC(), Record: r.Fields}
				if err := enc.Encode(l); err != nil {
					return sum, fmt.Errorf("export: alert %d record %s: %w", a.ID, r.RecordID, err)
				}
				sum.Lines++
			}
		}
		name := fixtureName(a)
		text, err := fixture(ctx, o, a, recs, name)
		if err != nil {
			return sum, fmt.Errorf("export: alert %d: %w", a.ID, err)
		}
		if err := os.WriteFile(filepath.Join(sum.FixtureDir, name), text, 0o644); err != nil {
			return sum, fmt.Errorf("export: %w", err)
		}
		sum.Fixtures++
		sum.Records += len(recs)
	}
	if err := os.WriteFile(sum.Dataset, dataset.Bytes(), 0o644); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	return sum, nil
}

// selectAlerts pages through the alerts f selects, oldest first.
func selectAlerts(ctx context.Context, svc *alert.Service, f alert.Filter) ([]alert.Alert, error) {
	f.Limit = alert.MaxLimit
	var out []alert.Alert
	for {
		page, err := svc.List(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	slices.Reverse(out)
	return out, nil
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

func fixtureName(a *alert.Alert) string {
	return fmt.Sprintf("alert-%06d-%s-%s.yaml", a.ID, unsafeName.ReplaceAllString(a.Rule, "_"), a.Resolution)
}

// fixture renders one alert as a scenario: its kept records in order, each
// expecting what the policy decides for it today when replayed the way
// check replays the file named name.
func fixture(ctx context.Context, o Options, a *alert.Alert, recs []alert.AlertRecord, name string) ([]byte, error) {
	pol := o.Engine.Current()
	// The same fresh pipeline, context and source as check.runFixtures.
	feats, err := feature.NewEngine(pol.Features, nil, feature.Options{})
	if err != nil {
		return nil, err
	}
	pipe, err := pipeline.New(o.Engine, pipeline.Options{Env: "test", RunnerVersion: "check", Record: o.Record, Features: feats})
	if err != nil {
		return nil, err
	}
	source := "fixture:" + name
	inCtx := map[string]any{"env": "test", "source": source}

	var b bytes.Buffer
	label := string(a.Resolution)
	if a.ResolvedBy != "" {
		label += " by " + a.ResolvedBy
	}
	if a.ResolvedAt != nil {
		label += " at " + a.ResolvedAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "# Exported by `vigil alerts export` from alert %d (rule %s, %s).\n", a.ID, a.Rule, a.Entity)
	fmt.Fprintf(&b, "# Analyst label: %s.\n", oneLine(label))
	if a.Comment != "" {
		fmt.Fprintf(&b, "# Comment: %s\n", oneLine(a.Comment))
	}
	fmt.Fprintf(&b, "# Each expect is what policy revision %s decides today, so this passes as exported.\n", pol.Revision)
	switch a.Resolution {
	case alert.FalsePositive, alert.Benign:
		fmt.Fprintf(&b, "# The analyst says %s should not have fired: once the rule is fixed, remove it from\n", a.Rule)
		fmt.Fprintf(&b, "# the hits (and correct the action) below, and this file is the regression case.\n")
	case alert.TruePositive:
		fmt.Fprintf(&b, "# The analyst confirmed fraud: keep %s in the hits below, so no change loses it.\n", a.Rule)
	}
	fmt.Fprintf(&b, "name: %s\n", jsonString(fmt.Sprintf("alert %d: %s on %s, labelled %s", a.ID, a.Rule, a.Entity, a.Resolution)))
	fmt.Fprintf(&b, "description: %s\n", jsonString(oneLine(a.Title+" — "+a.Reason)))
	fmt.Fprintf(&b, "records:\n")
	for _, r := range recs {
		var fields map[string]any
		if err := json.Unmarshal(r.Fields, &fields); err != nil {
			return nil, fmt.Errorf("record %s: %w", r.RecordID, err)
		}
		rec, errs := pipe.Normalizer().Normalize(maps.Clone(fields))
		if len(errs) > 0 {
			return nil, fmt.Errorf("record %s no longer fits the schema: %v", r.RecordID, errs[0])
		}
		d, err := pipe.DecideWithContext(ctx, rec, source, inCtx)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", r.RecordID, err)
		}
		hits, shadow := ruleNames(d.Hits), ruleNames(d.ShadowHits)
		note := "fires on replay"
		if !slices.Contains(hits, a.Rule) {
			// A changed rule, or a feature that needs earlier records the
			// alert did not keep (they did not hit).
			note = "does not fire on replay today"
		}
		line, err := json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", r.RecordID, err)
		}
		expect, err := json.Marshal(map[string]any{"action": d.Action, "hits": hits, "shadow_hits": shadow})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "  # %s: labelled %s; %s %s\n", r.RecordID, a.Resolution, a.Rule, note)
		fmt.Fprintf(&b, "  - record: %s\n    expect: %s\n", line, expect)
	}
	return b.Bytes(), nil
}

func ruleNames(hits []decision.Hit) []string {
	out := make([]string, 0, len(hits))
	for _, h := range hits {
		out = append(out, h.Rule)
	}
	slices.Sort(out)
	return out
}

// jsonString quotes s for YAML: a JSON string is a YAML double-quoted scalar.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
