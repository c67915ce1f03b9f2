package notify

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify/route"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// postChannel posts each message's group key to a URL.
type postChannel struct{ url string }

func (c postChannel) Limits() Limits { return Limits{} }
func (c postChannel) Render(m *Message) ([]Payload, error) {
	return []Payload{{Body: []byte(m.GroupKey), Part: 1, Parts: 1, IdempotencyKey: m.IdempotencyKey}}, nil
}
func (c postChannel) Send(ctx context.Context, p Payload) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(p.Body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return true, err
	}
	resp.Body.Close()
	return false, nil
}

// A database from before routing: its still-pending per-event notifications
// are routed again when the new outbox replaces the old one.
func TestUpgradeRoutesPendingNotificationsAgain(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc, err := alert.NewService(store, alert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, card := range []string{"c1", "c2"} {
		rec := record.Record{ID: card, Type: "payment", Time: time.Now(), Fields: map[string]any{"card_id": card}}
		dec := decision.Decision{RecordID: card, Hits: []decision.Hit{{Rule: "card_testing", Severity: decision.High,
			Action: decision.Block, Reason: "x", Entity: &decision.Entity{Field: "card_id", Value: card}}}}
		if _, err := svc.Observe(ctx, rec, dec); err != nil {
			t.Fatal(err)
		}
	}
	// The first outbox: c1's notification delivered, c2's still pending.
	old, err := fs.ReadFile(migrations, "migrations/001_outbox.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := sqldb.Migrate(ctx, db, Component, fstest.MapFS{"001_outbox.sql": {Data: old}}); err != nil {
		t.Fatal(err)
	}
	now := sqldb.FormatTime(time.Now())
	for _, row := range []struct {
		event  int64
		status string
	}{{1, "delivered"}, {2, "pending"}} {
		if _, err := db.Exec(`INSERT INTO notifications (receiver, event_id, alert_id, kind, alert, idempotency_key, status,
			next_attempt_at, created_at, updated_at) VALUES ('ops', ?, ?, 'firing', '{}', ?, ?, ?, ?, ?)`,
			row.event, row.event, "k", row.status, now, now, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO notify_cursor (name, event_id, updated_at) VALUES ('alert_events', 2, ?)`, now); err != nil {
		t.Fatal(err)
	}

	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	}))
	defer srv.Close()
	tree, err := route.New(config.RouteConfig{GroupBy: []string{"entity"}, GroupWait: new(time.Duration)}, DefaultTimers, []string{"ops"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher(ctx, db, []Receiver{{Name: "ops", Channel: postChannel{srv.URL}}}, Options{Route: tree})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func(context.Context) (int, error){d.FanOut, d.Flush, d.Deliver} {
		if _, err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := d.List(ctx, Filter{})
	if err != nil || len(ns) != 1 || ns[0].Status != Delivered || ns[0].GroupLabels["entity"] != "c2" {
		t.Fatalf("after the upgrade: %+v, %v; want c2's notification delivered, and c1's not repeated", ns, err)
	}
	if g, _ := got.Load().(string); g != `{}:{entity="c2"}` {
		t.Errorf("receiver got %q", g)
	}
}
