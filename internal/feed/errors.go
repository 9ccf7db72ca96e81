package feed

import "errors"

// Reasons a client is refused or disconnected. The SSE handler answers the
// first two with 429, ErrClosed with 503.
var (
	// ErrTooManyClients: the server holds Config.MaxClients streams.
	ErrTooManyClients = errors.New("too many feed clients")
	// ErrTooManyFromAddr: the remote address holds Config.MaxClientsPerAddr
	// streams.
	ErrTooManyFromAddr = errors.New("too many feed clients from this address")
	// ErrClosed: the broker is shutting down.
	ErrClosed = errors.New("feed closed")
	// ErrSlowClient: the client's buffer was full when a development came.
	ErrSlowClient = errors.New("feed client too slow")
	// ErrOverrun: the projector got so far ahead of the fan-out that its
	// queue was dropped; every client resumes from the read model.
	ErrOverrun = errors.New("feed queue overrun")
)
