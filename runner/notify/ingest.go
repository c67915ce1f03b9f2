package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/notify/route"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// cursorName is the dispatcher's row in notify_cursor.
const cursorName = "alert_events"

// FanOut routes every alert event after the cursor (raised, resolved,
// reopened) into the groups of the routes that take it, and queues notices
// (escalated, guard_tripped: notice.go) for the receivers they name, a batch per transaction that also
// advances the cursor. It returns how many events it routed. Run calls it;
// it is exported for tools and tests.
func (d *Dispatcher) FanOut(ctx context.Context) (int, error) {
	total := 0
	var sils silence.Set // read when a batch holds a notice
	for {
		n, more, err := d.fanOutBatch(ctx, sils)
		if errors.Is(err, errNeedSilences) {
			if sils, err = d.silences.Active(ctx, d.opts.Now()); err != nil {
				return total, fmt.Errorf("route alert events: %w", err)
			}
			if sils == nil {
				sils = silence.Set{}
			}
			continue
		}
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func (d *Dispatcher) fanOutBatch(ctx context.Context, sils silence.Set) (routed int, more bool, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("route alert events: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var cursor int64
	err = tx.QueryRowContext(ctx, `SELECT event_id FROM notify_cursor WHERE name = ?`, cursorName).Scan(&cursor)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("route alert events: read cursor: %w", err)
	}
	events, err := alertsqlite.Feed(ctx, tx, cursor, d.opts.Batch)
	if err != nil {
		return 0, false, fmt.Errorf("route alert events: %w", err)
	}
	if len(events) == 0 {
		return 0, false, tx.Rollback()
	}
	g := d.grouper(tx, d.opts.Now().UTC())
	notices := 0
	for _, e := range events {
		if isNotice(e.Kind) {
			if sils == nil {
				return 0, false, errNeedSilences
			}
			n, err := d.notice(ctx, tx, &e, sils, g.now)
			if err != nil {
				return 0, false, fmt.Errorf("route alert events: event %d: %w", e.ID, err)
			}
			notices += n
			routed++
			continue
		}
		var a alert.Alert
		if err := json.Unmarshal(e.Data, &a); err != nil {
			// Unroutable; the alert itself is still in the store.
			d.log.Error("notify: alert event without a readable alert; not notified", "event", e.ID, "alert", e.AlertID, "error", err)
			continue
		}
		a.ID = e.AlertID
		l := d.alertLabels(&a)
		if err := g.add(ctx, a.ID, l, e.Kind == alert.EventResolved); err != nil {
			return 0, false, fmt.Errorf("route alert events: event %d: %w", e.ID, err)
		}
		routed++
	}
	last := events[len(events)-1].ID
	if _, err = tx.ExecContext(ctx, `INSERT INTO notify_cursor (name, event_id, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id, updated_at = excluded.updated_at`,
		cursorName, last, sqldb.FormatTime(g.now)); err != nil {
		return 0, false, fmt.Errorf("route alert events: move cursor to %d: %w", last, err)
	}
	if err = tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("route alert events: commit: %w", err)
	}
	if notices > 0 {
		d.wakeAll()
	}
	return routed, len(events) == d.opts.Batch, nil
}

// grouper puts alerts into groups within one transaction.
type grouper struct {
	d             *Dispatcher
	tx            *sql.Tx
	now           time.Time
	groups        map[string]int64 // group key → id, for this transaction
	group, member *sql.Stmt        // prepared on first use: preparing costs as much as running
}

func (d *Dispatcher) grouper(tx *sql.Tx, now time.Time) *grouper {
	return &grouper{d: d, tx: tx, now: now, groups: map[string]int64{}}
}

// prepare readies the grouper's statements; they end with the transaction.
func (g *grouper) prepare(ctx context.Context) error {
	if g.group != nil {
		return nil
	}
	var err error
	// The no-op update makes RETURNING give the id of an existing group too.
	if g.group, err = g.tx.PrepareContext(ctx, `INSERT INTO notify_groups (group_key, route, receiver, labels, created_at, next_flush_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (group_key) DO UPDATE SET group_key = excluded.group_key RETURNING id`); err != nil {
		return err
	}
	g.member, err = g.tx.PrepareContext(ctx, `INSERT INTO notify_group_alerts (group_id, alert_id, labels, resolved, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (group_id, alert_id) DO UPDATE SET resolved = excluded.resolved, updated_at = excluded.updated_at`)
	return err
}

// add puts the alert into the group of every route that takes it, creating
// groups as needed (their first flush after group_wait).
func (g *grouper) add(ctx context.Context, alertID int64, l alert.Labels, resolved bool) error {
	labels, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if err := g.prepare(ctx); err != nil {
		return err
	}
	for _, r := range g.d.tree.Match(l) {
		id, err := g.groupID(ctx, r, l)
		if err != nil {
			return err
		}
		if _, err := g.member.ExecContext(ctx, id, alertID, string(labels), resolved, sqldb.FormatTime(g.now)); err != nil {
			return fmt.Errorf("alert %d into group %d: %w", alertID, id, err)
		}
	}
	return nil
}

func (g *grouper) groupID(ctx context.Context, r *route.Route, l alert.Labels) (int64, error) {
	key, labels := r.GroupKey(l)
	if id, ok := g.groups[key]; ok {
		return id, nil
	}
	lj, err := json.Marshal(labels)
	if err != nil {
		return 0, err
	}
	now := sqldb.FormatTime(g.now)
	var id int64
	err = g.group.QueryRowContext(ctx, key, r.Key(), r.Receiver, string(lj), now, sqldb.FormatTime(g.now.Add(r.GroupWait))).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("group %s: %w", key, err)
	}
	g.groups[key] = id
	return id, nil
}

// reroute moves alerts into the groups the routes would give them now,
// when the routing tree changed since the last start: an alert leaves a
// group whose route no longer takes it (or no longer exists) and joins those
// of the routes that do, which then notify it as news. Groups left empty go.
func (d *Dispatcher) reroute(ctx context.Context) (err error) {
	var keys []string
	d.tree.Walk(func(r *route.Route) { keys = append(keys, r.Key()) })
	signature := key(keys...)
	var stored string
	err = d.db.QueryRowContext(ctx, `SELECT value FROM notify_state WHERE name = 'routes'`).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("re-route: %w", err)
	}
	if stored == signature {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("re-route: %w", err)
	}
	defer tx.Rollback()
	type member struct {
		groupID  int64
		alertID  int64
		labels   alert.Labels
		resolved bool
	}
	rows, err := tx.QueryContext(ctx, `SELECT g.id, g.group_key, g.route, m.alert_id, m.labels, m.resolved
		FROM notify_group_alerts m JOIN notify_groups g ON g.id = m.group_id`)
	if err != nil {
		return fmt.Errorf("re-route: %w", err)
	}
	var moved []member
	for rows.Next() {
		var m member
		var groupKey, routeKey string
		var lj []byte
		if err := rows.Scan(&m.groupID, &groupKey, &routeKey, &m.alertID, &lj, &m.resolved); err != nil {
			rows.Close()
			return fmt.Errorf("re-route: %w", err)
		}
		if err := json.Unmarshal(lj, &m.labels); err != nil {
			rows.Close()
			return fmt.Errorf("re-route: alert %d: labels: %w", m.alertID, err)
		}
		stays := false
		for _, r := range d.tree.Match(m.labels) {
			if k, _ := r.GroupKey(m.labels); k == groupKey && r.Key() == routeKey {
				stays = true
			}
		}
		if !stays {
			moved = append(moved, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("re-route: %w", err)
	}
	g := d.grouper(tx, d.opts.Now().UTC())
	for _, m := range moved {
		if _, err := tx.ExecContext(ctx, `DELETE FROM notify_group_alerts WHERE group_id = ? AND alert_id = ?`, m.groupID, m.alertID); err != nil {
			return fmt.Errorf("re-route alert %d: %w", m.alertID, err)
		}
		if err := g.add(ctx, m.alertID, m.labels, m.resolved); err != nil {
			return fmt.Errorf("re-route alert %d: %w", m.alertID, err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM notify_groups WHERE NOT EXISTS (
		SELECT 1 FROM notify_group_alerts m WHERE m.group_id = notify_groups.id)`)
	if err != nil {
		return fmt.Errorf("re-route: delete empty groups: %w", err)
	}
	emptied, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `INSERT INTO notify_state (name, value) VALUES ('routes', ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, signature); err != nil {
		return fmt.Errorf("re-route: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("re-route: %w", err)
	}
	if stored != "" {
		d.log.Info("notify: the routes changed; alerts whose routes changed were routed again",
			"alerts", len(moved), "groups_removed", emptied)
	}
	return nil
}
