package notify

import (
	"math"
	"time"
)

// limiter is a receiver's rate limit as vendors count it: at most perMinute
// sends in any rolling minute and perSecond in any rolling second — a send
// at t counts against every window that contains t. It keeps the send times
// of the last minute (a sliding log), which the dispatcher stores so that a
// restart does not forget them. Failed sends count: vendors count them too.
type limiter struct {
	perMinute, perSecond int
	sends                []time.Time // ascending, none older than a minute
}

// prune forgets the sends that no longer count at now.
func (l *limiter) prune(now time.Time) {
	cut := 0
	for cut < len(l.sends) && !l.sends[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	l.sends = l.sends[cut:]
}

// inWindow counts the sends in (now-window, now].
func (l *limiter) inWindow(now time.Time, window time.Duration) int {
	n := 0
	for i := len(l.sends) - 1; i >= 0 && l.sends[i].After(now.Add(-window)); i-- {
		n++
	}
	return n
}

// free is how many sends may go at now.
func (l *limiter) free(now time.Time) int {
	l.prune(now)
	free := math.MaxInt32
	if l.perMinute > 0 {
		free = min(free, l.perMinute-len(l.sends))
	}
	if l.perSecond > 0 {
		free = min(free, l.perSecond-l.inWindow(now, time.Second))
	}
	return max(free, 0)
}

// wait is how long until a send may go; 0 if one may now.
func (l *limiter) wait(now time.Time) time.Duration {
	if l.free(now) > 0 {
		return 0
	}
	var until time.Time
	// The window frees up when the send that filled it leaves it.
	if l.perMinute > 0 && len(l.sends) >= l.perMinute {
		until = l.sends[len(l.sends)-l.perMinute].Add(time.Minute)
	}
	if n := l.inWindow(now, time.Second); l.perSecond > 0 && n >= l.perSecond {
		if t := l.sends[len(l.sends)-l.perSecond].Add(time.Second); t.After(until) {
			until = t
		}
	}
	return max(until.Sub(now), time.Nanosecond)
}

// record counts a send made at t.
func (l *limiter) record(t time.Time) {
	l.sends = append(l.sends, t)
}

// log returns the sends of the last minute, for storage.
func (l *limiter) log(now time.Time) []int64 {
	l.prune(now)
	out := make([]int64, len(l.sends))
	for i, t := range l.sends {
		out[i] = t.UnixNano()
	}
	return out
}

// restore loads a stored log.
func (l *limiter) restore(ns []int64, now time.Time) {
	l.sends = l.sends[:0]
	for _, n := range ns {
		l.sends = append(l.sends, time.Unix(0, n).UTC())
	}
	l.prune(now)
}
