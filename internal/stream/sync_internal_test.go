package stream

import (
	"context"
	"testing"
	"time"
)

// TestEmbeddedServerSyncsEveryWrite: the embedded server fsyncs before it
// acknowledges (sync_interval: always) unless told an interval, and
// still does after a restart (Mend's), so that an acknowledged event
// survives an OS crash or a power loss, not only a process crash.
// JetStream's own default fsyncs every two minutes.
func TestEmbeddedServerSyncsEveryWrite(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		always   bool
	}{
		{"default", 0, true},
		{"interval", 30 * time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv, err := StartServer(ctx, ServerConfig{Dir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: tc.interval})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown()
			check := func(when string) {
				t.Helper()
				c := srv.ns.Load().JetStreamConfig()
				if c == nil {
					t.Fatalf("%s: JetStream not running", when)
				}
				if c.SyncAlways != tc.always || !tc.always && c.SyncInterval != tc.interval {
					t.Errorf("%s: sync always %v, interval %s; want always %v, interval %s", when, c.SyncAlways, c.SyncInterval, tc.always, tc.interval)
				}
			}
			check("at start")
			if err := srv.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			check("after a restart")
		})
	}
}
