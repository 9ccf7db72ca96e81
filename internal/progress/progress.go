// Package progress shows how far long work has come: a bar with the rate
// and the time left on a terminal, plain periodic lines elsewhere (a log,
// CI), so that neither a person nor a log file is flooded.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar reports progress towards a known total.
type Bar struct {
	w        io.Writer
	label    string
	unit     string
	total    uint64
	tty      bool
	start    time.Time
	mu       sync.Mutex
	last     time.Time
	lastPct  int
	every    time.Duration
	now      func() time.Time
	finished bool
}

// New returns a bar writing to w. On a terminal it redraws one line at most
// every 100 ms; elsewhere it writes a line every 10% or every 5 seconds,
// whichever comes first.
func New(w io.Writer, label, unit string, total uint64) *Bar {
	b := &Bar{w: w, label: label, unit: unit, total: total, tty: IsTerminal(w), now: time.Now, lastPct: -1}
	b.start = b.now()
	b.every = 5 * time.Second
	if b.tty {
		b.every = 100 * time.Millisecond
	}
	return b
}

// IsTerminal reports whether w is a character device, as a terminal is.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Set reports that done units of the total are done.
func (b *Bar) Set(done uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	pct := 100
	if b.total > 0 {
		pct = int(done * 100 / b.total)
	}
	due := now.Sub(b.last) >= b.every
	if !b.tty && pct/10 != b.lastPct/10 {
		due = true
	}
	if !due || b.finished {
		return
	}
	b.last, b.lastPct = now, pct
	b.draw(done, now, false)
}

// Finish writes the final line with the total time and the mean rate.
func (b *Bar) Finish(done uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.draw(done, b.now(), true)
}

func (b *Bar) draw(done uint64, now time.Time, final bool) {
	el := now.Sub(b.start)
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el.Seconds()
	}
	eta := "?"
	if rate > 0 && b.total >= done {
		eta = time.Duration(float64(b.total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100.0
	if b.total > 0 {
		pct = float64(done) * 100 / float64(b.total)
	}
	switch {
	case final && b.tty:
		fmt.Fprintf(b.w, "\r\033[K%s: %d/%d %s in %s (%.0f %s/s)\n", b.label, done, b.total, b.unit, el.Round(time.Millisecond), rate, b.unit)
	case final:
		fmt.Fprintf(b.w, "%s: %d/%d %s in %s (%.0f %s/s)\n", b.label, done, b.total, b.unit, el.Round(time.Millisecond), rate, b.unit)
	case b.tty:
		const width = 30
		fill := int(pct / 100 * width)
		fmt.Fprintf(b.w, "\r\033[K%s [%s%s] %5.1f%% %d/%d %.0f %s/s ETA %s", b.label,
			strings.Repeat("#", fill), strings.Repeat(".", width-fill), pct, done, b.total, rate, b.unit, eta)
	default:
		fmt.Fprintf(b.w, "%s: %.0f%% %d/%d %s, %.0f %s/s, ETA %s\n", b.label, pct, done, b.total, b.unit, rate, b.unit, eta)
	}
}
