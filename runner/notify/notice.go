package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/silence"
)

// Notices are alert events that name their receivers (alert.NoticeData):
// an escalation's level, a tripped auto-action guard. They skip the routing
// tree and the groups — a group that already told its receiver of the alert
// would stay silent — and go straight into the outbox as one message per
// receiver, with the notice's labels (escalation_level, ...) added to the
// alert's. Silences apply; inhibition does not. The idempotency key derives
// from the event, so a notice is queued once however often it is routed.

// isNotice reports whether an event of this kind is a notice.
func isNotice(k alert.EventKind) bool {
	return k == alert.EventEscalated || k == alert.EventGuardTripped
}

// errNeedSilences makes FanOut read the active silences (outside any
// transaction) and route the batch again.
var errNeedSilences = errors.New("notices need the active silences")

// notice queues one notice event for each of its receivers; it returns how
// many messages it queued.
func (d *Dispatcher) notice(ctx context.Context, tx *sql.Tx, e *alert.Event, sils silence.Set, now time.Time) (int, error) {
	var nd alert.NoticeData
	if err := json.Unmarshal(e.Data, &nd); err != nil {
		d.log.Error("notify: notice without a readable alert; not notified", "event", e.ID, "alert", e.AlertID, "error", err)
		return 0, nil
	}
	nd.Alert.ID = e.AlertID
	l := d.alertLabels(&nd.Alert)
	maps.Copy(l, nd.Notice.Labels)
	if id := sils.Mutes(l); id != "" {
		d.log.Info("notify: notice silenced", "event", e.ID, "alert", e.AlertID, "kind", e.Kind, "silence", id)
		return 0, nil
	}
	group := alert.Labels{alert.LabelAlertname: nd.Alert.Rule}
	maps.Copy(group, nd.Notice.Labels)
	queued := 0
	for _, name := range nd.Notice.Receivers {
		r, ok := d.byName[name]
		if !ok {
			d.log.Error("notify: notice names a receiver that is not configured; not sent", "event", e.ID, "alert", e.AlertID, "receiver", name)
			continue
		}
		m := &Message{
			Receiver:       r.Name,
			GroupKey:       fmt.Sprintf("%s:%d", e.Kind, e.AlertID),
			GroupLabels:    group,
			Status:         Firing,
			Alerts:         []alert.Alert{nd.Alert},
			Digest:         1,
			Locale:         r.Locale,
			LinkBase:       d.opts.LinkBase,
			IdempotencyKey: key("notice", fmt.Sprint(e.ID), r.Name),
		}
		if err := d.enqueue(ctx, tx, m, now); err != nil {
			return queued, err
		}
		queued++
	}
	return queued, nil
}
