// Package events holds Parley's event: the envelope of one dated development
// in a negotiation, its JSON and YAML forms, the vocabulary of parties,
// issues, event types and stances it may name, and the validation that turns
// outside input into events or into errors that name the file, the record,
// the field and the offending value.
//
// The package knows nothing of NATS, bbolt or HTTP: it is the domain's
// vocabulary, imported by the adapters around it.
package events
