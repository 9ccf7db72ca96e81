// Package stream adapts NATS JetStream to Parley: the embedded server that
// is the default for one machine, the stream's configuration, appending
// events with idempotency, and replaying the stream in order for the
// projector. It is the only package that knows the nats.go API; the rest of
// the service sees events in and ordered messages out.
package stream
