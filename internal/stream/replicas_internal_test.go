package stream

import "testing"

// TestWantReplicas: a configured count is what the stream gets; the
// automatic one raises an existing stream to it (R1 made while the server
// stood alone, now in a cluster) but never lowers what an operator set.
func TestWantReplicas(t *testing.T) {
	for _, c := range []struct{ configured, auto, have, want int }{
		{0, 1, 1, 1},
		{0, 3, 1, 3}, // a stream made alone, the server since clustered
		{0, 3, 3, 3},
		{0, 3, 5, 5}, // an operator's R5 is kept
		{0, 1, 3, 3},
		{3, 3, 5, 3}, // configured: as configured
		{1, 3, 3, 1},
	} {
		if got := wantReplicas(c.configured, c.auto, c.have); got != c.want {
			t.Errorf("wantReplicas(configured %d, auto %d, have %d) = %d, want %d", c.configured, c.auto, c.have, got, c.want)
		}
	}
}
