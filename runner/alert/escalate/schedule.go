package escalate

import (
	"time"

	"github.com/vigil-risk/vigil/runner/config"
)

// notice is one planned escalation notice of a policy.
type notice struct {
	at    time.Duration // after the alert was raised or reopened
	level int           // 0-based
}

// step returns a policy's notice number n (0-based) in time order: each
// level's After, then its repeats until the next level's After (the last
// level repeats for good). ok is false when there is no such notice.
func step(levels []config.EscalationLevel, n int) (notice, bool) {
	for i, l := range levels {
		count := 1 // notices this level sends
		if l.Repeat > 0 {
			if i == len(levels)-1 {
				return notice{at: l.After + time.Duration(n)*l.Repeat, level: i}, true
			}
			span := levels[i+1].After - l.After
			count = int((span + l.Repeat - 1) / l.Repeat) // at After + k·Repeat, before the next level
		}
		if n < count {
			return notice{at: l.After + time.Duration(n)*l.Repeat, level: i}, true
		}
		n -= count
	}
	return notice{}, false
}

// latest returns the last notice due by elapsed, starting from notice n
// (0-based), and its number: after a long pause (a restart, a snooze) one
// notice goes out, the one for now, rather than every missed one in a row.
func latest(levels []config.EscalationLevel, n int, elapsed time.Duration) (notice, int, bool) {
	cur, ok := step(levels, n)
	if !ok || cur.at > elapsed {
		return notice{}, n, false
	}
	for {
		next, ok := step(levels, n+1)
		if !ok || next.at > elapsed {
			return cur, n, true
		}
		cur, n = next, n+1
	}
}
