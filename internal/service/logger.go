package service

import (
	"fmt"
	"io"
	"log/slog"
)

// NewLogger returns a structured logger writing text or JSON lines.
func NewLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// CheckLogFormat refuses a -log-format other than text or json, which
// NewLogger would otherwise take for text.
func CheckLogFormat(format string) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("-log-format %q: want text or json", format)
	}
	return nil
}
