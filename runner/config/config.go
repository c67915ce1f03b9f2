// Package config loads the runner's configuration in layers — built-in
// defaults < YAML files < VIGIL_* environment < command-line flags — with
// koanf, and refuses anything it does not understand: an unknown key or a bad
// value stops the runner at start with one line that names the key and where
// it came from.
package config

import (
	"time"
)

// Config is the runner's whole configuration. Rules and features belong to
// the bundle; this is the environment: where records come from, where alerts
// go, stores and secrets (DESIGN §3.5).
type Config struct {
	Env         string            `koanf:"env"`
	Log         LogConfig         `koanf:"log"`
	Policies    PoliciesConfig    `koanf:"policies"`
	Record      RecordConfig      `koanf:"record"`
	Server      ServerConfig      `koanf:"server"`
	Store       StoreConfig       `koanf:"store"`
	Features    FeaturesConfig    `koanf:"features"`
	Alerts      AlertsConfig      `koanf:"alerts"`
	Notify      NotifyConfig      `koanf:"notify"`
	Handling    HandlingConfig    `koanf:"handling"` // escalation, auto-resolve, auto-actions (handling.go)
	DecisionLog DecisionLogConfig `koanf:"decision_log"`
	DeadLetter  DeadLetterConfig  `koanf:"dead_letter"`
	Sources     []SourceConfig    `koanf:"sources"`
	Demo        DemoConfig        `koanf:"demo"`
	Check       CheckConfig       `koanf:"check"`
}

type LogConfig struct {
	Level     string `koanf:"level"`     // debug, info, warn, error
	Format    string `koanf:"format"`    // text or json
	Decisions string `koanf:"decisions"` // none, hits (decisions with hits) or all: a log line per decision
}

type PoliciesConfig struct {
	Path  string `koanf:"path"`  // bundle directory or .tar.gz
	Watch bool   `koanf:"watch"` // reload when the bundle changes on disk

	// Signed bundles (vigil bundle build --signing-key): the key that checks
	// them, and whether an unsigned bundle is refused.
	VerificationKey       string `koanf:"verification_key"`       // file: a PEM public key, or the shared secret for HS*
	VerificationAlgorithm string `koanf:"verification_algorithm"` // RS256, PS256, ES256, HS256, ...
	RequireSignature      bool   `koanf:"require_signature"`      // refuse unsigned and tampered bundles (on in prod)
}

type RecordConfig struct {
	UnknownFields string            `koanf:"unknown_fields"` // keep, drop, reject; empty = the schema's choice
	Rename        map[string]string `koanf:"rename"`         // input name → schema field
	Defaults      map[string]any    `koanf:"defaults"`       // field → value when absent
	MaxLineBytes  int               `koanf:"max_line_bytes"` // longest JSONL line or CSV row
}

type ServerConfig struct {
	Addr            string        `koanf:"addr"`
	MaxBodyBytes    int64         `koanf:"max_body_bytes"`
	ReadTimeout     time.Duration `koanf:"read_timeout"`
	WriteTimeout    time.Duration `koanf:"write_timeout"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	Auth            AuthConfig    `koanf:"auth"` // users, roles and the server key (server_auth.go)
}

type StoreConfig struct {
	Path string `koanf:"path"` // SQLite file
}

// FeaturesConfig tunes the feature state; which features exist is the
// bundle's business (features.yaml).
type FeaturesConfig struct {
	Lateness         time.Duration `koanf:"lateness"`          // out-of-order tolerance in event time
	MaxEntities      int           `koanf:"max_entities"`      // beyond this the least recently updated are evicted
	SnapshotPath     string        `koanf:"snapshot_path"`     // restored at start, written periodically and at shutdown; empty: none
	SnapshotInterval time.Duration `koanf:"snapshot_interval"` // how often `vigil run` snapshots
	LogFeatures      bool          `koanf:"log_features"`      // the decision log shows the features and scores each decision saw
}

type AlertsConfig struct {
	MinSeverity string `koanf:"min_severity"` // hits below this severity raise no alert
	KeepRecords int    `koanf:"keep_records"` // records kept per alert
}

type NotifyConfig struct {
	PollInterval time.Duration `koanf:"poll_interval"`
	MaxAttempts  int           `koanf:"max_attempts"`
	BackoffBase  time.Duration `koanf:"backoff_base"`
	BackoffMax   time.Duration `koanf:"backoff_max"`
	LinkBase     string        `koanf:"link_base"` // e.g. https://vigil.example.com, for links in messages

	// The group timers of the route tree's root; routes inherit them unless
	// they set their own (Alertmanager semantics, see docs/notify.md).
	GroupWait      time.Duration `koanf:"group_wait"`      // before a new group's first notification
	GroupInterval  time.Duration `koanf:"group_interval"`  // before notifying a group's changes
	RepeatInterval time.Duration `koanf:"repeat_interval"` // before notifying an unchanged group again

	Route        RouteConfig         `koanf:"route"`         // the routing tree (checked by notify/route)
	InhibitRules []InhibitRuleConfig `koanf:"inhibit_rules"` // alerts that mute others
	Delivery     []DeliveryConfig    `koanf:"delivery"`      // per-receiver delivery policy: resolved, fallback
	Receivers    []ReceiverConfig    `koanf:"receivers"`
}

// RouteConfig is one node of the routing tree, as Alertmanager's route. An
// alert enters the root, goes down the first child whose matchers match
// (and on to later siblings when that child has continue), and is notified
// by the deepest routes it reached. Unset fields are inherited from the
// parent; the root's receiver defaults to the first receiver.
type RouteConfig struct {
	Receiver string   `koanf:"receiver"`
	Matchers []string `koanf:"matchers"` // e.g. severity=~"high|critical", env!="dev"
	Continue bool     `koanf:"continue"` // after matching, keep trying the next siblings
	// Unset (nil) is inherited, and not printed; [] groups all together.
	GroupBy        []string       `koanf:"group_by" print:"omitzero"` // label names; ["..."] groups by every label
	GroupWait      *time.Duration `koanf:"group_wait" print:"omitzero"`
	GroupInterval  *time.Duration `koanf:"group_interval" print:"omitzero"`
	RepeatInterval *time.Duration `koanf:"repeat_interval" print:"omitzero"`
	Routes         []RouteConfig  `koanf:"routes"`
}

// InhibitRuleConfig mutes the alerts matching the target matchers while an
// alert matching the source matchers fires with the same values of the
// equal labels — e.g. a block on an entity mutes its reviews.
type InhibitRuleConfig struct {
	SourceMatchers []string `koanf:"source_matchers"`
	TargetMatchers []string `koanf:"target_matchers"`
	Equal          []string `koanf:"equal"`
}

// DeliveryConfig is how the notification core treats one receiver (how the
// receiver's channel talks to its vendor is in receivers).
type DeliveryConfig struct {
	Receiver      string        `koanf:"receiver"`
	SendResolved  *bool         `koanf:"send_resolved" print:"omitzero"` // notify resolved alerts (default true)
	Fallback      string        `koanf:"fallback"`                       // the receiver that takes over when this one keeps failing
	FallbackAfter time.Duration `koanf:"fallback_after"`                 // how long it must have failed (default 10m)
}

type DecisionLogConfig struct {
	Path string `koanf:"path"` // "-" for stdout, a file path, or empty for none
}

type DeadLetterConfig struct {
	Path string `koanf:"path"` // JSONL file of records that could not be used; "-" for stderr
}

// SourceConfig is one stream of records for `vigil run`.
type SourceConfig struct {
	Name   string `koanf:"name"`
	Type   string `koanf:"type"`   // file, stdin
	Path   string `koanf:"path"`   // file
	Format string `koanf:"format"` // auto, json, jsonl, csv
	Follow bool   `koanf:"follow"` // keep reading as the file grows, across rotation
}

type DemoConfig struct {
	Enabled   bool    `koanf:"enabled"`
	Rate      float64 `koanf:"rate"`       // records per second
	FraudRate float64 `koanf:"fraud_rate"` // share of records with injected fraud
	Seed      int64   `koanf:"seed"`
}

type CheckConfig struct {
	MinCoverage float64 `koanf:"min_coverage"` // percent of Rego lines the unit tests must cover
}
