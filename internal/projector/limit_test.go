package projector

import (
	"runtime"
	"testing"
)

// On the embedded default the NATS server's heap is in the rebuild's
// process. A ceiling below it had the collector run back to back (44% of
// the CPU, and half the rate, in a rebuild of a million events).
func TestRebuildMemoryLimitIsAboveTheLiveHeap(t *testing.T) {
	const held = 128 << 20
	live := make([]byte, held)
	for i := range live {
		live[i] = byte(i)
	}
	limit := rebuildMemoryLimit()
	if limit < held+rebuildHeap {
		t.Errorf("limit %d MiB with %d MiB live: want at least %d MiB", limit>>20, held>>20, (held+rebuildHeap)>>20)
	}
	runtime.KeepAlive(live)
}
