package bench

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestSteadyKeepsTheSchedule: every send is made once, never before its
// due time, the due times step by exactly 1/rate, and a send that does not
// return does not hold back the ones after it.
func TestSteadyKeepsTheSchedule(t *testing.T) {
	const rate, n = 1000, 50
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		dues  = make([]time.Time, n)
		calls = make([]int, n)
		early []int
	)
	others := make(chan struct{}, n)
	_, err := Steady(ctx, rate, n, func(i int, due time.Time) {
		now := time.Now()
		mu.Lock()
		dues[i] = due
		calls[i]++
		if now.Before(due) {
			early = append(early, i)
		}
		mu.Unlock()
		if i == 0 {
			// The first send is slow: it waits for all the others.
			for range n - 1 {
				select {
				case <-others:
				case <-ctx.Done():
					return
				}
			}
			return
		}
		others <- struct{}{}
	})
	if err != nil {
		t.Fatalf("a slow send held back the others: %v", err)
	}
	for i := range n {
		if calls[i] != 1 {
			t.Errorf("send %d made %d times", i, calls[i])
		}
		if want := dues[0].Add(time.Duration(i) * time.Second / rate); !dues[i].Equal(want) {
			t.Errorf("send %d due %v after the first, want %v", i, dues[i].Sub(dues[0]), want.Sub(dues[0]))
		}
	}
	if len(early) > 0 {
		t.Errorf("sends made before they were due: %v", early)
	}
}

// TestSteadyCatchesUp: sends that fell due while the caller was behind
// go out, each with its own due time, and the delay is reported: none is
// skipped and none is timed from when it finally went.
func TestSteadyCatchesUp(t *testing.T) {
	const rate, n = 100, 20
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now().Add(-time.Second) // all twenty fell due during a pause
	var (
		mu   sync.Mutex
		dues = map[int]time.Time{}
	)
	late, err := steadyFrom(ctx, start, rate, n, func(i int, due time.Time) {
		mu.Lock()
		dues[i] = due
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dues) != n {
		t.Fatalf("%d of %d sends made", len(dues), n)
	}
	for i, due := range dues {
		if want := start.Add(time.Duration(i) * time.Second / rate); !due.Equal(want) {
			t.Errorf("send %d due at %v past the start, want %v", i, due.Sub(start), want.Sub(start))
		}
	}
	if late < time.Second {
		t.Errorf("delay reported %v, want at least the 1 s pause", late)
	}
}

// TestSteadyStopsWithContext: once ctx ends no more sends start.
func TestSteadyStopsWithContext(t *testing.T) {
	parent, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	ctx, cancel := context.WithCancel(parent)
	var (
		mu   sync.Mutex
		sent int
	)
	_, err := Steady(ctx, 1000, 1_000_000, func(i int, _ time.Time) {
		mu.Lock()
		sent++
		mu.Unlock()
		if i == 9 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Ten, and perhaps one or two that were due as ctx ended.
	if sent >= 100 {
		t.Errorf("%d sends made after ctx ended", sent)
	}
}

// TestRunIsBounded: a run that outlasts its timeout fails rather than
// wait for ever (here an hour of one event a second).
func TestRunIsBounded(t *testing.T) {
	cfg := Quick()
	cfg.Only, cfg.Dir, cfg.Timeout = []string{"visible"}, t.TempDir(), 3*time.Second
	cfg.VisibleRate, cfg.VisibleFor = 1, time.Hour
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), cfg)
		done <- err
	}()
	select {
	case err := <-done:
		// The deadline, or whatever failed for want of time (the server
		// not started on a slow machine).
		if err == nil {
			t.Fatal("an hour's run ended without error within its timeout")
		}
	case <-time.After(time.Minute):
		t.Fatal("the run outlasted its timeout by a minute")
	}
}

func TestSteadyRefusesNoRate(t *testing.T) {
	if _, err := Steady(context.Background(), 0, 10, func(int, time.Time) { t.Error("sent") }); err == nil {
		t.Error("no error for a rate of 0")
	}
}
