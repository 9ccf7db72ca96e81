package events

// DecodeCanonical exposes decodeCanonical to the external tests, which
// hold it to encoding/json on the cases the encoder's tests use.
var DecodeCanonical = decodeCanonical
