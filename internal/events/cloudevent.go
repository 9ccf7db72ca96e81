package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// CloudEvents 1.0 in structured JSON mode is how an event travels on the
// stream, so that any CloudEvents SDK or the nats CLI reads it without
// this project's code.
const (
	SpecVersion = "1.0"
	// ContentType is the structured-mode media type, sent as the message's
	// Content-Type header as the CloudEvents NATS binding describes.
	ContentType = "application/cloudevents+json"
	// TypePrefix namespaces the CloudEvents type: "parley.leak".
	TypePrefix = "parley."
	// DefaultSource is the CloudEvents source of events appended by ingest.
	DefaultSource = "/parley/ingest"
)

// Envelope is a CloudEvents 1.0 event whose data is an Event.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// Wrap puts an event in its CloudEvents envelope. The data is the event's
// canonical JSON, so two wraps of the same event are the same bytes.
func Wrap(e Event, source string) []byte {
	if source == "" {
		source = DefaultSource
	}
	env := Envelope{
		SpecVersion:     SpecVersion,
		ID:              e.ID,
		Source:          source,
		Type:            TypePrefix + e.Type,
		Subject:         e.ID,
		Time:            e.OccurredAt.Time.UTC().Format(time.RFC3339Nano),
		DataContentType: "application/json",
		Data:            e.Canonical(),
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(fmt.Sprintf("marshal envelope %s: %v", e.ID, err))
	}
	return b
}

// Unwrap reads an event out of its envelope. It trusts what the stream
// holds only as far as its syntax: the projector applies what was appended
// even if the vocabulary has changed since.
func Unwrap(b []byte) (Event, error) {
	e, _, err := UnwrapData(b)
	return e, err
}

// UnwrapData is Unwrap that also returns the event's JSON as stored, for
// a reader that keeps it without encoding it again.
func UnwrapData(b []byte) (Event, json.RawMessage, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Event{}, nil, fmt.Errorf("decode envelope: %w", err)
	}
	if env.SpecVersion != SpecVersion {
		return Event{}, nil, fmt.Errorf("decode envelope %s: specversion %q, want %q", env.ID, env.SpecVersion, SpecVersion)
	}
	var e Event
	if err := json.Unmarshal(env.Data, &e); err != nil {
		return Event{}, nil, fmt.Errorf("decode envelope %s: data: %w", env.ID, err)
	}
	if e.ID != env.ID {
		return Event{}, nil, fmt.Errorf("decode envelope %s: data id %q differs", env.ID, e.ID)
	}
	if e.OccurredAt.invalid != nil || e.OccurredAt.Time.IsZero() {
		return Event{}, nil, fmt.Errorf("decode envelope %s: occurred_at missing or invalid", env.ID)
	}
	return e, env.Data, nil
}

// SameData reports whether two envelopes carry the same event, whatever
// their source: a re-sent event is a duplicate, not a conflict, even if it
// came through another door.
func SameData(a, b []byte) bool {
	var ea, eb Envelope
	if json.Unmarshal(a, &ea) != nil || json.Unmarshal(b, &eb) != nil {
		return false
	}
	return bytes.Equal(ea.Data, eb.Data)
}
