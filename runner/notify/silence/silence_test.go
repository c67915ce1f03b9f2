package silence_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/match"
	"github.com/vigil-risk/vigil/runner/notify/silence"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (*silence.Service, *clock, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.db")
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return open(t, path, clk), clk, path
}

func open(t *testing.T, path string, clk *clock) *silence.Service {
	t.Helper()
	db, err := sqldb.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := silence.New(context.Background(), db, silence.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func matchers(t *testing.T, ss ...string) match.Matchers {
	t.Helper()
	ms, err := match.ParseAll(ss)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestLifecycle(t *testing.T) {
	s, clk, path := setup(t)
	ctx := context.Background()
	now := clk.Now()
	active, err := s.Create(ctx, silence.Silence{Matchers: matchers(t, "entity=c1"), EndsAt: now.Add(time.Hour),
		CreatedBy: "ana", Comment: "card under investigation"})
	if err != nil {
		t.Fatal(err)
	}
	if active.ID == "" || active.State != silence.Active || !active.StartsAt.Equal(now) || active.CreatedBy != "ana" {
		t.Fatalf("created %+v", active)
	}
	later, err := s.Create(ctx, silence.Silence{Matchers: matchers(t, `severity=~"low|medium"`, "env=prod"),
		StartsAt: now.Add(2 * time.Hour), EndsAt: now.Add(3 * time.Hour), CreatedBy: "bo", Comment: "maintenance window"})
	if err != nil || later.State != silence.Pending {
		t.Fatalf("created %+v, %v", later, err)
	}

	states := func() map[string]silence.State {
		t.Helper()
		all, err := s.List(ctx, silence.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]silence.State{}
		for _, sil := range all {
			out[sil.ID] = sil.State
		}
		return out
	}
	mutes := func(l alert.Labels) string {
		t.Helper()
		set, err := s.Active(ctx, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return set.Mutes(l)
	}
	c1 := alert.Labels{"entity": "c1", "severity": "high"}
	lowProd := alert.Labels{"entity": "c9", "severity": "low", "env": "prod"}

	if got := states(); got[active.ID] != silence.Active || got[later.ID] != silence.Pending {
		t.Errorf("at start: %v", got)
	}
	if mutes(c1) != active.ID || mutes(lowProd) != "" {
		t.Error("at start only the active silence mutes")
	}

	// Silences expire by themselves.
	clk.Advance(2 * time.Hour)
	if got := states(); got[active.ID] != silence.Expired || got[later.ID] != silence.Active {
		t.Errorf("two hours later: %v", got)
	}
	if mutes(c1) != "" || mutes(lowProd) != later.ID || mutes(alert.Labels{"severity": "low", "env": "dev"}) != "" {
		t.Error("two hours later only the maintenance silence mutes, and only in prod")
	}
	for state, want := range map[silence.State]string{silence.Active: later.ID, silence.Expired: active.ID} {
		got, err := s.List(ctx, silence.Filter{State: state})
		if err != nil || len(got) != 1 || got[0].ID != want {
			t.Errorf("List(%s) = %v, %v", state, got, err)
		}
	}

	// Expiring one ends it now, and is audited; so was its creation.
	clk.Advance(10 * time.Minute)
	expired, err := s.Expire(ctx, later.ID, "carla")
	if err != nil || expired.State != silence.Expired || !expired.EndsAt.Equal(clk.Now()) {
		t.Fatalf("Expire = %+v, %v", expired, err)
	}
	if mutes(lowProd) != "" {
		t.Error("an expired silence still mutes")
	}
	if _, err := s.Expire(ctx, later.ID, "carla"); !errors.Is(err, silence.ErrConflict) || !strings.Contains(err.Error(), "it expired at") {
		t.Errorf("expiring twice: %v", err)
	}
	events, err := s.Events(ctx, later.ID)
	if err != nil || len(events) != 2 {
		t.Fatalf("Events = %v, %v", events, err)
	}
	if events[0].Kind != silence.EventCreated || events[0].Actor != "bo" || events[1].Kind != silence.EventExpired ||
		events[1].Actor != "carla" || !events[1].Time.Equal(clk.Now()) {
		t.Errorf("audit trail = %+v", events)
	}
	var snap silence.Silence
	if err := json.Unmarshal(events[1].Data, &snap); err != nil || !snap.EndsAt.Equal(clk.Now()) || snap.Matchers.String() != later.Matchers.String() {
		t.Errorf("expired event data = %s, %v", events[1].Data, err)
	}

	// Everything is stored: another process sees the same.
	other := open(t, path, clk)
	got, err := other.Get(ctx, later.ID)
	if err != nil || got.State != silence.Expired || got.Comment != "maintenance window" || got.Matchers.String() != `{severity=~"low|medium", env="prod"}` {
		t.Errorf("Get from another connection = %+v, %v", got, err)
	}
	if _, err := other.Get(ctx, "nope"); !errors.Is(err, silence.ErrNotFound) {
		t.Errorf("Get unknown: %v", err)
	}
}

func TestExpirePendingSilence(t *testing.T) {
	s, clk, _ := setup(t)
	ctx := context.Background()
	p, err := s.Create(ctx, silence.Silence{Matchers: matchers(t, "rule=x"), StartsAt: clk.Now().Add(time.Hour),
		EndsAt: clk.Now().Add(2 * time.Hour), CreatedBy: "ana", Comment: "later"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Expire(ctx, p.ID, "ana")
	if err != nil || e.State != silence.Expired || !e.StartsAt.Equal(clk.Now()) || !e.EndsAt.Equal(clk.Now()) {
		t.Errorf("expired pending silence = %+v, %v", e, err)
	}
	clk.Advance(90 * time.Minute)
	if set, _ := s.Active(ctx, clk.Now()); len(set) != 0 {
		t.Errorf("an expired pending silence became active: %v", set)
	}
}

func TestCreateRejects(t *testing.T) {
	s, clk, _ := setup(t)
	now := clk.Now()
	ok := silence.Silence{Matchers: matchers(t, "entity=c1"), EndsAt: now.Add(time.Hour), CreatedBy: "ana", Comment: "why"}
	for _, tc := range []struct {
		name   string
		change func(*silence.Silence)
		want   string
	}{
		{"no matchers", func(s *silence.Silence) { s.Matchers = nil }, "matchers: at least one is required"},
		{"no creator", func(s *silence.Silence) { s.CreatedBy = " " }, "created_by: required"},
		{"no comment", func(s *silence.Silence) { s.Comment = "" }, "comment: required"},
		{"no end", func(s *silence.Silence) { s.EndsAt = time.Time{} }, "ends_at: required"},
		{"ends before it starts", func(s *silence.Silence) { s.StartsAt = now.Add(2 * time.Hour) }, "must be after starts_at"},
		{"already over", func(s *silence.Silence) { s.StartsAt, s.EndsAt = now.Add(-2*time.Hour), now.Add(-time.Hour) }, "already past"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok
			tc.change(&in)
			_, err := s.Create(context.Background(), in)
			if !errors.Is(err, silence.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create error = %v, want invalid: %s", err, tc.want)
			}
		})
	}
	if _, err := s.Expire(context.Background(), "x", ""); !errors.Is(err, silence.ErrInvalid) {
		t.Errorf("Expire without actor: %v", err)
	}
	if _, err := s.List(context.Background(), silence.Filter{State: "gone"}); !errors.Is(err, silence.ErrInvalid) {
		t.Errorf("List with a bad state: %v", err)
	}
	if all, _ := s.List(context.Background(), silence.Filter{}); len(all) != 0 {
		t.Errorf("rejected silences were stored: %v", all)
	}
}
