package alert

import (
	"crypto/sha256"
	"encoding/hex"
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

// MessageIDIn is the id of the alert of the development at seq, recorded
// at at in the stream named stream (projections.StreamID), where (sub,
// seq) may already have named another development: in another stream, or
// in the same one restored from an older backup and written on. It is
// MessageID with HistoryTag, so a receiver that drops repeats keeps it.
func MessageIDIn(sub string, seq uint64, stream string, at time.Time) string {
	return MessageID(sub, seq) + "_" + HistoryTag(stream, at)
}

// HistoryTag tells apart developments that share a sequence: a digest of
// their stream's identity and the time they were recorded, the same on
// every replica.
func HistoryTag(stream string, at time.Time) string {
	sum := sha256.Sum256([]byte(stream + "|" + at.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:6])
}
