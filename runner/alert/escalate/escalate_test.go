package escalate_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/alert/escalate"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/record"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recorder is a notify channel that keeps what it is sent.
type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (r *recorder) Render(m *notify.Message) ([]notify.Payload, error) {
	b, err := json.Marshal(m)
	return []notify.Payload{{Body: b, ContentType: "application/json", Part: 1, Parts: 1, IdempotencyKey: m.IdempotencyKey}}, err
}

func (r *recorder) Send(_ context.Context, p notify.Payload) (bool, error) {
	var m notify.Message
	if err := json.Unmarshal(p.Body, &m); err != nil {
		return false, err
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return false, nil
}

func (r *recorder) Limits() notify.Limits { return notify.Limits{} }

func (r *recorder) take() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// runner is one process's handling over the database file: the alert
// service, the escalator and the notifier. restart builds a new one over the
// same file, as after a crash.
type runner struct {
	db   *sql.DB
	svc  *alert.Service
	esc  *escalate.Escalator
	disp *notify.Dispatcher
}

type world struct {
	t     *testing.T
	path  string
	clk   *clock
	recv  map[string]*recorder
	pols  []config.EscalationPolicy
	cur   *runner
	alert int // records observed, for unique ids
}

func newWorld(t *testing.T, pols []config.EscalationPolicy) *world {
	w := &world{t: t, path: filepath.Join(t.TempDir(), "vigil.db"), clk: &clock{t: start}, pols: pols,
		recv: map[string]*recorder{"console": {}, "lead": {}, "boss": {}}}
	w.restart()
	return w
}

func (w *world) restart() {
	t := w.t
	if w.cur != nil {
		w.cur.db.Close()
	}
	ctx := context.Background()
	db, err := sqldb.Open(ctx, w.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := alertsqlite.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := alert.NewService(store, alert.Options{Now: w.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	esc, err := escalate.New(ctx, db, svc, escalate.Options{Policies: w.pols, Now: w.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var recv []notify.Receiver
	for _, name := range []string{"console", "lead", "boss"} {
		recv = append(recv, notify.Receiver{Name: name, Channel: w.recv[name]})
	}
	disp, err := notify.NewDispatcher(ctx, db, recv, notify.Options{Now: w.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.cur = &runner{db: db, svc: svc, esc: esc, disp: disp}
}

func (w *world) raise(sev decision.Severity, cardID string) alert.Alert {
	w.t.Helper()
	w.alert++
	id := fmt.Sprint("t-", w.alert)
	at := w.clk.Now()
	r := record.Record{ID: id, Type: "payment", Time: at, Fields: map[string]any{"id": id, "card_id": cardID}}
	h := decision.Hit{Rule: "card_testing", Title: "Card testing", Severity: sev, Action: decision.Block, Reason: "x",
		Entity: &decision.Entity{Field: "card_id", Value: cardID}}
	as, err := w.cur.svc.Observe(context.Background(), r, decision.Decision{RecordID: id, Time: at, Action: decision.Block, Hits: []decision.Hit{h}})
	if err != nil {
		w.t.Fatal(err)
	}
	return as[0]
}

// at sets the clock, ticks the escalator, routes and delivers, and returns
// what the escalation receivers were sent, receiver → alert ids and levels.
func (w *world) at(d time.Duration) map[string][]string {
	w.t.Helper()
	ctx := context.Background()
	w.clk.Set(start.Add(d))
	if _, err := w.cur.esc.Tick(ctx); err != nil {
		w.t.Fatalf("Tick at %s: %v", d, err)
	}
	if _, err := w.cur.disp.FanOut(ctx); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.cur.disp.Deliver(ctx); err != nil {
		w.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, name := range []string{"lead", "boss"} {
		for _, m := range w.recv[name].take() {
			out[name] = append(out[name], fmt.Sprintf("%d@%s", m.Alerts[0].ID, m.GroupLabels[alert.LabelEscalationLevel]))
		}
	}
	w.recv["console"].take()
	return out
}

var payments = config.EscalationPolicy{Name: "payments", Match: config.AlertMatch{Severity: []string{"high", "critical"}},
	Levels: []config.EscalationLevel{
		{After: 15 * time.Minute, Receivers: []string{"lead"}},
		{After: time.Hour, Receivers: []string{"boss"}, Repeat: 30 * time.Minute},
	}}

// An unacknowledged alert climbs the levels, through a restart, until it is
// acknowledged; the notices reach the levels' receivers through notify.
func TestEscalationLevelsAcrossRestart(t *testing.T) {
	w := newWorld(t, []config.EscalationPolicy{payments})
	a := w.raise(decision.High, "c1")
	w.raise(decision.Low, "c2") // no policy matches
	if got := w.at(0); len(got) != 0 {
		t.Fatalf("at 0: %v", got)
	}
	pending, _ := w.cur.esc.Pending(context.Background())
	if len(pending) != 1 || pending[0].AlertID != a.ID || !pending[0].Due.Equal(start.Add(15*time.Minute)) {
		t.Fatalf("armed timers = %+v, want alert %d due at +15m", pending, a.ID)
	}
	if got := w.at(14*time.Minute + 59*time.Second); len(got) != 0 {
		t.Fatalf("before 15m: %v", got)
	}
	want1 := fmt.Sprintf("%d@1", a.ID)
	if got := w.at(15 * time.Minute); fmt.Sprint(got) != fmt.Sprintf("map[lead:[%s]]", want1) {
		t.Fatalf("at 15m: %v, want lead told of level 1", got)
	}
	if got := w.at(16 * time.Minute); len(got) != 0 {
		t.Fatalf("a level goes out once: %v", got)
	}

	w.restart()
	if got := w.at(59 * time.Minute); len(got) != 0 {
		t.Fatalf("after the restart, before 1h: %v", got)
	}
	want2 := fmt.Sprintf("%d@2", a.ID)
	if got := w.at(time.Hour); fmt.Sprint(got) != fmt.Sprintf("map[boss:[%s]]", want2) {
		t.Fatalf("at 1h: %v, want boss told of level 2", got)
	}
	if got := w.at(90 * time.Minute); fmt.Sprint(got) != fmt.Sprintf("map[boss:[%s]]", want2) {
		t.Fatalf("at 1h30: %v, want level 2 repeated", got)
	}
	w.restart() // a crash between the notice and the next tick sends nothing twice
	if got := w.at(91 * time.Minute); len(got) != 0 {
		t.Fatalf("after the second restart: %v", got)
	}
	if _, err := w.cur.svc.Ack(context.Background(), a.ID, "ana", "on it"); err != nil {
		t.Fatal(err)
	}
	if got := w.at(3 * time.Hour); len(got) != 0 {
		t.Fatalf("after the ack: %v, want no more notices", got)
	}
	if pending, _ := w.cur.esc.Pending(context.Background()); len(pending) != 0 {
		t.Errorf("timers left after the ack: %+v", pending)
	}
	got, _ := w.cur.svc.Get(context.Background(), a.ID)
	if got.EscalationLevel != 2 || got.Escalations != 3 {
		t.Errorf("alert after escalation: level %d, %d notices; want 2 and 3", got.EscalationLevel, got.Escalations)
	}
	es, _ := w.cur.svc.Events(context.Background(), a.ID)
	var kinds []string
	for _, e := range es {
		kinds = append(kinds, string(e.Kind))
	}
	if !slices.Equal(kinds, []string{"raised", "escalated", "escalated", "escalated", "acknowledged"}) {
		t.Errorf("audit trail = %v", kinds)
	}
}

func TestEscalationWaitsForSnoozeAndCatchesUp(t *testing.T) {
	w := newWorld(t, []config.EscalationPolicy{payments})
	ctx := context.Background()
	snoozed := w.raise(decision.High, "c1")
	late := w.raise(decision.Critical, "c2")
	w.at(0)
	if _, err := w.cur.svc.Apply(ctx, snoozed.ID, alert.Action{Kind: alert.ActSnooze, Actor: "ana", Until: start.Add(80 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// Nothing ticks for 75 minutes (the runner was down): the late alert
	// gets the level due now, not every level it missed; the snoozed one waits.
	if got := w.at(75 * time.Minute); fmt.Sprint(got) != fmt.Sprintf("map[boss:[%d@2]]", late.ID) {
		t.Fatalf("at 1h15 after a pause: %v, want only level 2 for alert %d", got, late.ID)
	}
	pending, _ := w.cur.esc.Pending(ctx)
	if i := slices.IndexFunc(pending, func(p escalate.Pending) bool { return p.AlertID == snoozed.ID }); i < 0 ||
		pending[i].Step != 0 || !pending[i].Due.Equal(start.Add(80*time.Minute)) {
		t.Fatalf("snoozed alert's timer = %+v, want it postponed to the snooze's end", pending)
	}
	if got := w.at(80 * time.Minute); fmt.Sprint(got) != fmt.Sprintf("map[boss:[%d@2]]", snoozed.ID) {
		t.Fatalf("when the snooze ends: %v", got)
	}
}

func TestReopenedAlertEscalatesAgain(t *testing.T) {
	w := newWorld(t, []config.EscalationPolicy{payments})
	ctx := context.Background()
	a := w.raise(decision.High, "c1")
	w.at(0)
	w.at(15 * time.Minute)
	if _, err := w.cur.svc.Resolve(ctx, a.ID, "ana", alert.FalsePositive, ""); err != nil {
		t.Fatal(err)
	}
	w.at(20 * time.Minute)
	if _, err := w.cur.svc.Apply(ctx, a.ID, alert.Action{Kind: alert.ActReopen, Actor: "bo"}); err != nil {
		t.Fatal(err)
	}
	w.at(21 * time.Minute) // arms from the reopening
	if got := w.at(30 * time.Minute); len(got) != 0 {
		t.Fatalf("15m from the raise, 9m from the reopening: %v", got)
	}
	if got := w.at(36 * time.Minute); fmt.Sprint(got) != fmt.Sprintf("map[lead:[%d@1]]", a.ID) {
		t.Fatalf("15m after the reopening: %v, want level 1 again", got)
	}
}
