package delivery

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
)

// TestHandlerErrorsOnce: a failed attempt is one warning (the handler's),
// not two; the router's other errors stay warnings.
func TestHandlerErrorsOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := handlerErrorsOnce{watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelError: slog.LevelWarn})}
	l.With(watermill.LogFields{"handler_name": "deliver_x"}).Error("Handler returned error", errors.New("503"), nil)
	if buf.Len() != 0 {
		t.Errorf("the router's handler error was logged as a warning: %s", buf.String())
	}
	l.Error("Cannot send ack", errors.New("timeout"), nil)
	if !strings.Contains(buf.String(), "Cannot send ack") {
		t.Errorf("another router error was not logged: %q", buf.String())
	}
}
