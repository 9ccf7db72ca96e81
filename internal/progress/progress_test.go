package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "rebuild", "events", 1000)
	clock := b.start
	b.now = func() time.Time { return clock }
	for done := uint64(0); done <= 1000; done += 50 {
		clock = clock.Add(100 * time.Millisecond)
		b.Set(done)
	}
	b.Finish(1000)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// One line per tenth, and the last one.
	if len(lines) < 10 || len(lines) > 12 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[1], "events/s") || !strings.Contains(lines[1], "ETA") {
		t.Errorf("line without rate or ETA: %q", lines[1])
	}
	if !strings.HasPrefix(lines[len(lines)-1], "rebuild: 1000/1000 events in 2.1s (476 events/s)") {
		t.Errorf("final line = %q", lines[len(lines)-1])
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("carriage return written to a non-terminal")
	}
}
