package service

import (
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
