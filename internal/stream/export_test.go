package stream

import (
	"testing"
	"time"
)

// ShortAppendWaits makes an append wait d, not 10 s, for the answer to a
// publish and to a batch's commit, for the test.
func ShortAppendWaits(t testing.TB, d time.Duration) {
	oldAck, oldCommit := publishAckTimeout, batchCommitWait
	publishAckTimeout, batchCommitWait = d, d
	t.Cleanup(func() { publishAckTimeout, batchCommitWait = oldAck, oldCommit })
}
