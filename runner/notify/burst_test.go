package notify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	alertsqlite "github.com/vigil-risk/vigil/runner/alert/sqlite"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/dingtalk"
	"github.com/vigil-risk/vigil/runner/notify/route"
)

// raiseMany stores n new alerts and their raised events in one transaction
// of the real alert store, as n records hitting n cards would.
func (e *env) raiseMany(prefix string, n int) []int64 {
	e.t.Helper()
	store, err := alertsqlite.New(context.Background(), e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	defer store.Close()
	now := e.clk.Now().UTC()
	ids := make([]int64, 0, n)
	err = store.InTx(context.Background(), func(tx alert.Tx) error {
		for i := range n {
			entity := decision.Entity{Field: "card_id", Value: fmt.Sprintf("%s%05d", prefix, i)}
			a := alert.Alert{Fingerprint: alert.Fingerprint("card_testing", entity), Rule: "card_testing", Title: "Card testing",
				Severity: decision.High, Action: decision.Block, Entity: entity, Status: alert.Open, Reason: "6 small auths in 1m",
				LastRecordID: "r-" + entity.Value, Count: 1, FirstSeen: now, LastSeen: now, CreatedAt: now, UpdatedAt: now}
			if err := tx.Insert(context.Background(), &a); err != nil {
				return err
			}
			data, _ := json.Marshal(a)
			if err := tx.AddEvent(context.Background(), &alert.Event{AlertID: a.ID, Kind: alert.EventRaised,
				Actor: alert.SystemActor, Time: now, Data: data}); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("raise %d alerts: %v", n, err)
	}
	return ids
}

// A storm of 10,000 alerts, each its own group, at a receiver that takes 20
// messages a minute (DingTalk's limit) and bodies of at most 4 KB: every
// alert arrives, inside digests, in parts under the size limit, and no
// rolling minute sees more than 20 sends. A second wave that comes while
// the first is still going out follows in a digest of its own.
func TestBurstAtARateLimitedReceiver(t *testing.T) {
	const storm, wave = 10_000, 500
	e := newEnv(t)
	h := newHook(t, e.clk, nil)
	limits := notify.Limits{PerMinute: 20, MaxBytes: 4096}
	slow := route.Timers{GroupWait: 30 * time.Second, GroupInterval: time.Hour, RepeatInterval: 24 * time.Hour}
	d := e.dispatcher([]notify.Receiver{h.receiver("ding", limits)}, notify.Options{
		Route: tree(t, config.RouteConfig{GroupBy: []string{"..."}}, slow, "ding")})

	want := e.raiseMany("c", storm)
	start := e.clk.Now()
	step(t, d)
	e.clk.Advance(slow.GroupWait)
	step(t, d)
	for i := 0; pending(t, d) > 0 || i < 5; i++ {
		if i > 2000 {
			t.Fatalf("still %d pending after %s", pending(t, d), e.clk.Now().Sub(start))
		}
		if i == 20 { // while the storm's digest is still going out
			want = append(want, e.raiseMany("w", wave)...)
		}
		e.clk.Advance(7 * time.Second) // off the minute, to test the rolling window
		step(t, d)
	}

	reqs := h.Requests()
	seen := map[int64]int{}
	digests := map[string]int{}
	for _, r := range reqs {
		if r.status != 200 {
			t.Fatalf("a send failed: %+v", r)
		}
		if r.size > limits.MaxBytes {
			t.Errorf("a body of %d bytes exceeds the limit %d", r.size, limits.MaxBytes)
		}
		for _, a := range r.body.Alerts {
			seen[a.ID]++
		}
		digests[r.body.Key] = r.body.Digest
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Fatalf("alert %d arrived %d times, want once", id, seen[id])
		}
	}
	if len(seen) != storm+wave {
		t.Errorf("%d distinct alerts arrived, want %d", len(seen), storm+wave)
	}
	// Two digests: the storm (its groups flushed together, more than the
	// limit let go at once) and the wave.
	var sizes []int
	for _, n := range digests {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	if len(sizes) != 2 || sizes[0] != wave || sizes[1] != storm {
		t.Errorf("digests carried %v group notifications, want the wave (%d) and the storm (%d)", sizes, wave, storm)
	}
	// No rolling minute holds more than 20 sends.
	for i := range reqs {
		n := 0
		for j := i; j < len(reqs) && reqs[j].at.Before(reqs[i].at.Add(time.Minute)); j++ {
			n++
		}
		if n > limits.PerMinute {
			t.Fatalf("%d sends in the minute from %s", n, reqs[i].at.Sub(start))
		}
	}
	took := reqs[len(reqs)-1].at.Sub(start)
	if minimum := time.Duration(len(reqs)/limits.PerMinute-1) * time.Minute; took < minimum {
		t.Errorf("%d sends took %s, faster than 20 a minute allows", len(reqs), took)
	}
	merged := list(t, d, notify.Filter{Status: notify.Merged, Limit: 1000})
	if len(merged) != 1000 || merged[0].CarriedBy == 0 {
		t.Errorf("merged notifications = %d, carried by %d", len(merged), merged[0].CarriedBy)
	}
	t.Logf("%d alerts in %d sends over %s of fake time", storm+wave, len(reqs), took.Round(time.Second))
}

// crashingChannel delivers, then "kills the process" (closes its database)
// before the dispatcher can record the outcome, on the nth send.
type crashingChannel struct {
	*hookChannel
	db    *sql.DB
	n     int
	sends int
}

func (c *crashingChannel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	retry, err := c.hookChannel.Send(ctx, p)
	c.sends++
	if c.sends == c.n {
		c.db.Close()
	}
	return retry, err
}

// A crash between storing and sending, and one between a send and its
// record: after restarts every message is delivered, and a receiver that
// honours idempotency keys processes each one once.
func TestCrashesLoseNothing(t *testing.T) {
	e := newEnv(t)
	h := newHook(t, e.clk, nil)
	each := config.RouteConfig{GroupBy: []string{"..."}, GroupWait: dur(0)}
	cards := []string{"c1", "c2", "c3", "c4", "c5", "c6"}
	for _, c := range cards {
		e.raise(c)
	}

	// First process: routes and stores the messages, dies before sending.
	d := e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})}, notify.Options{Route: tree(t, each, timers, "ops")})
	if _, err := d.FanOut(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Flush(t.Context()); err != nil || n != len(cards) {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	e.restart()

	// Second process: the third send reaches the receiver, then the process dies.
	r := h.receiver("ops", notify.Limits{})
	r.Channel = &crashingChannel{hookChannel: r.Channel.(*hookChannel), db: e.db, n: 3}
	d = e.dispatcher([]notify.Receiver{r}, notify.Options{Route: tree(t, each, timers, "ops")})
	if _, err := d.Deliver(t.Context()); err == nil {
		t.Fatal("Deliver went on after the database closed")
	}
	if got := len(h.Requests()); got != 3 {
		t.Fatalf("receiver saw %d requests before the crash, want 3", got)
	}
	e.restart()

	// Third process: the lease of the part in flight runs out, and it goes again.
	d = e.dispatcher([]notify.Receiver{h.receiver("ops", notify.Limits{})}, notify.Options{Route: tree(t, each, timers, "ops")})
	step(t, d)
	e.clk.Advance(time.Minute)
	step(t, d)
	if n := pending(t, d); n != 0 {
		t.Fatalf("%d still pending after the restarts", n)
	}
	var got []string
	for _, b := range h.Accepted(0) {
		got = append(got, describe([]hookBody{b})...)
	}
	slices.Sort(got)
	if want := []string{"F[c1]", "F[c2]", "F[c3]", "F[c4]", "F[c5]", "F[c6]"}; !slices.Equal(got, want) {
		t.Errorf("processed %q, want each card once", got)
	}
	if reqs := len(h.Requests()); reqs != len(cards)+1 {
		t.Errorf("receiver saw %d requests, want %d: only the one cut off is repeated", reqs, len(cards)+1)
	}
	for k, n := range h.seen {
		if n > 2 {
			t.Errorf("key %s arrived %d times", k, n)
		}
	}
	for _, n := range list(t, d, notify.Filter{}) {
		if n.Status != notify.Delivered {
			t.Errorf("notification %d is %s", n.ID, n.Status)
		}
	}
}

// The same storm at a DingTalk robot, through the DingTalk channel, against
// a local robot that checks each request's signature as DingTalk does and,
// like DingTalk, refuses a 21st message within a minute with errcode 130101
// (and would mute the robot): every alert arrives in signed digests under
// 20,000 bytes, and the robot never has to refuse one.
func TestBurstAtADingTalkRobot(t *testing.T) {
	const storm, secret = 10_000, "SECtestsecret"
	e := newEnv(t)
	var mu sync.Mutex
	var sends []time.Time
	var texts []string
	refused := 0
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		q := r.URL.Query()
		ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		now := e.clk.Now()
		switch {
		case q.Get("access_token") != "robot-token":
			io.WriteString(w, `{"errcode":300005,"errmsg":"token is not exist"}`)
			return
		case now.Sub(time.UnixMilli(ts)).Abs() > time.Hour:
			io.WriteString(w, `{"errcode":310000,"errmsg":"invalid timestamp"}`)
			return
		case q.Get("sign") != dingtalk.Sign(secret, ts):
			io.WriteString(w, `{"errcode":310000,"errmsg":"sign not match"}`)
			return
		case len(raw) > dingtalk.MaxBytes:
			io.WriteString(w, `{"errcode":460101,"errmsg":"message too long"}`)
			return
		}
		var body struct {
			MsgType  string `json:"msgtype"`
			Markdown struct{ Title, Text string }
		}
		if err := json.Unmarshal(raw, &body); err != nil || body.MsgType != "markdown" || body.Markdown.Text == "" {
			io.WriteString(w, `{"errcode":40035,"errmsg":"missing parameter"}`)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		inMinute := 0
		for _, s := range sends {
			if now.Sub(s) < time.Minute {
				inMinute++
			}
		}
		if inMinute >= 20 {
			refused++
			io.WriteString(w, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`)
			return
		}
		sends = append(sends, now)
		texts = append(texts, body.Markdown.Text)
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	t.Cleanup(robot.Close)
	ch, err := dingtalk.New(dingtalk.Config{URL: robot.URL + "/robot/send?access_token=robot-token", Secret: secret},
		dingtalk.Options{Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	slow := route.Timers{GroupWait: 30 * time.Second, GroupInterval: time.Hour, RepeatInterval: 24 * time.Hour}
	d := e.dispatcher([]notify.Receiver{{Name: "ding", Channel: ch, Timeout: 5 * time.Second, Locale: "zh"}},
		notify.Options{Route: tree(t, config.RouteConfig{GroupBy: []string{"..."}}, slow, "ding")})
	e.raiseMany("d", storm)
	step(t, d)
	e.clk.Advance(slow.GroupWait)
	for i := 0; pending(t, d) > 0 || i < 2; i++ {
		if i > 1000 {
			t.Fatalf("still %d pending", pending(t, d))
		}
		step(t, d)
		e.clk.Advance(13 * time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	if refused > 0 {
		t.Errorf("the robot refused %d messages as too fast", refused)
	}
	all := strings.Join(texts, "\n")
	for i := range storm {
		if card := fmt.Sprintf("d%05d", i); !strings.Contains(all, card) {
			t.Fatalf("card %s is in no message", card)
		}
	}
	for i := range sends {
		n := 0
		for j := i; j < len(sends) && sends[j].Sub(sends[i]) < time.Minute; j++ {
			n++
		}
		if n > dingtalk.PerMinute {
			t.Fatalf("%d messages in the minute from send %d", n, i)
		}
	}
	if len(sends) < 2 || !strings.Contains(texts[0], "(1/") {
		t.Errorf("%d messages; the first does not say it is part 1 of several: %.200s", len(sends), texts[0])
	}
	t.Logf("%d alerts in %d DingTalk messages", storm, len(sends))
}
