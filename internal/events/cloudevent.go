package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
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
	e, _, _, err := UnwrapData(b)
	return e, err
}

// UnwrapData is Unwrap that also returns the event's JSON as stored, for
// a reader that keeps it without encoding it again, and whether that JSON
// is the event's canonical form (IsCanonical), which reading it usually
// tells already.
func UnwrapData(b []byte) (e Event, data json.RawMessage, canonical bool, err error) {
	if e, data, canonical, ok := unwrapFast(b); ok {
		return e, data, canonical, nil
	}
	if e, data, err = unwrapSlow(b); err != nil {
		return e, data, false, err
	}
	return e, data, e.IsCanonical(data), nil
}

// unwrapFast reads the envelope with a scan of its members and the event
// with decodeCanonical (encoding/json, in unwrapSlow, validates the
// event's bytes twice and reflects over every field: most of a rebuild's
// decoding). It gives up, for unwrapSlow to decide and word the error, on
// anything but a well-formed envelope whose members are each spelled
// exactly and given once: encoding/json matches names without regard to
// case and merges repeated members. An event in another spelling than the
// canonical one is decoded by encoding/json, from its own bytes only.
func unwrapFast(b []byte) (e Event, data json.RawMessage, canonical, ok bool) {
	env, ok := scanEnvelope(b)
	if !ok {
		return Event{}, nil, false, false
	}
	e, canonical = decodeCanonical(env.data)
	if !canonical && json.Unmarshal(env.data, &e) != nil {
		return Event{}, nil, false, false
	}
	if envelopeErr(env.specVersion, env.id, &e) != nil {
		return Event{}, nil, false, false // for unwrapSlow to word, in its order
	}
	if !canonical {
		// decodeCanonical leaves some canonical events to encoding/json
		// (an amend): refused is not yet told apart from not canonical.
		canonical = e.IsCanonical(env.data)
	}
	return e, json.RawMessage(env.data), canonical, true
}

// envelopeMembers are the members of an envelope that encoding/json
// decodes into Envelope, each a string.
var envelopeMembers = []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}

type scannedEnvelope struct {
	specVersion, id string
	data            []byte
}

// scanEnvelope reads the members of a JSON object as encoding/json would
// decode them into Envelope: the string members checked and specversion
// and id decoded, other members checked as JSON, and the bytes of data,
// for its reader to check. ok is false on anything it leaves to
// encoding/json: a name folding to a member's without its spelling, a
// repeated member, a member that is not a string or null.
func scanEnvelope(b []byte) (env scannedEnvelope, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return env, false
	}
	var seen [8]bool
	for i = skipSpace(b, i+1); i < len(b) && b[i] != '}'; {
		if b[i] != '"' {
			return env, false
		}
		end := stringEnd(b, i)
		if end < 0 {
			return env, false
		}
		name := b[i+1 : end-1]
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return env, false
		}
		start := skipSpace(b, i+1)
		stop := valueEnd(b, start)
		if stop < 0 {
			return env, false
		}
		v := b[start:stop]
		m := slices.IndexFunc(envelopeMembers, func(m string) bool { return bytes.EqualFold(name, []byte(m)) })
		switch {
		case !plainString(name) || m >= 0 && string(name) != envelopeMembers[m]:
			return env, false
		case m < 0: // an extension: ignored, if it is JSON
			if !json.Valid(v) {
				return env, false
			}
		case seen[m]:
			return env, false
		case envelopeMembers[m] == "data":
			env.data = v
		default:
			s, ok := jsonStringOrNull(v)
			if !ok {
				return env, false
			}
			switch envelopeMembers[m] {
			case "specversion":
				env.specVersion = s
			case "id":
				env.id = s
			}
		}
		if m >= 0 {
			seen[m] = true
		}
		if i = skipSpace(b, stop); i < len(b) && b[i] == ',' {
			if i = skipSpace(b, i+1); i < len(b) && b[i] == '}' {
				return env, false // a trailing comma
			}
		} else if i >= len(b) || b[i] != '}' {
			return env, false
		}
	}
	if i >= len(b) || skipSpace(b, i+1) != len(b) || !seen[len(envelopeMembers)-1] {
		return env, false
	}
	return env, true
}

// jsonStringOrNull decodes a JSON string, or null as "", as encoding/json
// decodes them into a string.
func jsonStringOrNull(v []byte) (string, bool) {
	switch {
	case string(v) == "null":
		return "", true
	case len(v) < 2 || v[0] != '"':
		return "", false
	case plainString(v[1 : len(v)-1]):
		return string(v[1 : len(v)-1]), true
	}
	var s string
	return s, json.Unmarshal(v, &s) == nil
}

// plainString reports whether the inside of a JSON string is its own
// text: no escape, valid UTF-8, no control character (which encoding/json
// refuses).
func plainString(s []byte) bool {
	return bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) && !slices.ContainsFunc(s, func(c byte) bool { return c < 0x20 })
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i], or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index after the value starting at b[i], or -1. The
// JSON is checked by encoding/json afterwards; this only needs to find
// where a value of valid JSON ends.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = stringEnd(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// unwrapSlow is UnwrapData in two passes, the reference unwrapFast is
// held to, and the one that words the errors.
func unwrapSlow(b []byte) (Event, json.RawMessage, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Event{}, nil, fmt.Errorf("decode envelope: %w", err)
	}
	if env.SpecVersion != SpecVersion { // before the data, which may not be an event at all
		return Event{}, nil, envelopeErr(env.SpecVersion, env.ID, nil)
	}
	var e Event
	if err := json.Unmarshal(env.Data, &e); err != nil {
		return Event{}, nil, fmt.Errorf("decode envelope %s: data: %w", env.ID, err)
	}
	if err := envelopeErr(env.SpecVersion, env.ID, &e); err != nil {
		return Event{}, nil, err
	}
	return e, env.Data, nil
}

// envelopeErr checks what an envelope and its event (nil: not decoded
// yet) must agree on.
func envelopeErr(specVersion, id string, e *Event) error {
	switch {
	case specVersion != SpecVersion:
		return fmt.Errorf("decode envelope %s: specversion %q, want %q", id, specVersion, SpecVersion)
	case e == nil:
		return nil
	case e.ID != id:
		return fmt.Errorf("decode envelope %s: data id %q differs", id, e.ID)
	case e.OccurredAt.invalid != nil && !e.OccurredAt.invalid.readable || e.OccurredAt.Time.IsZero():
		return fmt.Errorf("decode envelope %s: occurred_at missing or invalid", id)
	}
	return nil
}

// SameData reports whether two envelopes carry the same event, whatever
// their source: a re-sent event is a duplicate, not a conflict, even if it
// came through another door. Text is compared in NFC: an event the stream
// holds as it was sent before ingest normalized text is the same event
// as its NFC form.
func SameData(a, b []byte) bool {
	var ea, eb Envelope
	if json.Unmarshal(a, &ea) != nil || json.Unmarshal(b, &eb) != nil {
		return false
	}
	// JSON's syntax is ASCII, which NFC leaves as it is, and no
	// combining mark composes with a quotation mark: normalizing the
	// bytes normalizes the strings in them.
	return bytes.Equal(ea.Data, eb.Data) || SameText(ea.Data, eb.Data)
}
