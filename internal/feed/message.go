package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/parley-news/parley/internal/projections"
)

// Message is the data of one SSE message: a development and the event it
// is about, as known when the message was rendered. The web page decodes
// this shape: its field names are part of the API.
type Message struct {
	Seq         uint64                   `json:"seq"`
	Development *projections.Development `json:"development"`
	// Event is the event recorded at Seq, with its corrections and
	// retraction as known now; null if the read model no longer has it.
	Event *projections.EventView `json:"event"`
}

// message is a Message rendered once as an SSE frame and shared by every
// client it goes to.
type message struct {
	dev   *projections.Development
	frame []byte
}

// render looks up the development's event in tx and renders its frame.
func render(tx projections.Tx, d *projections.Development) (*message, error) {
	ev, err := projections.EventAtSeq(tx, d.Seq)
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		return nil, fmt.Errorf("render development %d: %w", d.Seq, err)
	}
	f, err := Frame(&Message{Seq: d.Seq, Development: d, Event: ev})
	if err != nil {
		return nil, err
	}
	return &message{dev: d, frame: f}, nil
}

var lineBreaks = strings.NewReplacer("\r", "", "\n", "")

// Frame renders m as one SSE message: its sequence as the id, the event
// type as the event name, and m as JSON on one data line.
func Frame(m *Message) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode development %d: %w", m.Seq, err)
	}
	typ := "message"
	if m.Development != nil && m.Development.Type != "" {
		// Vocabulary ids hold no line breaks; a line break here would end
		// the field and let the rest pass for another.
		typ = lineBreaks.Replace(m.Development.Type)
	}
	b := make([]byte, 0, len(data)+len(typ)+40)
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, m.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, typ...)
	b = append(b, "\ndata: "...)
	b = append(b, data...) // json.Marshal writes no raw line breaks
	b = append(b, "\n\n"...)
	return b, nil
}
