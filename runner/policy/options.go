package policy

import (
	"cmp"
	"log/slog"
	"time"
)

// Option tunes Load, NewEngine and Decide.
type Option func(*options)

type options struct {
	schemaField   func(name string) bool // nil: the bundle's schema.yaml decides, if any
	idField       string
	typeField     string
	timeField     string
	runnerVersion string
	log           *slog.Logger
	debounce      time.Duration
	verification  *Verification // nil: signatures are not checked
	differential  bool          // Decide checks the fast path against plain OPA
	noFastPath    bool          // every record goes through the one OPA query
}

func newOptions(opts []Option) options {
	o := options{log: slog.New(slog.DiscardHandler), debounce: 250 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithSchemaFields sets the test for a rule's `entity`: it must name a field
// for which isField is true. Without it, the bundle's schema.yaml is used
// when the bundle has one, and any non-empty entity is accepted otherwise.
func WithSchemaFields(isField func(name string) bool) Option {
	return func(o *options) { o.schemaField = isField }
}

// WithRecordFields names the record fields a decision takes its record id,
// type and time from. Empty names keep the default: the bundle schema's
// id_field, type_field and time_field, else id, type and ts.
func WithRecordFields(id, typ, ts string) Option {
	return func(o *options) {
		o.idField = cmp.Or(id, o.idField)
		o.typeField = cmp.Or(typ, o.typeField)
		o.timeField = cmp.Or(ts, o.timeField)
	}
}

// WithRunnerVersion stamps decisions with the runner's version.
func WithRunnerVersion(v string) Option {
	return func(o *options) { o.runnerVersion = v }
}

// WithLogger sets the logger Load uses for its notes (NewEngine takes its
// logger as an argument).
func WithLogger(log *slog.Logger) Option {
	return func(o *options) {
		if log != nil {
			o.log = log
		}
	}
}

// WithDebounce sets how long Watch waits for a burst of file events to end
// before it reloads (default 250ms).
func WithDebounce(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.debounce = d
		}
	}
}
