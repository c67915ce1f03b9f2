package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-risk/vigil/runner/check"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/ingest"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

// The differential tests hold the fast path to plain OPA: every record is
// decided both ways (policy.WithDifferential, or Decide against DecideOPA)
// and any difference fails the test. `go test -long` (or VIGIL_LONG_TESTS=1)
// runs a million randomised records instead of twenty thousand.

var long = flag.Bool("long", false, "run the long differential tests (a million random records)")

func longTests() bool { return *long || os.Getenv("VIGIL_LONG_TESTS") != "" }

const shipped = "../../policies"

// differentialPipeline is the real pipeline (features in order, scores,
// parallel evaluation) over an engine that checks every decision.
func differentialPipeline(t testing.TB, bundle string, recOpts record.Options) (*pipeline.Pipeline, *deadLetters) {
	t.Helper()
	ctx := context.Background()
	engine, err := policy.NewEngine(ctx, bundle, nil, policy.WithDifferential())
	if err != nil {
		t.Fatal(err)
	}
	fe, err := feature.NewEngine(engine.Current().Features, nil, feature.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dl := &deadLetters{}
	pipe, err := pipeline.New(engine, pipeline.Options{Env: "test", Record: recOpts, Features: fe, DeadLetters: dl})
	if err != nil {
		t.Fatal(err)
	}
	return pipe, dl
}

// deadLetters keeps what the pipeline refused; a mismatch between the two
// evaluations is refused as an evaluation error.
type deadLetters struct {
	mu  sync.Mutex
	all []*record.DeadLetter
}

func (d *deadLetters) WriteDeadLetter(dl *record.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, dl)
	return nil
}

func (d *deadLetters) check(t *testing.T) {
	t.Helper()
	for i, dl := range d.all {
		if i == 5 {
			t.Errorf("... and %d more", len(d.all)-5)
			break
		}
		t.Errorf("%s", dl.Error())
	}
}

func TestDifferentialFixtures(t *testing.T) {
	ctx := context.Background()
	scenarios, err := check.LoadScenarios("../../fixtures/scenarios")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range scenarios {
		// Each scenario starts from empty feature state, as vigil test runs it.
		pipe, dl := differentialPipeline(t, shipped, record.Options{})
		for _, step := range s.Steps {
			rec, errs := pipe.Normalizer().Normalize(cloneMap(step.Record))
			if errs != nil {
				t.Fatalf("%s:%d: %v", s.File, step.Line, errs)
			}
			if _, err := pipe.DecideWithContext(ctx, rec, "fixtures", s.Context); err != nil {
				t.Errorf("%s:%d: %v", s.File, step.Line, err)
			}
			n++
		}
		dl.check(t)
	}
	for _, f := range []string{"payments.csv", "payments.json", "payments.jsonl"} {
		pipe, dl := differentialPipeline(t, shipped, record.Options{})
		src := &ingest.File{Path: filepath.Join("../../fixtures/records", f), Format: record.FormatFor(f), Normalizer: pipe.Normalizer}
		decided := 0
		if err := pipe.Run(ctx, src, func(record.Record, *decision.Decision) { decided++ }); err != nil {
			t.Fatal(err)
		}
		if decided == 0 {
			t.Errorf("%s: no record decided", f)
		}
		n += decided
		for _, l := range dl.all {
			if strings.Contains(l.Error(), "disagree") {
				t.Errorf("%s", l.Error())
			}
		}
	}
	t.Logf("%d fixture records decided the same both ways", n)
}

// fdhOptions is fixtures/fdh/replay.yaml: the FDH columns mapped onto the schema.
func fdhOptions(t testing.TB) record.Options {
	t.Helper()
	data, err := os.ReadFile("../../fixtures/fdh/replay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Record struct {
			Rename   map[string]string `yaml:"rename"`
			Defaults map[string]any    `yaml:"defaults"`
		} `yaml:"record"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	return record.Options{Rename: cfg.Record.Rename, Defaults: cfg.Record.Defaults}
}

func TestDifferentialFDH(t *testing.T) {
	files := []string{"../../fixtures/fdh/transactions-sample.csv"}
	if dir := os.Getenv("DATASETS_DIR"); dir != "" {
		fdh := filepath.Join(dir, "fraud-detection-handbook-sim")
		files = append(files, filepath.Join(fdh, "transactions-2018-04-01_2018-04-14.csv"))
		if longTests() {
			files = append(files, filepath.Join(fdh, "transactions-2018-04-01_2018-09-30.csv.gz"))
		}
	} else {
		t.Log("DATASETS_DIR not set: the FDH sample in fixtures/fdh only")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			pipe, dl := differentialPipeline(t, shipped, fdhOptions(t))
			hits := map[string]int{}
			decided := 0
			src := &ingest.File{Path: file, Format: record.FormatFor(file), Normalizer: pipe.Normalizer}
			start := time.Now()
			err := pipe.Run(context.Background(), src, func(_ record.Record, d *decision.Decision) {
				decided++
				for _, h := range d.Hits {
					hits[h.Rule]++
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			dl.check(t)
			if decided == 0 {
				t.Fatal("no record decided")
			}
			t.Logf("%d records decided the same both ways in %s; hits %v", decided, time.Since(start).Round(time.Millisecond), hits)
		})
	}
}

func TestDifferentialRandom(t *testing.T) {
	n := 20_000
	if longTests() {
		n = 1_000_000
	}
	if testing.Short() {
		n = 2_000
	}
	p, err := policy.Load(context.Background(), shipped)
	if err != nil {
		t.Fatal(err)
	}
	stats := differentialRandom(t, p, n, 1)
	t.Logf("%d random records decided the same both ways: %s", n, stats)
	if stats.hit.Load() < int64(n)/10 {
		t.Errorf("only %d of %d random records fired a rule: the generator no longer exercises the rules", stats.hit.Load(), n)
	}
}

type randomStats struct {
	hit, failed, opaCalls atomic.Int64
	perRule               sync.Map // rule → *atomic.Int64
}

func (s *randomStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d with hits, %d failing both ways; hits per rule:", s.hit.Load(), s.failed.Load())
	s.perRule.Range(func(k, v any) bool {
		fmt.Fprintf(&b, " %s=%d", k, v.(*atomic.Int64).Load())
		return true
	})
	return b.String()
}

// differentialRandom decides n random inputs both ways, on every core.
func differentialRandom(t *testing.T, p *policy.Policy, n int, seed uint64) *randomStats {
	t.Helper()
	ctx := context.Background()
	stats := &randomStats{}
	workers := runtime.GOMAXPROCS(0)
	var next atomic.Int64
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			gen := newInputGen(seed*1_000_003 + uint64(w))
			for next.Add(1) <= int64(n) && failures.Load() < 10 {
				in := gen.input()
				got, gotErr := p.Decide(ctx, in)
				want, wantErr := p.DecideOPA(ctx, in)
				if msg := differ(&got, gotErr, &want, wantErr); msg != "" {
					if failures.Add(1) <= 10 {
						b, _ := json.Marshal(in)
						t.Errorf("%s\ninput: %s", msg, b)
					}
					continue
				}
				if wantErr != nil {
					stats.failed.Add(1)
				}
				if len(want.Hits)+len(want.ShadowHits) > 0 {
					stats.hit.Add(1)
				}
				for _, h := range append(want.Hits, want.ShadowHits...) {
					c, _ := stats.perRule.LoadOrStore(h.Rule, new(atomic.Int64))
					c.(*atomic.Int64).Add(1)
				}
			}
		})
	}
	wg.Wait()
	return stats
}

// differ compares two outcomes of deciding a record, as WithDifferential
// does, and says how they differ.
func differ(got *decision.Decision, gotErr error, want *decision.Decision, wantErr error) string {
	switch {
	case gotErr != nil && wantErr != nil:
		return ""
	case gotErr != nil || wantErr != nil:
		return fmt.Sprintf("fast: %v\n opa: %v", gotErr, wantErr)
	}
	a, b := *got, *want
	a.EvalUS, b.EvalUS = 0, 0
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		return fmt.Sprintf("fast: %s\n opa: %s", ja, jb)
	}
	return ""
}

func TestDifferentialOptionReportsMismatch(t *testing.T) {
	// WithDifferential itself: a policy decides the same both ways on a
	// clean record, and the option is what the pipeline tests rely on.
	ctx := context.Background()
	p, err := policy.Load(ctx, shipped, policy.WithDifferential())
	if err != nil {
		t.Fatal(err)
	}
	gen := newInputGen(7)
	for range 200 {
		in := gen.input()
		if _, err := p.Decide(ctx, in); err != nil {
			var m *policy.MismatchError
			if errors.As(err, &m) {
				t.Fatal(m)
			}
		}
	}
}

// FuzzDifferential decides fuzzed input documents both ways.
func FuzzDifferential(f *testing.F) {
	gen := newInputGen(11)
	for range 32 {
		b, _ := json.Marshal(gen.input())
		f.Add(b)
	}
	f.Add([]byte(`{"Record":{"type":"payment","amount":"5000","currency":"EUR"}}`))
	f.Add([]byte(`{"Record":{"type":"login","failed_attempts":1e400}}`))
	f.Add([]byte(`{"Record":{"type":"withdrawal","amount":9500,"currency":"EUR","ts":"2026-03-01T02:00:00Z"},"Features":{"customer_credential_change_count_24h":"1"}}`))
	p, err := policy.Load(context.Background(), shipped)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in policy.Input
		if err := json.Unmarshal(data, &in); err != nil {
			return
		}
		ctx := context.Background()
		got, gotErr := p.Decide(ctx, &in)
		want, wantErr := p.DecideOPA(ctx, &in)
		if msg := differ(&got, gotErr, &want, wantErr); msg != "" {
			t.Fatalf("%s\ninput: %s", msg, data)
		}
	})
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// inputGen makes input documents that exercise the shipped rules: values
// from their lists and around their thresholds, and as often values of the
// wrong type, missing fields and edge numbers, where Rego's comparison
// across types and undefined references decide.
type inputGen struct{ r *rand.Rand }

func newInputGen(seed uint64) *inputGen {
	return &inputGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *inputGen) pick(xs ...any) any { return xs[g.r.IntN(len(xs))] }

func (g *inputGen) chance(p float64) bool { return g.r.Float64() < p }

// wrong is a value of any JSON type, or an odd one.
func (g *inputGen) wrong() any {
	switch g.r.IntN(9) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		return g.number(5000)
	case 3:
		return g.pick("", "payment", "5000", "EUR", "true", "null", "0", " ", "ctok_7Hq2Lm9Xb4").(string)
	case 4:
		return []any{g.number(10), "a"}
	case 5:
		return map[string]any{"x": 1.0}
	case 6:
		return []any{}
	case 7:
		return map[string]any{}
	}
	return json.Number(g.pick("1", "1.0", "1e3", "-0", "5000.000000000000000001", "123456789012345678901234567890").(string))
}

// number is near limit, or an edge value.
func (g *inputGen) number(limit float64) float64 {
	switch g.r.IntN(12) {
	case 0:
		return limit
	case 1:
		return math.Nextafter(limit, math.Inf(-1))
	case 2:
		return math.Nextafter(limit, math.Inf(1))
	case 3:
		return 0
	case 4:
		return -limit
	case 5:
		return 1e21
	case 6:
		return 1e-7
	case 7:
		return math.Round(g.r.Float64()*limit*200) / 100
	case 8:
		return float64(g.r.IntN(int(limit) + 2))
	case 9:
		return limit * 0.9
	case 10:
		return 9999.995
	}
	return g.r.Float64() * limit * 3
}

// field sets a record field to a plausible value, a wrong one, or nothing.
func (g *inputGen) field(m map[string]any, key string, plausible func() any) {
	switch x := g.r.Float64(); {
	case x < 0.08:
	case x < 0.18:
		m[key] = g.wrong()
	default:
		m[key] = plausible()
	}
}

func (g *inputGen) timestamp() any {
	t := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.r.Int64N(int64(60 * 24 * time.Hour))))
	switch g.r.IntN(10) {
	case 0:
		return "yesterday"
	case 1:
		return t.Format("2006-01-02")
	case 2:
		return t.Format("2006-01-02T15:04:05.999999999Z07:00")
	}
	return t.Format(time.RFC3339)
}

func (g *inputGen) input() *policy.Input {
	r := map[string]any{}
	g.field(r, "id", func() any { return fmt.Sprintf("r-%d", g.r.IntN(1e6)) })
	g.field(r, "type", func() any {
		return g.pick("payment", "payment", "payment", "login", "withdrawal", "transfer", "refund", "signup", "credential_change", "label", "PAYMENT", "unknown").(string)
	})
	g.field(r, "ts", g.timestamp)
	g.field(r, "account_created_at", g.timestamp)
	g.field(r, "amount", func() any {
		return g.number(g.pick(5000.0, 500.0, 1000.0, 2000.0, 3000.0, 10000.0, 9000.0, 800000.0, 40000.0, 300.0).(float64))
	})
	g.field(r, "currency", func() any { return g.pick("EUR", "USD", "GBP", "CHF", "CNY", "JPY", "XXX", "eur").(string) })
	g.field(r, "card_id", func() any { return g.pick("ctok_7Hq2Lm9Xb4", "ctok_Z81kPd03Rt", "card-1", "card-2").(string) })
	g.field(r, "device_id", func() any { return g.pick("dev-3f9c2a7e51", "dev-b04e6d1c88", "dev-1").(string) })
	g.field(r, "customer_id", func() any { return g.pick("cust-1", "cust-2").(string) })
	g.field(r, "terminal_id", func() any { return g.pick("term-1", "term-2").(string) })
	g.field(r, "ip", func() any {
		return g.pick("203.0.113.7", "198.51.100.23", "198.51.100.24", "2001:db8:bad::1", "10.0.0.1", "not-an-ip", "2001:db8::1").(string)
	})
	g.field(r, "email", func() any {
		return g.pick("ana@mailinator.com", "bob@example.com", "a@b@c.com", "@yopmail.com", "x@", "carl@sub.trashmail.com", "dee@trashmail.com").(string)
	})
	g.field(r, "card_bin", func() any { return g.pick("411111", "41111122", "555555", "378282", "424242", "4111", "").(string) })
	g.field(r, "mcc", func() any { return g.pick("7995", "6051", "5411", "4829", "0000").(string) })
	g.field(r, "channel", func() any { return g.pick("ecom", "pos", "atm", "moto", "app", "web", "branch").(string) })
	for _, c := range []string{"card_country", "ip_country", "billing_country", "merchant_country"} {
		g.field(r, c, func() any { return g.pick("DE", "FR", "US", "IR", "KP", "CU", "DE", "DE").(string) })
	}
	g.field(r, "success", func() any { return g.r.IntN(2) == 0 })
	g.field(r, "failed_attempts", func() any { return float64(g.r.IntN(14)) })
	g.field(r, "new_destination", func() any { return g.r.IntN(2) == 0 })
	g.field(r, "destination_account", func() any { return "acct-9" })
	if g.chance(0.05) {
		r["extra"] = map[string]any{"nested": []any{1.0, "x", nil}}
	}

	f := map[string]any{}
	limits := map[string]float64{
		"card_small_payment_count_1m": 4, "card_small_payment_count_10m": 6,
		"terminal_fraud_count_28d_d7": 3, "terminal_risk_28d_d7": 0.2, "terminal_tx_count_28d_d7": 20,
		"customer_device_distinct_24h": 4, "customer_ip_distinct_24h": 8,
		"customer_credential_change_count_24h": 1, "customer_tx_count_30d": 6, "customer_amount_avg_30d": 50,
		"customer_device_first_seen_age": 3600, "customer_first_seen_age": 7 * 86400,
	}
	for name, limit := range limits {
		g.field(f, name, func() any { return g.number(limit) })
	}
	in := &policy.Input{Record: r, Features: f, Context: map[string]any{"env": "test", "source": "random"}}
	if g.chance(0.8) {
		in.Scores = map[string]float64{"fraud_lr": g.r.Float64()}
	}
	if g.chance(0.05) {
		in.Features = nil
	}
	return in
}
