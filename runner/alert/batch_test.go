package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/decision"
)

// batchStream is a stream of decisions that exercises what Observe does:
// raises, repeats within and across batches, several hits per record, hits
// below the minimum severity, hits without an entity, trims (KeepRecords 3),
// and records with nothing to alert on.
func batchStream() []alert.Observed {
	var out []alert.Observed
	for i := range 120 {
		r := rec(fmt.Sprintf("r-%03d", i), t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("c%d", i%7))
		var hits []decision.Hit
		switch i % 5 {
		case 0:
			hits = []decision.Hit{hit("card_testing", decision.High, fmt.Sprintf("seen %d", i), card(r.Fields["card_id"].(string)))}
		case 1:
			hits = []decision.Hit{
				hit("card_testing", decision.High, "again", card(r.Fields["card_id"].(string))),
				hit("big_amount", decision.Medium, "big", card("c0")),
			}
		case 2:
			hits = []decision.Hit{hit("noise", decision.Low, "below the minimum", card("c1"))}
		case 3:
			hits = []decision.Hit{hit("no_entity", decision.Critical, "per record", nil)}
		case 4: // nothing to alert on
		}
		out = append(out, alert.Observed{Record: r, Decision: decide(r, hits)})
	}
	return out
}

// dump is everything a store holds about its alerts, and its chain verified.
type dump struct {
	Alerts  []alert.Alert
	Records map[int64][]alert.AlertRecord
	Events  []alert.Event
}

func dumpStore(t *testing.T, svc *alert.Service, path string) dump {
	t.Helper()
	ctx := context.Background()
	d := dump{Alerts: listAll(t, svc), Records: map[int64][]alert.AlertRecord{}}
	for _, a := range d.Alerts {
		rs, err := svc.Records(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		d.Records[a.ID] = rs
	}
	db := openDB(t, path)
	if err := alertsqlite.EachEvent(ctx, db, 0, func(e *alert.Event) error {
		d.Events = append(d.Events, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := alertsqlite.VerifyChain(ctx, db); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	return d
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s differ:\n batched %s\n one by one %s", what, g, w)
	}
}

// ObserveBatch stores exactly what Observe called on each decision in turn
// stores: the same alerts, records and events (hash chain included), and
// returns the same alerts per decision, whatever the batch sizes.
func TestObserveBatchMatchesObserve(t *testing.T) {
	opts := alert.Options{MinSeverity: decision.Medium, KeepRecords: 3}
	ctx := context.Background()
	stream := batchStream()

	one, _, onePath := setup(t, opts)
	var want [][]alert.Alert
	for _, o := range stream {
		as, err := one.Observe(ctx, o.Record, o.Decision)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, as)
	}

	batched, _, batchedPath := setup(t, opts)
	var got [][]alert.Alert
	for i, size := 0, 1; i < len(stream); size = size%9 + 1 { // batches of 1 to 9
		b := stream[i:min(i+size, len(stream))]
		if err := batched.ObserveBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		for _, o := range b {
			got = append(got, o.Alerts)
		}
		i += len(b)
	}
	sameJSON(t, "alerts returned", got, want)
	g, w := dumpStore(t, batched, batchedPath), dumpStore(t, one, onePath)
	if len(w.Events) < 90 || len(w.Alerts) < 10 {
		t.Fatalf("the stream made %d alerts and %d events: too few to compare", len(w.Alerts), len(w.Events))
	}
	sameJSON(t, "stored alerts", g.Alerts, w.Alerts)
	sameJSON(t, "stored records", g.Records, w.Records)
	sameJSON(t, "events", g.Events, w.Events)
}

// failingStore fails the AddEvent of one record's alert, in any transaction.
type failingStore struct {
	*alertsqlite.Store
	record string
}

func (s *failingStore) InTx(ctx context.Context, fn func(alert.Tx) error) error {
	return s.Store.InTx(ctx, func(tx alert.Tx) error { return fn(&failingTx{Tx: tx, record: s.record}) })
}

type failingTx struct {
	alert.Tx
	record string
}

var errBroken = errors.New("disk on fire")

func (t *failingTx) AddEvent(ctx context.Context, e *alert.Event) error {
	if strings.Contains(string(e.Data), `"`+t.record+`"`) {
		return errBroken
	}
	return t.Tx.AddEvent(ctx, e)
}

// A batch is stored whole or not at all: a failure on its second record
// leaves nothing of the first, returns no alerts, and names the record.
func TestObserveBatchFailureStoresNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vigil.db")
	db := openDB(t, path)
	fs := &failingStore{Store: newStore(t, db), record: "r-006"}
	svc, err := alert.NewService(fs, alert.Options{MinSeverity: decision.Medium, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	stream := batchStream()
	if err := svc.ObserveBatch(ctx, stream[:5]); err != nil {
		t.Fatal(err)
	}
	before := dumpStore(t, svc, path)

	b := stream[5:8] // r-005 raises and repeats; r-006 fails
	err = svc.ObserveBatch(ctx, b)
	if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "record r-006") {
		t.Fatalf("ObserveBatch = %v, want the failure of r-006", err)
	}
	for _, o := range b {
		if o.Alerts != nil {
			t.Errorf("%s: alerts %+v returned from a failed batch", o.Record.ID, o.Alerts)
		}
	}
	after := dumpStore(t, svc, path)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("a failed batch changed the store:\n before %+v\n after %+v", before, after)
	}

	// Replayed once the store works, it stores what it should have.
	fs.record = "none"
	if err := svc.ObserveBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	one, _, onePath := setup(t, alert.Options{MinSeverity: decision.Medium})
	for _, o := range stream[:8] {
		if _, err := one.Observe(ctx, o.Record, o.Decision); err != nil {
			t.Fatal(err)
		}
	}
	g, w := dumpStore(t, svc, path), dumpStore(t, one, onePath)
	sameJSON(t, "stored alerts", g.Alerts, w.Alerts)
	sameJSON(t, "events", g.Events, w.Events)
}

// A batch with nothing to alert on opens no transaction and returns no alerts.
func TestObserveBatchNothingToAlert(t *testing.T) {
	svc, _, path := setup(t, alert.Options{MinSeverity: decision.High})
	r := rec("n-1", t0, "c1")
	b := []alert.Observed{
		{Record: r, Decision: decide(r, []decision.Hit{hit("r", decision.Low, "x", card("c1"))})},
		{Record: r, Decision: decide(r, nil), Alerts: []alert.Alert{{ID: 9}}},
	}
	if err := svc.ObserveBatch(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if b[0].Alerts != nil || b[1].Alerts != nil {
		t.Errorf("alerts %+v", b)
	}
	if d := dumpStore(t, svc, path); len(d.Alerts) != 0 || len(d.Events) != 0 {
		t.Errorf("stored %+v", d)
	}
}
