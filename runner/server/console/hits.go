package console

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// hitKeep is how long hourly hit counts are kept.
const hitKeep = 8 * 24 * time.Hour

// RuleHits counts a rule's hits over a window.
type RuleHits struct {
	Hits   int64 // enforced
	Shadow int64
}

// hitCounter counts rule hits per hour: in memory on the decision path (an
// atomic add per hit, no lock, no allocation once a rule has been seen),
// added to console_rule_hits at every flush.
type hitCounter struct {
	db     *sql.DB
	counts sync.Map // rule → *ruleCount: what is not flushed yet
	now    func() time.Time
	mu     sync.Mutex // one flush at a time
}

type ruleCount struct{ hits, shadow atomic.Int64 }

func (c *hitCounter) observe(d *decision.Decision) {
	for i := range d.Hits {
		c.count(d.Hits[i].Rule).hits.Add(1)
	}
	for i := range d.ShadowHits {
		c.count(d.ShadowHits[i].Rule).shadow.Add(1)
	}
}

func (c *hitCounter) count(rule string) *ruleCount {
	if v, ok := c.counts.Load(rule); ok {
		return v.(*ruleCount)
	}
	v, _ := c.counts.LoadOrStore(rule, new(ruleCount))
	return v.(*ruleCount)
}

type hitDelta struct {
	rule         string
	hits, shadow int64
}

// flush adds what was counted since the last flush to the hour it happens
// in. When the write fails the counts are put back, so none is lost.
func (c *hitCounter) flush(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var deltas []hitDelta
	c.counts.Range(func(k, v any) bool {
		rc := v.(*ruleCount)
		if h, s := rc.hits.Swap(0), rc.shadow.Swap(0); h != 0 || s != 0 {
			deltas = append(deltas, hitDelta{k.(string), h, s})
		}
		return true
	})
	if len(deltas) == 0 {
		return nil
	}
	now := c.now().UTC()
	if err := c.write(ctx, deltas, now); err != nil {
		for _, d := range deltas {
			rc := c.count(d.rule)
			rc.hits.Add(d.hits)
			rc.shadow.Add(d.shadow)
		}
		return fmt.Errorf("rule hit counts: %w", err)
	}
	return nil
}

func (c *hitCounter) write(ctx context.Context, deltas []hitDelta, now time.Time) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	hour := sqldb.FormatTime(now.Truncate(time.Hour))
	for _, d := range deltas {
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_rule_hits (rule, hour, hits, shadow_hits) VALUES (?, ?, ?, ?)
			ON CONFLICT (rule, hour) DO UPDATE SET hits = hits + excluded.hits, shadow_hits = shadow_hits + excluded.shadow_hits`,
			d.rule, hour, d.hits, d.shadow); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM console_rule_hits WHERE hour < ?`, sqldb.FormatTime(now.Add(-hitKeep))); err != nil {
		return err
	}
	return tx.Commit()
}

// since returns the hits per rule from the hour holding t on, the counts not
// yet flushed included.
func (c *hitCounter) since(ctx context.Context, t time.Time) (map[string]RuleHits, error) {
	c.mu.Lock() // not halfway through a flush: its counts are in neither place
	defer c.mu.Unlock()
	rows, err := c.db.QueryContext(ctx, `SELECT rule, SUM(hits), SUM(shadow_hits) FROM console_rule_hits WHERE hour >= ? GROUP BY rule`,
		sqldb.FormatTime(t.UTC().Truncate(time.Hour)))
	if err != nil {
		return nil, fmt.Errorf("rule hit counts: %w", err)
	}
	defer rows.Close()
	out := map[string]RuleHits{}
	for rows.Next() {
		var rule string
		var h RuleHits
		if err := rows.Scan(&rule, &h.Hits, &h.Shadow); err != nil {
			return nil, fmt.Errorf("rule hit counts: %w", err)
		}
		out[rule] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rule hit counts: %w", err)
	}
	c.counts.Range(func(k, v any) bool {
		rc := v.(*ruleCount)
		h := out[k.(string)]
		h.Hits += rc.hits.Load()
		h.Shadow += rc.shadow.Load()
		if h != (RuleHits{}) {
			out[k.(string)] = h
		}
		return true
	})
	return out, nil
}
