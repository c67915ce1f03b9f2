package feature

import (
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Aggregate says how a feature folds the contributions in its window.
type Aggregate string

const (
	Count        Aggregate = "count"          // matching records
	Sum          Aggregate = "sum"            // of field (0 when there is nothing to add)
	Avg          Aggregate = "avg"            // mean of field
	Min          Aggregate = "min"            // smallest field value
	Max          Aggregate = "max"            // largest field value
	Stddev       Aggregate = "stddev"         // sample standard deviation of field (n−1)
	Distinct     Aggregate = "distinct"       // distinct values of field
	FirstSeenAge Aggregate = "first_seen_age" // seconds since the entity's first matching record
	Last         Aggregate = "last"           // field value of the latest matching record
	Ratio        Aggregate = "ratio"          // numerator / denominator, two other features
)

var aggregates = []Aggregate{Count, Sum, Avg, Min, Max, Stddev, Distinct, FirstSeenAge, Last, Ratio}

func (a Aggregate) valid() bool { return slices.Contains(aggregates, a) }

// needsField reports whether the aggregate reads a field's values.
func (a Aggregate) needsField() bool {
	switch a {
	case Sum, Avg, Min, Max, Stddev, Distinct, Last:
		return true
	}
	return false
}

// numeric reports whether the aggregate folds field values as numbers.
func (a Aggregate) numeric() bool {
	switch a {
	case Sum, Avg, Min, Max, Stddev:
		return true
	}
	return false
}

// Feature is one entry of features.yaml. Durations are zero when not given,
// except Resolution, which defaults to one second.
type Feature struct {
	Name        string
	Description string
	Aggregate   Aggregate
	Entity      []string       // the entity's fields: one, or several for a composite entity; empty for ratio
	Field       string         // the field whose values are aggregated (sum, avg, min, max, stddev, distinct, last)
	Window      time.Duration  // first_seen_age: how long without a matching record before the entity is new again
	Delay       time.Duration  // only contributions at least this old count
	At          string         // a timestamp field placing the contribution, when present; else the record's time
	Lateness    *time.Duration // nil: the engine's Options.Lateness
	Resolution  time.Duration  // bucket width
	Filter      Filter         // every condition must hold for a record to contribute
	Default     any            // the value when the aggregate is undefined; nil: the feature is absent then
	Numerator   string         // ratio only
	Denominator string         // ratio only
	Line        int            // where the feature starts in the file
}

// Specs is a parsed features.yaml: immutable, safe for concurrent use.
type Specs struct {
	File     string
	Features []Feature // in file order
	byName   map[string]int
	hash     string
}

// Names returns the feature names in file order.
func (s *Specs) Names() []string {
	names := make([]string, len(s.Features))
	for i, f := range s.Features {
		names[i] = f.Name
	}
	return names
}

// Feature returns the feature called name.
func (s *Specs) Feature(name string) (Feature, bool) {
	i, ok := s.byName[name]
	if !ok {
		return Feature{}, false
	}
	return s.Features[i], true
}

// Hash identifies the specs' meaning (not their formatting or comments):
// two files with the same hash compute the same features from the same state.
func (s *Specs) Hash() string { return s.hash }

// Limits of a spec.
const (
	minWindow         = time.Second
	maxWindow         = 90 * day
	defaultResolution = time.Second
	minResolution     = time.Millisecond
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// canonical renders everything that decides a feature's values, for Hash.
func (f *Feature) canonical() string {
	var b strings.Builder
	b.WriteString(f.Name)
	b.WriteString("|" + string(f.Aggregate))
	b.WriteString("|" + strings.Join(f.Entity, ","))
	b.WriteString("|" + f.Field)
	b.WriteString("|" + formatDuration(f.Window))
	b.WriteString("|" + formatDuration(f.Delay))
	b.WriteString("|" + f.At)
	if f.Lateness != nil {
		b.WriteString("|" + formatDuration(*f.Lateness))
	} else {
		b.WriteString("|-")
	}
	b.WriteString("|" + formatDuration(f.Resolution))
	b.WriteString("|" + f.Filter.canonical())
	b.WriteString("|" + canonicalValue(f.Default))
	b.WriteString("|" + f.Numerator + "/" + f.Denominator)
	return b.String()
}

func specsHash(features []Feature) string {
	d := xxhash.New()
	for i := range features {
		d.WriteString(features[i].canonical())
		d.WriteString("\n")
	}
	var sum [8]byte
	return hex.EncodeToString(d.Sum(sum[:0]))
}

// canonicalValue renders a filter operand or default unambiguously.
func canonicalValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		return strconv.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canonicalValue(e)
		}
		slices.Sort(parts)
		return "[" + strings.Join(parts, ",") + "]"
	}
	return "?"
}
