package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/vigil-risk/vigil/runner/feature"
	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/record"
)

// Inputs turns records (JSONL, as Records makes them) into the input
// documents the rules see, features and scores included: each record is
// normalised by the bundle's schema and applied to a fresh feature engine
// in order, as the pipeline does. Evaluation-only workloads (stock OPA, the
// sidecar, Policy.Decide) then judge exactly what the pipeline judges.
func Inputs(ctx context.Context, pol *policy.Policy, data []byte, env, source string) ([]*policy.Input, error) {
	if pol.Schema == nil {
		return nil, fmt.Errorf("bundle %s has no schema.yaml", pol.Path)
	}
	norm, err := record.NewNormalizer(pol.Schema, record.Options{})
	if err != nil {
		return nil, err
	}
	var fe *feature.Engine
	if pol.Features != nil {
		if fe, err = feature.NewEngine(pol.Features, nil, feature.Options{}); err != nil {
			return nil, err
		}
	}
	inCtx := map[string]any{"env": env, "source": source}
	var out []*policy.Input
	r := record.NewReader(bytes.NewReader(data), record.FormatJSONL, source, norm)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, dl, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if dl != nil {
			return nil, dl
		}
		in := &policy.Input{Record: rec.Fields, Context: inCtx}
		if fe != nil {
			in.Features, _ = fe.Apply(rec)
		}
		if pol.Models != nil {
			in.Scores = pol.Models.Score(rec.Fields, rec.Time, in.Features)
		}
		out = append(out, in)
	}
}
