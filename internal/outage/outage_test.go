package outage_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/outage"
)

// TestFailuresToldOnceThenRarely: a store that fails for an hour, tried
// every 6 s as the alerts' matcher does, is told once, then once every
// reminder with a count, then once when it works again; a failure after
// that is told anew.
func TestFailuresToldOnceThenRarely(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &outage.Log{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Level: slog.LevelWarn,
		Began: "queueing alerts failed", Still: "queueing alerts still failing", Ended: "queueing alerts works again",
		Remind: 5 * time.Minute, Now: func() time.Time { return clock }}
	ctx := context.Background()
	boom := errors.New("read developments after 7: store closed")
	const tries = 600 // an hour, every 6 s
	for range tries {
		f.Failed(ctx, boom)
		clock = clock.Add(6 * time.Second)
	}
	f.Recovered(ctx)
	f.Recovered(ctx) // nothing more to tell
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// 1 first + 11 reminders (at 5, 10, ... 55 min) + 1 recovered.
	if len(lines) != 13 {
		t.Fatalf("%d lines for an hour of failures, want 13:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "queueing alerts failed") || !strings.Contains(lines[0], "store closed") {
		t.Errorf("first line: %s", lines[0])
	}
	if !strings.Contains(lines[1], "still failing") || !strings.Contains(lines[1], "failures=51") {
		t.Errorf("first reminder: %s", lines[1])
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, "level=INFO") || !strings.Contains(last, "works again") || !strings.Contains(last, "failures=600") || !strings.Contains(last, "for=1h0m0s") {
		t.Errorf("recovery line: %s", last)
	}

	buf.Reset()
	f.Failed(ctx, boom)
	if !strings.Contains(buf.String(), "queueing alerts failed") {
		t.Errorf("a new failure after recovery was not told: %q", buf.String())
	}
}
