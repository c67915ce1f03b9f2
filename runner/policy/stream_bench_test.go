package policy_test

import (
	"context"
	"testing"

	"github.com/vigil-risk/vigil/runner/bench"
	"github.com/vigil-risk/vigil/runner/policy"
)

// BenchmarkDecideStream decides a stream of demo records, features and
// scores computed, with the shipped starter pack: the fast path, and plain
// OPA (one query of every rule, the input built whole) on the same inputs.
func BenchmarkDecideStream(b *testing.B) {
	ctx := context.Background()
	p, err := policy.Load(ctx, shipped)
	if err != nil {
		b.Fatal(err)
	}
	inputs, err := bench.Inputs(ctx, p, bench.Records(4000, 42, 0.03), "bench", "bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		decide func(context.Context, *policy.Input) error
	}{
		{"fast", func(ctx context.Context, in *policy.Input) error { _, err := p.Decide(ctx, in); return err }},
		{"opa", func(ctx context.Context, in *policy.Input) error { _, err := p.DecideOPA(ctx, in); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := bc.decide(ctx, inputs[i%len(inputs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
