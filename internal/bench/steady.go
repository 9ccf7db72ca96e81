package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Steady calls send(i, due) for i from 0 to n-1, the i-th due at i/rate
// seconds from now, each in a goroutine of its own: a slow send does not
// hold back the next one. A send that falls due while the caller is
// behind (a pause of the process, a busy machine) goes out at once with
// its own due time, so that a latency measured from due counts the delay;
// a time.Ticker drops the ticks it misses, which quietly lowers the rate
// and leaves out the latency of the sends it should have made.
//
// It returns once every send it started has returned, with the largest
// delay of a send's start past its due time. When ctx ends it starts no
// more sends and returns ctx's error.
func Steady(ctx context.Context, rate, n int, send func(i int, due time.Time)) (late time.Duration, err error) {
	return steadyFrom(ctx, time.Now(), rate, n, send)
}

func steadyFrom(ctx context.Context, start time.Time, rate, n int, send func(i int, due time.Time)) (time.Duration, error) {
	if rate <= 0 {
		return 0, fmt.Errorf("steady: rate %d a second is not a rate", rate)
	}
	var (
		wg   sync.WaitGroup
		late time.Duration
	)
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := range n {
		// Computed from the start, not added up, so that rounding does
		// not drift the rate.
		due := start.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return late, ctx.Err()
			}
		} else if err := ctx.Err(); err != nil {
			return late, err
		}
		late = max(late, time.Since(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(i, due)
		}()
	}
	return late, nil
}
