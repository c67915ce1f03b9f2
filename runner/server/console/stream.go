package console

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Component is the console's tables' name in schema_migrations.
const Component = "console"

// TapOptions configure a Tap.
type TapOptions struct {
	Next          pipeline.DecisionWriter // the decision log it sits in front of; may be nil
	FlushInterval time.Duration           // how often hit counts reach the store (default 15s)
	MaxPerSecond  int                     // decisions sent to live streams per second (default 50); the rest are counted as dropped
	Now           func() time.Time
	Log           *slog.Logger
}

// Tap sits in the pipeline's decision writer chain: it counts every rule
// hit per hour for the rules page and feeds the live stream (SSE), then
// hands the decision on. With nobody watching, a decision without hits
// costs it a loop over its hits and one atomic load.
type Tap struct {
	next     pipeline.DecisionWriter
	hits     *hitCounter
	hub      *hub
	interval time.Duration
	log      *slog.Logger
}

// NewTap applies the console's migrations to db and returns a Tap over it.
func NewTap(ctx context.Context, db *sql.DB, opts TapOptions) (*Tap, error) {
	if db == nil {
		return nil, errors.New("console tap: database is nil")
	}
	if err := sqldb.Migrate(ctx, db, Component, migrations); err != nil {
		return nil, fmt.Errorf("console tap: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 15 * time.Second
	}
	if opts.MaxPerSecond <= 0 {
		opts.MaxPerSecond = 50
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Tap{
		next:     opts.Next,
		hits:     &hitCounter{db: db, now: opts.Now},
		hub:      newHub(opts.MaxPerSecond, opts.Now),
		interval: opts.FlushInterval,
		log:      opts.Log,
	}, nil
}

// WriteDecision counts the decision's hits, shows it to live streams, and
// passes it on to the next writer.
func (t *Tap) WriteDecision(d *decision.Decision) error {
	t.hits.observe(d)
	hasHits := len(d.Hits)+len(d.ShadowHits) > 0
	if hasHits || t.hub.watchers.Load() > 0 {
		t.hub.publish(d, hasHits)
	}
	if t.next != nil {
		return t.next.WriteDecision(d)
	}
	return nil
}

// Run writes the hit counts every flush interval until ctx ends, and once
// more then.
func (t *Tap) Run(ctx context.Context) error {
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return t.Flush(context.WithoutCancel(ctx))
		case <-tick.C:
			if err := t.Flush(ctx); err != nil {
				t.log.Error("console: rule hit counts not saved; retrying at the next flush", "err", err)
			}
		}
	}
}

// Flush writes the hit counts now.
func (t *Tap) Flush(ctx context.Context) error { return t.hits.flush(ctx) }

// Hits returns the hits per rule since t (from the start of its hour).
func (t *Tap) Hits(ctx context.Context, since time.Time) (map[string]RuleHits, error) {
	return t.hits.since(ctx, since)
}

// Close ends every live stream, as the server shuts down: an open stream
// would otherwise hold the shutdown until its timeout.
func (t *Tap) Close() { t.hub.close() }

// StreamHit is a hit as the live stream shows it.
type StreamHit struct {
	Rule     string            `json:"rule"`
	Severity decision.Severity `json:"severity"`
	Reason   string            `json:"reason"`
	Shadow   bool              `json:"shadow,omitempty"`
}

// StreamEvent is a decision as the live stream shows it: no record fields,
// only what was decided.
type StreamEvent struct {
	RecordID string          `json:"record_id"`
	Type     string          `json:"type,omitempty"`
	Time     time.Time       `json:"ts"`
	Action   decision.Action `json:"action"`
	Score    int             `json:"score"`
	Hits     []StreamHit     `json:"hits"`
	Source   string          `json:"source,omitempty"`
	Revision string          `json:"policy_revision,omitempty"`
}

func streamEvent(d *decision.Decision) StreamEvent {
	e := StreamEvent{RecordID: d.RecordID, Type: d.RecordType, Time: d.Time, Action: d.Action, Score: d.Score,
		Source: d.Source, Revision: d.PolicyRevision, Hits: make([]StreamHit, 0, len(d.Hits)+len(d.ShadowHits))}
	for _, h := range d.Hits {
		e.Hits = append(e.Hits, StreamHit{Rule: h.Rule, Severity: h.Severity, Reason: h.Reason})
	}
	for _, h := range d.ShadowHits {
		e.Hits = append(e.Hits, StreamHit{Rule: h.Rule, Severity: h.Severity, Reason: h.Reason, Shadow: true})
	}
	return e
}

// recentSize is how many recent decisions with hits the live page shows
// before its stream starts (and without JavaScript).
const recentSize = 50

// maxWatchers bounds the open live streams.
const maxWatchers = 64

// hub fans decisions out to the live streams, at most maxPerSecond a
// second (decisions without hits at most half of that, so that hits show
// in a flood of allows), and keeps the latest decisions with hits.
type hub struct {
	watchers atomic.Int32
	now      func() time.Time
	limit    int

	mu      sync.Mutex
	subs    map[chan []byte]struct{}
	recent  [recentSize]StreamEvent
	next    int // where the next recent event goes
	kept    int // recent events kept, up to recentSize
	window  time.Time
	sent    int // in the current second
	dropped int // since the last dropped notice
	closed  bool
}

func newHub(limit int, now func() time.Time) *hub {
	return &hub{limit: limit, now: now, subs: map[chan []byte]struct{}{}}
}

func (h *hub) publish(d *decision.Decision, hasHits bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if sec := now.Truncate(time.Second); !sec.Equal(h.window) {
		h.window, h.sent = sec, 0
		if h.dropped > 0 && len(h.subs) > 0 {
			h.send(fmt.Appendf(nil, "event: dropped\ndata: %d\n\n", h.dropped))
		}
		h.dropped = 0
	}
	limit := h.limit
	if !hasHits {
		limit /= 2
	}
	if h.sent >= limit {
		h.dropped++
		return
	}
	h.sent++
	e := streamEvent(d)
	if hasHits {
		h.recent[h.next] = e
		h.next = (h.next + 1) % recentSize
		h.kept = min(h.kept+1, recentSize)
	}
	if len(h.subs) == 0 {
		return
	}
	data, err := json.Marshal(e)
	if err != nil {
		return // a decision always encodes
	}
	msg := make([]byte, 0, len(data)+24)
	msg = append(msg, "event: decision\ndata: "...)
	msg = append(msg, data...)
	h.send(append(msg, "\n\n"...))
}

// send queues msg for every stream; a stream too slow to keep up misses it.
func (h *hub) send(msg []byte) {
	for ch := range h.subs {
		select {
		case ch <- msg:
		default:
		}
	}
}

// subscribe opens a stream; the channel is closed when the hub closes.
func (h *hub) subscribe() (<-chan []byte, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errors.New("the server is shutting down")
	}
	if len(h.subs) >= maxWatchers {
		return nil, nil, fmt.Errorf("too many live streams open (%d)", maxWatchers)
	}
	ch := make(chan []byte, 64)
	h.subs[ch] = struct{}{}
	h.watchers.Add(1)
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			h.watchers.Add(-1)
		}
	}, nil
}

// latest returns the recent decisions with hits, newest first.
func (h *hub) latest() []StreamEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]StreamEvent, 0, h.kept)
	for i := 1; i <= h.kept; i++ {
		out = append(out, h.recent[(h.next-i+recentSize)%recentSize])
	}
	return out
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		close(ch)
		delete(h.subs, ch)
		h.watchers.Add(-1)
	}
}
