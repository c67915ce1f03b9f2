package export_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/alert/export"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/check"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

const (
	shippedPolicies  = "../../../policies"
	shippedScenarios = "../../../fixtures/scenarios"
)

// filled runs the shipped scenarios' records through the real pipeline
// over a SQLite alert store, as `vigil run` would, and returns the alert
// service and the engine.
func filled(t *testing.T) (*alert.Service, *policy.Engine) {
	t.Helper()
	ctx := t.Context()
	engine, err := policy.NewEngine(ctx, shippedPolicies, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := alert.NewService(store, alert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	feats, err := feature.NewEngine(engine.Current().Features, feature.NewMemoryStore(feature.MemoryOptions{}), feature.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := pipeline.New(engine, pipeline.Options{Env: "prod", Features: feats, Alerts: svc})
	if err != nil {
		t.Fatal(err)
	}
	scenarios, err := check.LoadScenarios(shippedScenarios)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scenarios {
		for _, st := range s.Steps {
			rec, errs := pipe.Normalizer().Normalize(maps.Clone(st.Record))
			if len(errs) > 0 {
				t.Fatalf("%s: %v", s.File, errs)
			}
			if _, err := pipe.Decide(ctx, rec, "test"); err != nil {
				t.Fatalf("%s: %v", s.File, err)
			}
		}
	}
	return svc, engine
}

func byRule(t *testing.T, svc *alert.Service, rule string) alert.Alert {
	t.Helper()
	as, err := svc.List(t.Context(), alert.Filter{Rule: rule, Limit: 1})
	if err != nil || len(as) == 0 {
		t.Fatalf("no alert of rule %s: %v", rule, err)
	}
	return as[0]
}

// TestExportReplaysThroughVigilTest is issue 5's done-when: alerts raised
// by the real pipeline and labelled by analysts, exported, replay green
// through the check package (what `vigil test --fixtures` runs), and the
// dataset carries the labels.
func TestExportReplaysThroughVigilTest(t *testing.T) {
	svc, engine := filled(t)
	ctx := t.Context()
	labels := map[string]alert.Resolution{
		"blocked_card":             alert.TruePositive,
		"large_payment":            alert.FalsePositive,
		"high_risk_mcc":            alert.Benign,
		"card_ip_country_mismatch": alert.Duplicate,
		"card_testing_burst":       alert.TruePositive,
		"new_account_large_amount": alert.FalsePositive,
	}
	ids := map[int64]alert.Resolution{}
	for rule, res := range labels {
		a := byRule(t, svc, rule)
		if _, err := svc.Apply(ctx, a.ID, alert.Action{Kind: alert.ActResolve, Actor: "ana", Resolution: res, Comment: "checked " + rule}); err != nil {
			t.Fatal(err)
		}
		ids[a.ID] = res
	}
	open, err := svc.List(ctx, alert.Filter{Status: alert.Open, Limit: alert.MaxLimit})
	if err != nil || len(open) == 0 {
		t.Fatalf("want some alerts left open (not exported): %v", err)
	}

	out := t.TempDir()
	sum, err := export.Export(ctx, svc, export.Options{Out: out, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Alerts != len(labels) || sum.Duplicates != 1 || sum.Labelled != len(labels)-1 || sum.Fixtures != len(labels)-1 {
		t.Errorf("summary %+v: want %d alerts, 1 duplicate skipped, %d labelled and fixtures", sum, len(labels), len(labels)-1)
	}

	// The dataset: one line per kept record, fraud from the label.
	f, err := os.Open(sum.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var l export.Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("dataset line %q: %v", sc.Text(), err)
		}
		lines++
		res, ok := ids[l.AlertID]
		wantFraud, _ := res.Fraud()
		if !ok || l.Resolution != res || l.Fraud != wantFraud || l.Resolution == alert.Duplicate || l.RecordID == "" ||
			!strings.Contains(string(l.Record), `"id":"`+l.RecordID+`"`) || l.ResolvedBy != "ana" {
			t.Errorf("dataset line %s: want alert %d labelled %s (fraud %v) with its record", sc.Text(), l.AlertID, res, wantFraud)
		}
	}
	if lines != sum.Lines || lines == 0 {
		t.Errorf("%d dataset lines, summary says %d", lines, sum.Lines)
	}

	// The fixtures carry the label and replay green.
	fixtures, _ := filepath.Glob(filepath.Join(sum.FixtureDir, "*.yaml"))
	if len(fixtures) != sum.Fixtures {
		t.Fatalf("%d fixture files, summary says %d", len(fixtures), sum.Fixtures)
	}
	fp, _ := os.ReadFile(filepath.Join(sum.FixtureDir, fixtureOf(t, fixtures, "large_payment")))
	for _, want := range []string{"Analyst label: false_positive by ana", "large_payment should not have fired", "hits", "large_payment fires on replay"} {
		if !strings.Contains(string(fp), want) {
			t.Errorf("false-positive fixture lacks %q:\n%s", want, fp)
		}
	}
	rep, err := check.Run(ctx, check.Options{Policies: shippedPolicies, Fixtures: sum.FixtureDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fixtures.Failures) > 0 || rep.Fixtures.Files != sum.Fixtures || rep.Fixtures.Records != sum.Records || rep.Fixtures.Passed != sum.Records {
		t.Fatalf("exported fixtures through vigil test: %+v", rep.Fixtures)
	}

	// The workflow: the false positive's expectation edited as if the rule
	// were fixed fails on today's policy — the fixture really asserts.
	name := filepath.Join(sum.FixtureDir, fixtureOf(t, fixtures, "large_payment"))
	edited := strings.Replace(string(fp), `"hits":["large_payment"]`, `"hits":[]`, 1)
	if edited == string(fp) {
		t.Fatalf("no hits to edit in:\n%s", fp)
	}
	if err := os.WriteFile(name, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = check.Run(ctx, check.Options{Policies: shippedPolicies, Fixtures: sum.FixtureDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fixtures.Failures) != 1 || !strings.Contains(rep.Fixtures.Failures[0].Msg, "unexpected hit large_payment") {
		t.Errorf("edited fixture: failures %+v, want one: unexpected hit large_payment", rep.Fixtures.Failures)
	}
}

func fixtureOf(t *testing.T, files []string, rule string) string {
	t.Helper()
	i := slices.IndexFunc(files, func(f string) bool { return strings.Contains(filepath.Base(f), "-"+rule+"-") })
	if i < 0 {
		t.Fatalf("no fixture for %s in %v", rule, files)
	}
	return filepath.Base(files[i])
}

func TestExportRefusesBadOptions(t *testing.T) {
	svc, engine := filled(t)
	for _, tt := range []struct {
		o    export.Options
		want string
	}{
		{export.Options{Engine: engine}, "out"},
		{export.Options{Out: t.TempDir()}, "policy engine"},
		{export.Options{Out: t.TempDir(), Engine: engine, Status: "closed"}, "status"},
	} {
		if _, err := export.Export(context.Background(), svc, tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Export(%+v) = %v, want an error naming %s", tt.o, err, tt.want)
		}
	}
}
