package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/notify/inhibit"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// group is a stored group at flush time.
type group struct {
	id            int64
	key, route    string
	receiver      string
	labels        map[string]string
	created       time.Time
	notifiedAt    sql.NullString
	firing        []int64 // the notification log: what the last notification announced
	resolved      []int64
	notifications int
	members       []member
}

type member struct {
	alertID int64
	labels  alert.Labels
}

// muter says whether an alert is silenced or inhibited at one flush.
type muter struct {
	silences silence.Set
	inhibit  *inhibit.Index // nil without rules
}

func (m *muter) mutes(l alert.Labels) bool {
	return m.silences.Mutes(l) != "" || (m.inhibit != nil && m.inhibit.Mutes(l))
}

// Flush evaluates every group whose timer is due, as Alertmanager's
// aggregation groups do at each tick: the alerts neither silenced nor
// inhibited are compared with what the group last notified, and a message
// goes into the outbox when a firing alert is new, when some resolved (for a
// receiver that wants them), when all resolved, or when repeat_interval has
// passed with alerts still firing. Resolved alerts then leave the group, an
// empty group is deleted, and the next tick is group_interval later. It
// returns how many messages it queued.
func (d *Dispatcher) Flush(ctx context.Context) (int, error) {
	now := d.opts.Now().UTC()
	if next, err := d.nextFlush(ctx); err != nil || next.IsZero() || next.After(now) {
		return 0, err // nothing is due
	}
	// Silences are read before any transaction: the pool's one connection
	// is the transaction's until it ends.
	sils, err := d.silences.Active(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("flush groups: %w", err)
	}
	mute := &muter{silences: sils}
	total := 0
	for {
		n, more, err := d.flushBatch(ctx, now, mute)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func (d *Dispatcher) flushBatch(ctx context.Context, now time.Time, mute *muter) (queued int, more bool, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("flush groups: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	groups, err := dueGroups(ctx, tx, now, d.opts.Batch)
	if err != nil {
		return 0, false, fmt.Errorf("flush groups: %w", err)
	}
	if len(groups) == 0 {
		return 0, false, tx.Rollback()
	}
	if mute.inhibit == nil && len(d.opts.Inhibit) > 0 { // once per flush: the inhibiting alerts as of now
		if mute.inhibit, err = d.inhibitIndex(ctx, tx); err != nil {
			return 0, false, fmt.Errorf("flush groups: %w", err)
		}
	}
	var ids []int64
	for _, g := range groups {
		for _, m := range g.members {
			ids = append(ids, m.alertID)
		}
	}
	alerts, err := alertsqlite.Alerts(ctx, tx, ids)
	if err != nil {
		return 0, false, fmt.Errorf("flush groups: %w", err)
	}
	for _, g := range groups {
		ok, err := d.flushGroup(ctx, tx, g, alerts, mute, now)
		if err != nil {
			return 0, false, fmt.Errorf("flush group %s: %w", g.key, err)
		}
		if ok {
			queued++
		}
	}
	if err = tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("flush groups: commit: %w", err)
	}
	return queued, len(groups) == d.opts.Batch, nil
}

// flushGroup evaluates one due group; it reports whether it queued a message.
func (d *Dispatcher) flushGroup(ctx context.Context, tx *sql.Tx, g *group, alerts map[int64]alert.Alert, mute *muter, now time.Time) (bool, error) {
	r, routed := d.routes[g.route]
	recv, known := d.byName[g.receiver]
	if !routed || !known {
		// Only possible if the configuration changed under a running
		// dispatcher's database; the next start re-routes it.
		_, err := tx.ExecContext(ctx, `UPDATE notify_groups SET next_flush_at = ? WHERE id = ?`,
			sqldb.FormatTime(now.Add(time.Hour)), g.id)
		return false, err
	}
	var firing, resolved []alert.Alert
	var gone, done []int64 // alerts no longer stored; resolved alerts that leave the group
	for _, m := range g.members {
		a, ok := alerts[m.alertID]
		if !ok {
			gone = append(gone, m.alertID)
			continue
		}
		isResolved := a.Status == alert.Resolved
		if isResolved {
			done = append(done, a.ID)
		}
		if mute.mutes(m.labels) {
			continue
		}
		if isResolved {
			resolved = append(resolved, a)
		} else {
			firing = append(firing, a)
		}
	}
	firingIDs, resolvedIDs := ids(firing), ids(resolved)
	queued := false
	if d.needsUpdate(g, firingIDs, resolvedIDs, recv.SendResolved, r.RepeatInterval, now) {
		out := firing
		if recv.SendResolved {
			out = append(slices.Clip(out), resolved...)
		}
		if len(out) > 0 {
			g.notifications++
			m := &Message{
				Receiver:    recv.Name,
				GroupKey:    g.key,
				GroupLabels: g.labels,
				Status:      Resolved,
				Alerts:      out,
				Digest:      1,
				Locale:      recv.Locale,
				LinkBase:    d.opts.LinkBase,
				IdempotencyKey: key(recv.Name, g.key, strconv.FormatInt(g.id, 10), sqldb.FormatTime(g.created),
					strconv.Itoa(g.notifications)),
			}
			if len(firing) > 0 {
				m.Status = Firing
			}
			if err := d.enqueue(ctx, tx, m, now); err != nil {
				return false, err
			}
			queued = true
		}
		fj, _ := json.Marshal(firingIDs)
		rj, _ := json.Marshal(resolvedIDs)
		if _, err := tx.ExecContext(ctx, `UPDATE notify_groups SET notified_at = ?, notified_firing = ?, notified_resolved = ?,
			notifications = ? WHERE id = ?`, sqldb.FormatTime(now), string(fj), string(rj), g.notifications, g.id); err != nil {
			return false, err
		}
	}
	if leaving := append(gone, done...); len(leaving) > 0 {
		if err := deleteMembers(ctx, tx, g.id, leaving); err != nil {
			return false, err
		}
	}
	if len(g.members) == len(gone)+len(done) {
		_, err := tx.ExecContext(ctx, `DELETE FROM notify_groups WHERE id = ?`, g.id)
		return queued, err
	}
	_, err := tx.ExecContext(ctx, `UPDATE notify_groups SET next_flush_at = ? WHERE id = ?`,
		sqldb.FormatTime(now.Add(r.GroupInterval)), g.id)
	return queued, err
}

// needsUpdate is Alertmanager's dedup decision over the group's notification
// log: notify when a firing alert was not in the last notification, when all
// alerts resolved after the receiver heard of some firing, when an alert
// resolved that the receiver wants to hear of, or when nothing changed but
// the repeat interval has passed.
func (d *Dispatcher) needsUpdate(g *group, firing, resolved []int64, sendResolved bool, repeat time.Duration, now time.Time) bool {
	if !g.notifiedAt.Valid {
		return len(firing) > 0
	}
	if !subset(firing, g.firing) {
		return true
	}
	if len(firing) == 0 {
		return len(g.firing) > 0
	}
	if sendResolved && !subset(resolved, g.resolved) {
		return true
	}
	last, err := sqldb.ParseTime(g.notifiedAt.String)
	return err != nil || !last.After(now.Add(-repeat))
}

// subset reports whether every element of a is in b (b sorted).
func subset(a, b []int64) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			return false
		}
	}
	return true
}

// ids returns the alerts' IDs, sorted.
func ids(alerts []alert.Alert) []int64 {
	out := make([]int64, len(alerts))
	for i := range alerts {
		out[i] = alerts[i].ID
	}
	slices.Sort(out)
	return out
}

// inhibitIndex indexes the firing alerts of every group as sources of
// inhibition.
func (d *Dispatcher) inhibitIndex(ctx context.Context, tx *sql.Tx) (*inhibit.Index, error) {
	rows, err := tx.QueryContext(ctx, `SELECT labels FROM notify_group_alerts WHERE resolved = 0 GROUP BY alert_id`)
	if err != nil {
		return nil, fmt.Errorf("inhibiting alerts: %w", err)
	}
	defer rows.Close()
	var firing []alert.Labels
	for rows.Next() {
		var lj []byte
		var l alert.Labels
		if err := rows.Scan(&lj); err != nil {
			return nil, fmt.Errorf("inhibiting alerts: %w", err)
		}
		if err := json.Unmarshal(lj, &l); err != nil {
			return nil, fmt.Errorf("inhibiting alerts: labels: %w", err)
		}
		firing = append(firing, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inhibiting alerts: %w", err)
	}
	return inhibit.NewIndex(d.opts.Inhibit, firing), nil
}

// dueGroups reads up to limit groups due at now, with their members.
func dueGroups(ctx context.Context, tx *sql.Tx, now time.Time, limit int) ([]*group, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, group_key, route, receiver, labels, created_at, notified_at,
		notified_firing, notified_resolved, notifications
		FROM notify_groups WHERE next_flush_at <= ? ORDER BY next_flush_at, id LIMIT ?`, sqldb.FormatTime(now), limit)
	if err != nil {
		return nil, err
	}
	var groups []*group
	byID := map[int64]*group{}
	for rows.Next() {
		g := &group{}
		var labels, created, firing, resolved []byte
		if err := rows.Scan(&g.id, &g.key, &g.route, &g.receiver, &labels, &created, &g.notifiedAt, &firing, &resolved,
			&g.notifications); err != nil {
			rows.Close()
			return nil, err
		}
		err := json.Unmarshal(labels, &g.labels)
		if err == nil {
			err = json.Unmarshal(firing, &g.firing)
		}
		if err == nil {
			err = json.Unmarshal(resolved, &g.resolved)
		}
		if err == nil {
			g.created, err = sqldb.ParseTime(string(created))
		}
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("group %s: %w", g.key, err)
		}
		slices.Sort(g.firing)
		slices.Sort(g.resolved)
		groups = append(groups, g)
		byID[g.id] = g
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, nil
	}
	args := make([]any, len(groups))
	for i, g := range groups {
		args[i] = g.id
	}
	rows, err = tx.QueryContext(ctx, `SELECT group_id, alert_id, labels FROM notify_group_alerts
		WHERE group_id IN (?`+strings.Repeat(", ?", len(groups)-1)+`) ORDER BY group_id, alert_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var gid int64
		var m member
		var lj []byte
		if err := rows.Scan(&gid, &m.alertID, &lj); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(lj, &m.labels); err != nil {
			return nil, fmt.Errorf("alert %d: labels: %w", m.alertID, err)
		}
		byID[gid].members = append(byID[gid].members, m)
	}
	return groups, rows.Err()
}

func deleteMembers(ctx context.Context, tx *sql.Tx, groupID int64, alertIDs []int64) error {
	for chunk := range slices.Chunk(alertIDs, 500) { // well below SQLite's limit on parameters
		args := make([]any, 0, len(chunk)+1)
		args = append(args, groupID)
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM notify_group_alerts WHERE group_id = ? AND alert_id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// nextFlush is when the earliest group falls due; zero if there is none.
func (d *Dispatcher) nextFlush(ctx context.Context) (time.Time, error) {
	var next sql.NullString
	if err := d.db.QueryRowContext(ctx, `SELECT MIN(next_flush_at) FROM notify_groups`).Scan(&next); err != nil || !next.Valid {
		return time.Time{}, err
	}
	return sqldb.ParseTime(next.String)
}
