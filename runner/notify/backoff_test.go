package notify

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffCeilingDoublesUpToMax(t *testing.T) {
	b, err := Backoff{Base: time.Second, Max: 10 * time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for failed, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second,
		5: 10 * time.Second, 6: 10 * time.Second, 1000: 10 * time.Second} {
		if got := b.ceiling(failed); got != want {
			t.Errorf("ceiling(%d) = %s, want %s", failed, got, want)
		}
	}
	if b.MaxAttempts != 20 {
		t.Errorf("default max attempts = %d, want 20", b.MaxAttempts)
	}
}

func TestJitterIsFullAndUsesTheInjectedSource(t *testing.T) {
	d := &Dispatcher{opts: Options{Rand: rand.New(rand.NewPCG(7, 7))}}
	again := &Dispatcher{opts: Options{Rand: rand.New(rand.NewPCG(7, 7))}}
	const ceiling = 8 * time.Second
	var low, high bool
	for range 1000 {
		j := d.jitter(ceiling)
		if j < 0 || j > ceiling {
			t.Fatalf("jitter %s outside [0, %s]", j, ceiling)
		}
		if j2 := again.jitter(ceiling); j2 != j {
			t.Fatalf("same seed gave %s and %s", j, j2)
		}
		low = low || j < ceiling/4
		high = high || j > 3*ceiling/4
	}
	if !low || !high {
		t.Errorf("jitter does not spread over [0, ceiling]: low %v high %v", low, high)
	}
	if j := (&Dispatcher{}).jitter(time.Second); j < 0 || j > time.Second {
		t.Errorf("default source jitter %s outside [0, 1s]", j)
	}
}
