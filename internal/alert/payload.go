package alert

import (
	"strconv"
	"time"

	"github.com/parley-news/parley/internal/projections"
)

// Payload is the JSON body of a delivery, in the shape the Standard
// Webhooks specification recommends: a type, a timestamp and the data.
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// PayloadType is the type of every delivery.
const PayloadType = "parley.development"

// Data is one development as a subscription receives it: its kinds, the
// positions before and after, and what it concerns.
type Data struct {
	Subscription string `json:"subscription"`
	// Title is the title of the event that made the development.
	Title string `json:"title,omitempty"`
	*projections.Development
}

// NewPayload is the alert of development d for subscription sub.
func NewPayload(sub string, d *projections.Development, title string) Payload {
	return Payload{
		Type:      PayloadType,
		Timestamp: d.RecordedAt.UTC(),
		Data:      Data{Subscription: sub, Title: title, Development: d},
	}
}

// MessageID is the id of the alert of the development at seq for a
// subscription: the same on every attempt and every replica, so that a
// receiver can drop a repeat (the webhook-id header).
func MessageID(sub string, seq uint64) string {
	return "msg_" + sub + "_" + strconv.FormatUint(seq, 10)
}
