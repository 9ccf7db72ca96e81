package crash_test

import "github.com/nats-io/nats.go/jetstream"

// jetstreamSubjects asks the stream info for per-subject counts, so that
// NumSubjects is filled in.
func jetstreamSubjects() jetstream.StreamInfoOpt {
	return jetstream.WithSubjectFilter("parley.events.>")
}
