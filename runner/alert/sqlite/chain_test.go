package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
)

// chainOf writes n events over two alerts and returns the store and database.
func chainOf(t *testing.T, n int) (*alertsqlite.Store, *sql.DB) {
	t.Helper()
	s, db := newStore(t)
	a, b := newAlert("fp1"), newAlert("fp2")
	insert(t, s, &a)
	insert(t, s, &b)
	for i := range n {
		id := a.ID
		if i%3 == 2 {
			id = b.ID
		}
		err := s.InTx(t.Context(), func(tx alert.Tx) error {
			return tx.AddEvent(t.Context(), &alert.Event{AlertID: id, Kind: alert.EventRepeated, Actor: "vigil", Time: now,
				Comment: fmt.Sprint("event ", i+1), Data: []byte(fmt.Sprintf(`{"count":%d}`, i+1))})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s, db
}

// tamper runs SQL as someone with the database file would: the append-only
// triggers dropped first.
func tamper(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range append([]string{`DROP TRIGGER alert_events_no_update`, `DROP TRIGGER alert_events_no_delete`}, stmts...) {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestChainVerifies(t *testing.T) {
	s, db := chainOf(t, 10)
	rep, err := alertsqlite.VerifyChain(t.Context(), db)
	if err != nil || rep.Events != 10 || rep.LastID != 10 || len(rep.LastHash) != 64 {
		t.Fatalf("VerifyChain = %+v, %v", rep, err)
	}
	es, _ := s.Events(t.Context(), 1)
	if es[0].PrevHash != "" || es[1].PrevHash != es[0].Hash || es[0].Hash != alert.ChainHash(&es[0]) {
		t.Errorf("chain links: %+v", es[:2])
	}
	// Events appended in one transaction chain one after another.
	err = s.InTx(t.Context(), func(tx alert.Tx) error {
		for range 3 {
			if err := tx.AddEvent(t.Context(), &alert.Event{AlertID: 1, Kind: alert.EventCommented, Actor: "ana", Time: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := alertsqlite.VerifyChain(t.Context(), db); err != nil || rep.Events != 13 {
		t.Errorf("after a three-event transaction: %+v, %v", rep, err)
	}
}

func TestChainIsAppendOnly(t *testing.T) {
	_, db := chainOf(t, 3)
	for _, q := range []string{`UPDATE alert_events SET actor = 'mallory' WHERE id = 2`, `DELETE FROM alert_events WHERE id = 2`} {
		if _, err := db.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only trigger to refuse it", q, err)
		}
	}
}

// After an UPDATE or DELETE in the database, verification fails naming the
// first bad event.
func TestChainDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sql   []string
		event int64
		want  string
	}{
		{"edited comment", []string{`UPDATE alert_events SET comment = 'nothing to see' WHERE id = 4`}, 4,
			"its contents do not match its hash (edited)"},
		{"edited data", []string{`UPDATE alert_events SET data = '{"count":99}' WHERE id = 7`}, 7, "(edited)"},
		{"edited actor", []string{`UPDATE alert_events SET actor = 'mallory' WHERE id = 1`}, 1, "(edited)"},
		{"moved to another alert", []string{`UPDATE alert_events SET alert_id = 2 WHERE id = 5`}, 5, "(edited)"},
		{"edited and rehashed", []string{
			`UPDATE alert_events SET comment = 'x', hash = 'aaaa' WHERE id = 4`}, 4, "(edited)"},
		{"deleted in the middle", []string{`DELETE FROM alert_events WHERE id = 6`}, 7, "events 6 to 6 are missing (deleted)"},
		{"deleted the first", []string{`DELETE FROM alert_events WHERE id IN (1, 2)`}, 3, "points at an earlier event that is missing"},
		{"deleted the newest", []string{`DELETE FROM alert_events WHERE id >= 9`}, 9, "events 9 to 10, the newest, are missing (deleted)"},
		{"renumbered after a delete", []string{`DELETE FROM alert_events WHERE id = 6`,
			`UPDATE alert_events SET id = id - 1 WHERE id > 6`}, 6, "prev_hash does not match the hash of event 5"},
		{"written around the chain", []string{
			`INSERT INTO alert_events (alert_id, kind, actor, ts) VALUES (1, 'resolved', 'mallory', '2026-03-01T12:00:00.000000000Z')`},
			11, "carries no hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, db := chainOf(t, 10)
			tamper(t, db, tc.sql...)
			// Opening the store again (vigil run restarting) adopts nothing.
			again, err := alertsqlite.New(t.Context(), db)
			if err != nil {
				t.Fatal(err)
			}
			again.Close()
			_, err = alertsqlite.VerifyChain(t.Context(), db)
			var ce *alert.ChainError
			if !errors.As(err, &ce) || ce.EventID != tc.event || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("VerifyChain = %v, want a break at event %d: %s", err, tc.event, tc.want)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("audit chain broken at event %d", tc.event)) {
				t.Errorf("message %q does not name event %d", err, tc.event)
			}
		})
	}
}

func TestConsume(t *testing.T) {
	s, db := newStore(t)
	ctx := t.Context()
	a := newAlert("fp1")
	insert(t, s, &a)
	add := func(kinds ...alert.EventKind) {
		t.Helper()
		err := s.InTx(ctx, func(tx alert.Tx) error {
			for _, k := range kinds {
				if err := tx.AddEvent(ctx, &alert.Event{AlertID: a.ID, Kind: k, Actor: "x", Time: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	add(alert.EventRaised) // before the consumer's first run: history it does not see
	consume := func(limit int, fail error) ([]int64, bool) {
		t.Helper()
		var got []int64
		_, more, err := alertsqlite.Consume(ctx, db, "test", []alert.EventKind{alert.EventRaised, alert.EventReopened}, limit,
			func(_ *sql.Tx, es []alert.Event) error {
				for _, e := range es {
					got = append(got, e.ID)
				}
				return fail
			})
		if !errors.Is(err, fail) {
			t.Fatalf("Consume = %v, want %v", err, fail)
		}
		return got, more
	}
	if got, _ := consume(10, nil); got != nil {
		t.Fatalf("first run got %v, want nothing (it starts after the newest event)", got)
	}
	add(alert.EventRepeated, alert.EventRaised, alert.EventRepeated, alert.EventReopened, alert.EventRaised, alert.EventRepeated)
	if got, more := consume(2, nil); fmt.Sprint(got) != "[3 5]" || !more {
		t.Fatalf("first batch = %v (more %v), want [3 5] and more", got, more)
	}
	boom := errors.New("boom")
	if got, _ := consume(10, boom); fmt.Sprint(got) != "[6]" {
		t.Fatalf("failing batch = %v", got)
	}
	if got, more := consume(10, nil); fmt.Sprint(got) != "[6]" || more {
		t.Fatalf("after a failure the batch comes again: %v (more %v)", got, more)
	}
	if got, _ := consume(10, nil); got != nil {
		t.Fatalf("nothing new: got %v", got)
	}
}
