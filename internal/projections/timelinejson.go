package projections

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/parley-news/parley/internal/events"
)

// AppendTimelineJSON appends the answer to a TimelineQuery as the JSON
// of the page QueryTimeline returns, byte for byte, without decoding the
// events: a page of a hundred events spent most of its time decoding their
// records and encoding them again. An event's JSON is copied from its
// record when the record says it is canonical (what encoding/json writes
// for it), with the fields of the view written around it; an event that
// is not is decoded and encoded as QueryTimeline does. Each event is
// written straight into b, so a caller that reuses b allocates nothing
// per answer but the records' few fields. TestTimelineJSON holds the two
// to the same bytes.
func AppendTimelineJSON(b []byte, tx Tx, q TimelineQuery) ([]byte, error) {
	b = append(b, `{"events":[`...)
	start := len(b)
	// The walk views one event past a full page to know there is a next
	// page: written like the others, then cut.
	var written, last int
	// One record read into again and again, and one string per name.
	h, names := new(eventRecord), map[string]string{}
	page, next, err := walkTimeline(tx, q, func(id string, s, seq uint64, rec []byte) (struct{}, bool, error) {
		if err := decodeRecordInto(h, rec, false, names); err != nil {
			return struct{}{}, false, fmt.Errorf("event record %s: %w", id, err)
		}
		mark := len(b)
		if mark > start {
			b = append(b, ',')
		}
		out, ok, err := viewJSON(h, b, seq, q)
		if errors.Is(err, errNotCanonical) {
			var slow []byte
			if slow, ok, err = slowViewJSON(tx, id, seq, q); err == nil {
				out = append(out[:len(b)], slow...)
			}
		}
		if err != nil || !ok {
			b = out[:mark]
			return struct{}{}, ok, err
		}
		b, last = out, mark
		written++
		return struct{}{}, true, nil
	})
	if err != nil {
		return nil, err
	}
	if written > len(page) {
		b = b[:last]
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"next_cursor":`...)
		b = events.AppendJSONString(b, next)
	}
	return append(b, '}'), nil
}

// errNotCanonical sends an event to the slow path.
var errNotCanonical = errors.New("event JSON not canonical")

// viewJSON appends the JSON of the event as believed at seq (what
// eventRecord.view gives), and says whether it passes q's filters.
// The record's versions carry their event's JSON only (decodeRecord
// without events).
func viewJSON(h *eventRecord, b []byte, seq uint64, q TimelineQuery) ([]byte, bool, error) {
	vi := h.versionAt(seq)
	if vi < 0 {
		return b, false, nil
	}
	ver := &h.Versions[vi]
	if !ver.Canonical || (vi > 0 && !h.Versions[0].Canonical) || len(ver.raw) < 2 {
		return b, false, errNotCanonical
	}
	var t struct {
		Type string `json:"type"`
	}
	if q.Type != "" { // the only filter the version's lists cannot answer
		if err := json.Unmarshal(ver.raw, &t); err != nil {
			return b, false, err
		}
	}
	if !matches(ver, t.Type, q) {
		return b, false, nil
	}
	// EventView embeds the event: its fields, then the view's.
	b = append(b, ver.raw[:len(ver.raw)-1]...)
	if len(ver.raw) > 2 {
		b = append(b, ',')
	}
	b = append(b, `"seq":`...)
	b = strconv.AppendUint(b, h.Seq, 10)
	b = append(b, `,"recorded_at":`...)
	b = appendTime(b, h.RecordedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(vi), 10)
	if vi > 0 {
		b = append(b, `,"corrected_by":[`...)
		for i, v := range h.Versions[1 : vi+1] {
			if i > 0 {
				b = append(b, ',')
			}
			b = events.AppendJSONString(b, v.By)
		}
		b = append(b, `],"corrected_at":`...)
		b = appendTime(b, ver.RecordedAt)
		b = append(b, `,"original":`...)
		b = append(b, h.Versions[0].raw...)
	}
	if m := h.Retraction; m != nil && m.Seq <= seq {
		b = append(b, `,"retracted":true,"retracted_by":`...)
		b = events.AppendJSONString(b, m.By)
		b = append(b, `,"retracted_at":`...)
		b = appendTime(b, m.RecordedAt)
	}
	return append(b, '}'), true, nil
}

// slowViewJSON is viewJSON by decoding and encoding, for an event whose
// stored JSON is not canonical.
func slowViewJSON(tx Tx, id string, seq uint64, q TimelineQuery) ([]byte, bool, error) {
	r, err := cachedRecord(tx, id)
	if err != nil || r == nil {
		return nil, false, fmt.Errorf("event %s: %v", id, err)
	}
	ev := r.view(seq)
	if ev == nil || !matches(&r.Versions[ev.Version], ev.Type, q) {
		return nil, false, nil
	}
	b, err := json.Marshal(ev)
	return b, err == nil, err
}
