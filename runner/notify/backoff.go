package notify

import (
	"fmt"
	"time"
)

// Backoff spaces the retries of a failed notification: before retry n the
// sender waits a random time between 0 and min(Max, Base·2^(n-1)) ("full
// jitter"), so that receivers recovering from an outage are not hit by every
// sender at once.
type Backoff struct {
	Base        time.Duration // the first retry's ceiling (default 1s)
	Max         time.Duration // the ceiling of any wait (default 5m)
	MaxAttempts int           // attempts, the first included, before giving up (default 20)
}

func (b Backoff) withDefaults() (Backoff, error) {
	if b.Base < 0 || b.Max < 0 || b.MaxAttempts < 0 {
		return b, fmt.Errorf("backoff: base %s, max %s and max attempts %d must not be negative", b.Base, b.Max, b.MaxAttempts)
	}
	if b.Base == 0 {
		b.Base = time.Second
	}
	if b.Max == 0 {
		b.Max = 5 * time.Minute
	}
	if b.MaxAttempts == 0 {
		b.MaxAttempts = 20
	}
	if b.Base > b.Max {
		return b, fmt.Errorf("backoff: base %s is above max %s", b.Base, b.Max)
	}
	return b, nil
}

// ceiling is the longest wait after the given number of failed attempts (≥ 1).
func (b Backoff) ceiling(failed int) time.Duration {
	d := b.Base
	for i := 1; i < failed && d < b.Max; i++ {
		d *= 2 // stops doubling at Max, so it cannot overflow
	}
	return min(d, b.Max)
}
