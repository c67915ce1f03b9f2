package escalate

import (
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/config"
)

func TestSchedule(t *testing.T) {
	m := time.Minute
	levels := []config.EscalationLevel{
		{After: 15 * m},                 // once
		{After: 60 * m, Repeat: 20 * m}, // at 60, 80, 100 (120 is the next level's)
		{After: 120 * m},                // once: the last
	}
	want := []notice{{15 * m, 0}, {60 * m, 1}, {80 * m, 1}, {100 * m, 1}, {120 * m, 2}}
	for n, w := range want {
		if got, ok := step(levels, n); !ok || got != w {
			t.Errorf("step %d = %+v, %v; want %+v", n, got, ok, w)
		}
	}
	if _, ok := step(levels, len(want)); ok {
		t.Error("a step after the last level's only notice")
	}
	forever := []config.EscalationLevel{{After: 10 * m, Repeat: 30 * m}}
	if got, ok := step(forever, 100); !ok || got.at != 10*m+100*30*m {
		t.Errorf("the last level repeats for good: %+v", got)
	}

	for _, tc := range []struct {
		from    int
		elapsed time.Duration
		want    int // -1: nothing due
	}{
		{0, 14 * m, -1},
		{0, 15 * m, 0},
		{0, 90 * m, 2}, // 15 and 60 missed: 80 is the one for now
		{1, 90 * m, 2},
		{3, 90 * m, -1}, // 100 is not due yet
		{0, 500 * m, 4},
	} {
		_, n, ok := latest(levels, tc.from, tc.elapsed)
		if (tc.want < 0) == ok || (ok && n != tc.want) {
			t.Errorf("latest(from %d, %s) = %d, %v; want %d", tc.from, tc.elapsed, n, ok, tc.want)
		}
	}
}
