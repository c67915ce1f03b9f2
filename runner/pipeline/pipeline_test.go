package pipeline_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

func TestDecide(t *testing.T) {
	p, e := newPipeline(t, shippedBundle, pipeline.Options{Env: "prod", RunnerVersion: "v9.9.9-test"})
	if p.Policy() != e.Current() || p.Normalizer().Schema() != e.Current().Schema {
		t.Fatal("the pipeline does not serve the engine's policy and schema")
	}
	tests := []struct {
		name   string
		raw    map[string]any
		action decision.Action
		score  int
		hits   string
		shadow string
	}{
		{"clean payment", payment("t-1", nil), decision.Allow, 0, "", ""},
		{"blocked card", blockedCard("t-2"), decision.Block, 100, "blocked_card", ""},
		{"large payment", largePayment("t-3"), decision.Review, 30, "large_payment", ""},
		{"sanctioned country", sanctioned("t-4"), decision.Block, 100, "card_ip_country_mismatch sanctioned_country", ""},
		{"shadow hit only", structuring("t-5"), decision.Allow, 0, "", "structuring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := normalize(t, p, tt.raw)
			d, err := p.Decide(t.Context(), rec, "http")
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != tt.action || d.Score != tt.score {
				t.Errorf("action, score = %s, %d; want %s, %d", d.Action, d.Score, tt.action, tt.score)
			}
			if got := strings.Join(ruleNames(d.Hits), " "); got != tt.hits {
				t.Errorf("hits = %q, want %q", got, tt.hits)
			}
			if got := strings.Join(ruleNames(d.ShadowHits), " "); got != tt.shadow {
				t.Errorf("shadow hits = %q, want %q", got, tt.shadow)
			}
			if d.RecordID != tt.raw["id"] || d.RecordType != rec.Type || !d.Time.Equal(rec.Time) {
				t.Errorf("record id, type, time = %q, %q, %v", d.RecordID, d.RecordType, d.Time)
			}
			if d.RunnerVersion != "v9.9.9-test" || d.Source != "http" || d.PolicyRevision == "" || d.PolicyRevision != e.Current().Revision {
				t.Errorf("runner version, source, revision = %q, %q, %q; want v9.9.9-test, http, %q",
					d.RunnerVersion, d.Source, d.PolicyRevision, e.Current().Revision)
			}
		})
	}
}

func TestDecideRunnerVersionFromEngine(t *testing.T) {
	e := newEngine(t, testBundle(t), policy.WithRunnerVersion("v1.2.3"))
	p, err := pipeline.New(e, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(t.Context(), normalize(t, p, map[string]any{"id": "a", "ts": "2026-03-01T14:00:00Z", "type": "payment"}), "x")
	if err != nil || d.RunnerVersion != "v1.2.3" {
		t.Fatalf("runner version = %q (%v), want the engine's v1.2.3 when the pipeline sets none", d.RunnerVersion, err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := testBundle(t)
	e := newEngine(t, dir)
	_, err := pipeline.New(e, pipeline.Options{Record: record.Options{Rename: map[string]string{"AMT": "amount_eur"}}})
	if err == nil || !strings.Contains(err.Error(), "schema.yaml") || !strings.Contains(err.Error(), `"amount_eur"`) {
		t.Errorf("New with a rename to no field = %v, want an error naming the field and the schema", err)
	}

	if err := os.Remove(filepath.Join(dir, "schema.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err = pipeline.New(newEngine(t, dir), pipeline.Options{})
	if err == nil || !strings.Contains(err.Error(), dir+" has no schema.yaml") {
		t.Errorf("New over a bundle without a schema = %v", err)
	}
}

func TestInputContext(t *testing.T) {
	p, _ := newPipeline(t, testBundle(t), pipeline.Options{Env: "staging"})
	login := normalize(t, p, map[string]any{"id": "l-1", "ts": "2026-03-01T14:00:00Z", "type": "login", "card_id": "c-1"})
	for _, tc := range []struct {
		source string
		inCtx  map[string]any
		want   string
	}{
		{"kafka:logins", nil, "staging via kafka:logins"},
		{"http", nil, "staging via http"},
		{"kafka:logins", nil, "staging via kafka:logins"},
		{"fixture", map[string]any{"env": "ci", "source": "fixtures/login.yaml"}, "ci via fixtures/login.yaml"},
	} {
		var d decision.Decision
		var err error
		if tc.inCtx != nil {
			d, err = p.DecideWithContext(t.Context(), login, tc.source, tc.inCtx)
		} else {
			d, err = p.Decide(t.Context(), login, tc.source)
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(d.ShadowHits) != 1 || d.ShadowHits[0].Reason != tc.want || d.Source != tc.source || d.Action != decision.Allow {
			t.Errorf("source %s: decision %+v, want one shadow hit %q", tc.source, d, tc.want)
		}
	}
}

func TestEvalErrorBecomesDeadLetter(t *testing.T) {
	reg := prometheus.NewRegistry()
	dlPath := filepath.Join(t.TempDir(), "dead.jsonl")
	dl, err := pipeline.OpenJSONL(dlPath)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := newPipeline(t, testBundle(t), pipeline.Options{
		Metrics:     pipeline.NewMetrics(reg),
		DeadLetters: pipeline.DeadLetterLog{JSONL: dl},
	})
	r1 := map[string]any{"id": "r1", "ts": "2026-03-01T14:00:00Z", "type": "payment", "card_id": "c-1", "amount": 5.0}
	r2 := map[string]any{"id": "r2", "ts": "2026-03-01T14:00:01Z", "type": "payment", "card_id": "c-13", "amount": 13.0}
	r3 := map[string]any{"id": "r3", "ts": "2026-03-01T14:00:02Z", "type": "payment", "card_id": "c-3", "amount": 2000.0}
	// r4 fails too, and is too big to keep whole in its dead letter.
	r4 := map[string]any{"id": "r4", "ts": "2026-03-01T14:00:03Z", "type": "payment", "card_id": "c-13", "amount": 13.0, "note": strings.Repeat("é", 3000)}

	_, err = p.Decide(t.Context(), normalize(t, p, r2), "http")
	var evalErr *pipeline.EvalError
	if !errors.As(err, &evalErr) || !strings.Contains(err.Error(), "policy evaluation") || !strings.Contains(err.Error(), "unlucky") {
		t.Fatalf("Decide = %v, want an *EvalError naming the rule", err)
	}

	var decided []string
	src := &ingest.Reader{SourceName: "stdin", R: strings.NewReader(jsonl(t, r1, r2, r3, r4)), Normalizer: p.Normalizer}
	err = p.Run(t.Context(), src, func(rec record.Record, d *decision.Decision) {
		decided = append(decided, rec.ID+":"+string(d.Action))
	})
	if err != nil {
		t.Fatalf("Run = %v; one record the rules cannot judge must not stop the stream", err)
	}
	if got := strings.Join(decided, " "); got != "r1:allow r3:block" {
		t.Errorf("decided %s, want r1:allow r3:block", got)
	}
	if err := dl.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, dlPath)
	if len(lines) != 2 {
		t.Fatalf("dead-letter log has %d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var entry pipeline.DeadLetterEntry
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatal(err)
	}
	if entry.Source != "stdin" || entry.Line != 2 || entry.Index != 1 || len(entry.Errors) != 1 ||
		!strings.Contains(entry.Errors[0].Reason, "conflict") {
		t.Errorf("dead letter = %s", lines[0])
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(entry.Raw), &raw); err != nil || raw["id"] != "r2" || raw["amount"] != 13.0 {
		t.Errorf("dead letter raw = %q (%v), want the record to replay", entry.Raw, err)
	}
	var big pipeline.DeadLetterEntry
	if err := json.Unmarshal([]byte(lines[1]), &big); err != nil {
		t.Fatal(err)
	}
	if big.Line != 4 || len(big.Raw) > record.MaxRawBytes || len(big.Raw) < record.MaxRawBytes-1 || !utf8.ValidString(big.Raw) ||
		!strings.HasPrefix(big.Raw, `{"amount":13,"card_id":"c-13","id":"r4","note":"éé`) {
		t.Errorf("dead letter of a big record: line %d, %d bytes of raw (valid UTF-8: %v), want at most %d",
			big.Line, len(big.Raw), utf8.ValidString(big.Raw), record.MaxRawBytes)
	}

	// Decide above met r2 once, Run r2 and r4; only Run dead-lettered them.
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vigil_eval_errors_total", nil, 3},
		{"vigil_dead_letters_total", []string{"source", "stdin"}, 2},
		{"vigil_records_total", []string{"source", "stdin", "action", "allow"}, 1},
		{"vigil_records_total", []string{"source", "stdin", "action", "block"}, 1},
	} {
		if got := metric(t, reg, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}

func TestDecisionLogRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log", "decisions.jsonl")
	l, err := pipeline.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := newPipeline(t, shippedBundle, pipeline.Options{RunnerVersion: "v1", Decisions: pipeline.DecisionLog{JSONL: l}})
	var made []decision.Decision
	for _, raw := range []map[string]any{
		payment("d-1", nil), blockedCard("d-2"), sanctioned("d-3"), structuring("d-4"), disposableEmail("d-5"),
	} {
		d, err := p.Decide(t.Context(), normalize(t, p, raw), "file:x.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, d)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != len(made) {
		t.Fatalf("%d lines for %d decisions", len(lines), len(made))
	}
	for i, line := range lines {
		var got decision.Decision
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		want := made[i]
		if want.Hits == nil {
			want.Hits = []decision.Hit{}
		}
		if want.ShadowHits == nil {
			want.ShadowHits = []decision.Hit{}
		}
		if !got.Time.Equal(want.Time) {
			t.Errorf("line %d: time %v, want %v", i+1, got.Time, want.Time)
		}
		got.Time = want.Time
		if !reflect.DeepEqual(got, want) {
			t.Errorf("line %d decodes to\n %+v\nwant\n %+v", i+1, got, want)
		}
	}
}

func TestDeadLetterLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	l, err := pipeline.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p, _ := newPipeline(t, shippedBundle, pipeline.Options{DeadLetters: pipeline.DeadLetterLog{JSONL: l}, Metrics: pipeline.NewMetrics(reg)})
	in := jsonl(t, payment("g-1", nil)) +
		`{"id": "b-2", "ts":` + "\n" +
		`{"id":"b-3","ts":"soon","type":"payment","amount":-4}` + "\n" +
		jsonl(t, payment("g-4", nil))
	before := time.Now().UTC()
	var decided []string
	err = p.Run(t.Context(), &ingest.Reader{SourceName: "stdin", R: strings.NewReader(in), Normalizer: p.Normalizer},
		func(rec record.Record, _ *decision.Decision) { decided = append(decided, rec.ID) })
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(decided, " "); got != "g-1 g-4" {
		t.Errorf("decided %s, want g-1 g-4", got)
	}
	lines := readLines(t, path)
	inLines := strings.Split(in, "\n")
	if len(lines) != 2 {
		t.Fatalf("dead-letter log:\n%s", strings.Join(lines, "\n"))
	}
	wantFields := [][]string{{""}, {"amount", "ts"}}
	for i, line := range lines {
		var e pipeline.DeadLetterEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, fe := range e.Errors {
			fields = append(fields, fe.Field)
		}
		slices.Sort(fields)
		if e.Source != "stdin" || e.Line != i+2 || e.Raw != inLines[i+1] || !slices.Equal(fields, wantFields[i]) ||
			e.At.Before(before) || e.At.After(time.Now().UTC()) {
			t.Errorf("line %d = %s; want line %d, raw %q, errors on %v, stamped now", i+1, line, i+2, inLines[i+1], wantFields[i])
		}
	}
	if got := metric(t, reg, "vigil_dead_letters_total", "source", "stdin"); got != 2 {
		t.Errorf("vigil_dead_letters_total = %v, want 2", got)
	}
}

// alertService is a real alert service over a SQLite file.
func alertService(t *testing.T) (*alert.Service, *sql.DB) {
	t.Helper()
	db, err := sqldb.Open(t.Context(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := alertsqlite.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := alert.NewService(store, alert.Options{MinSeverity: decision.Medium})
	if err != nil {
		t.Fatal(err)
	}
	return svc, db
}

func TestAlerts(t *testing.T) {
	svc, _ := alertService(t)
	reg := prometheus.NewRegistry()
	var seen [][]alert.Alert
	p, _ := newPipeline(t, shippedBundle, pipeline.Options{
		Alerts:   svc,
		OnAlerts: func(as []alert.Alert) { seen = append(seen, as) },
		Metrics:  pipeline.NewMetrics(reg),
	})
	in := jsonl(t,
		blockedCard("a-1"),
		payment("a-2", nil),    // no hit
		disposableEmail("a-3"), // a low hit: below the alerting severity
		structuring("a-4"),     // a shadow hit: never alerts
		blockedCard("a-5"),     // the same card again: the open alert repeats
		largePayment("a-6"),    // medium: a second alert, on the customer
	)
	err := p.Run(t.Context(), &ingest.Reader{SourceName: "stdin", R: strings.NewReader(in), Normalizer: p.Normalizer}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type change struct {
		rule, entity, record string
		status               alert.Status
		count                int
	}
	var got []change
	for _, as := range seen {
		if len(as) != 1 {
			t.Fatalf("OnAlerts saw %d alerts for one decision, want 1: %+v", len(as), as)
		}
		a := as[0]
		got = append(got, change{a.Rule, a.Entity.String(), a.LastRecordID, a.Status, a.Count})
	}
	want := []change{
		{"blocked_card", "card_id=ctok_7Hq2Lm9Xb4", "a-1", alert.Open, 1},
		{"blocked_card", "card_id=ctok_7Hq2Lm9Xb4", "a-5", alert.Open, 2},
		{"large_payment", "customer_id=cust-0042", "a-6", alert.Open, 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("OnAlerts saw\n %+v\nwant\n %+v", got, want)
	}
	stored, err := svc.List(t.Context(), alert.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].ID != seen[2][0].ID || stored[1].ID != seen[0][0].ID || stored[1].Count != 2 {
		t.Errorf("stored alerts = %+v", stored)
	}
	if got := metric(t, reg, "vigil_alerts_observed_total", "rule", "blocked_card", "status", "open"); got != 2 {
		t.Errorf("vigil_alerts_observed_total{blocked_card,open} = %v, want 2", got)
	}
}

func TestAlertStoreFailureStopsRun(t *testing.T) {
	svc, db := alertService(t)
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	l, err := pipeline.OpenJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := newPipeline(t, shippedBundle, pipeline.Options{Alerts: svc, Decisions: pipeline.DecisionLog{JSONL: l}})
	db.Close() // the store is gone
	in := jsonl(t, payment("f-1", nil), blockedCard("f-2"), payment("f-3", nil))
	var decided []string
	err = p.Run(t.Context(), &ingest.Reader{SourceName: "stdin", R: strings.NewReader(in), Normalizer: p.Normalizer},
		func(rec record.Record, _ *decision.Decision) { decided = append(decided, rec.ID) })
	if err == nil || !strings.Contains(err.Error(), "record f-2: alerts") {
		t.Fatalf("Run = %v, want the alert store's failure on f-2", err)
	}
	var evalErr *pipeline.EvalError
	if errors.As(err, &evalErr) {
		t.Fatal("a store failure is not an evaluation error")
	}
	if len(decided) != 1 || decided[0] != "f-1" {
		t.Errorf("decided %v; the stream must stop at the record whose alert was not stored", decided)
	}
	l.Close()
	if lines := readLines(t, path); len(lines) != 2 {
		// f-2 was decided (and logged) before its alert failed; it will be
		// decided again when the stream resumes: at least once.
		t.Errorf("decision log has %d lines, want f-1 and f-2", len(lines))
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, _ := newPipeline(t, shippedBundle, pipeline.Options{Metrics: pipeline.NewMetrics(reg)})
	in := jsonl(t, payment("m-1", nil), payment("m-2", nil), largePayment("m-3"), blockedCard("m-4"), structuring("m-5")) +
		"not json\n"
	if err := p.Run(t.Context(), &ingest.Reader{SourceName: "file:m.jsonl", R: strings.NewReader(in), Normalizer: p.Normalizer}, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vigil_records_total", []string{"source", "file:m.jsonl", "action", "allow"}, 3},
		{"vigil_records_total", []string{"source", "file:m.jsonl", "action", "review"}, 1},
		{"vigil_records_total", []string{"source", "file:m.jsonl", "action", "block"}, 1},
		{"vigil_rule_hits_total", []string{"rule", "large_payment", "mode", "enforce"}, 1},
		{"vigil_rule_hits_total", []string{"rule", "blocked_card", "mode", "enforce"}, 1},
		{"vigil_rule_hits_total", []string{"rule", "structuring", "mode", "shadow"}, 1},
		{"vigil_eval_seconds", nil, 5},
		{"vigil_eval_errors_total", nil, 0},
		{"vigil_dead_letters_total", []string{"source", "file:m.jsonl"}, 1},
	} {
		if got := metric(t, reg, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}

func TestReloadSwapsPolicyAndSchema(t *testing.T) {
	dir := testBundle(t)
	p, e := newPipeline(t, dir, pipeline.Options{})
	oldPolicy, oldNorm := p.Policy(), p.Normalizer()
	// "amt" is no field of the first schema (kept as an unknown field), and
	// 500 is under the first limit.
	raw := map[string]any{"id": "r-1", "ts": "2026-03-01T14:00:00Z", "type": "payment", "card_id": "c-1", "amt": 500}
	d, err := p.Decide(t.Context(), normalize(t, p, raw), "http")
	if err != nil || len(d.Hits) != 0 {
		t.Fatalf("before the reload: %+v, %v", d, err)
	}

	writeFile(t, filepath.Join(dir, "schema.yaml"), strings.Replace(testSchema,
		"amount: {type: number, min: 0}", "amount: {type: number, min: 0, aliases: [amt]}", 1))
	writeFile(t, filepath.Join(dir, "risk", "rules", "big_amount.rego"), bigAmountRule(100))
	if err := e.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p.Policy() == oldPolicy || p.Policy() != e.Current() || p.Policy().Revision == oldPolicy.Revision {
		t.Fatal("the pipeline still serves the old policy")
	}
	if p.Normalizer() == oldNorm || p.Normalizer().Schema() != e.Current().Schema {
		t.Fatal("the pipeline still normalises with the old schema")
	}
	rec := normalize(t, p, raw)
	if rec.Fields["amount"] != 500.0 {
		t.Fatalf("amt was not read as amount under the new schema: %v", rec.Fields)
	}
	d, err = p.Decide(t.Context(), rec, "http")
	if err != nil || strings.Join(ruleNames(d.Hits), " ") != "big_amount" || d.PolicyRevision != e.Current().Revision {
		t.Fatalf("after the reload: %+v, %v; want a big_amount hit under revision %s", d, err, e.Current().Revision)
	}

	// A bundle whose schema is broken is refused; both halves stay.
	current, norm := p.Policy(), p.Normalizer()
	writeFile(t, filepath.Join(dir, "schema.yaml"), "version: 1\nfields:\n  id: {type: money}\n")
	if err := e.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "schema.yaml") {
		t.Fatalf("Reload = %v, want the schema refused", err)
	}
	if p.Policy() != current || p.Normalizer() != norm {
		t.Fatal("a refused reload changed the pipeline")
	}
}

func TestConcurrentDecideDuringReload(t *testing.T) {
	dir := testBundle(t)
	p, e := newPipeline(t, dir, pipeline.Options{Decisions: pipeline.DecisionLog{JSONL: pipeline.NewJSONL(io.Discard, nil)}})
	limits := map[string]int{e.Current().Revision: 1000}
	raw := map[string]any{"id": "c-1", "ts": "2026-03-01T14:00:00Z", "type": "payment", "card_id": "c-1", "amount": 500.0}

	ctx, stop := context.WithCancel(t.Context())
	type result struct {
		revision string
		hits     int
	}
	results := make([][]result, 4)
	var wg sync.WaitGroup
	for w := range results {
		wg.Go(func() {
			for ctx.Err() == nil || len(results[w]) < 50 {
				rec, errs := p.Normalizer().Normalize(map[string]any{"id": raw["id"], "ts": raw["ts"], "type": raw["type"], "card_id": raw["card_id"], "amount": raw["amount"]})
				if errs != nil {
					t.Error(errs)
					return
				}
				d, err := p.Decide(context.Background(), rec, "http")
				if err != nil {
					t.Error(err)
					return
				}
				results[w] = append(results[w], result{d.PolicyRevision, len(d.Hits)})
			}
		})
	}
	for i := range 4 {
		limit := []int{100, 1000}[i%2]
		writeFile(t, filepath.Join(dir, "risk", "rules", "big_amount.rego"), bigAmountRule(limit))
		if err := e.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		limits[e.Current().Revision] = limit
	}
	stop()
	wg.Wait()
	if len(limits) != 2 {
		t.Fatalf("revisions %v, want two", limits)
	}
	for _, rs := range results {
		for _, r := range rs {
			limit, known := limits[r.revision]
			if !known || (limit == 100) != (r.hits == 1) {
				t.Fatalf("a decision under revision %s (limit %d) has %d hits", r.revision, limit, r.hits)
			}
		}
	}
}
