// Package outage logs a failure that a loop tries again and again (a
// store that refuses writes, a disk that is full): once when it begins,
// again every so often with how many tries failed and for how long, and
// once when it ends, instead of a line at every try.
package outage

import (
	"context"
	"log/slog"
	"time"
)

// Log tells one kind of failure. The zero value is not usable: set Logger
// and the messages.
type Log struct {
	Logger *slog.Logger
	// Level of the lines while it fails; the end is told at Info.
	Level slog.Level
	// Began, Still and Ended are the messages of the first failure, of
	// the reminders and of the first success after failures.
	Began, Still, Ended string
	// Remind is how often a failure that goes on is told again.
	Remind time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	since, told time.Time
	count       int
}

func (l *Log) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// Failed counts a failed try and tells it if it is the first or a
// reminder is due. args are logged beside the counts and err.
func (l *Log) Failed(ctx context.Context, err error, args ...any) {
	now := l.now()
	l.count++
	switch {
	case l.count == 1:
		l.since, l.told = now, now
		l.Logger.Log(ctx, l.Level, l.Began, append(args, "err", err)...)
	case now.Sub(l.told) >= l.Remind:
		l.told = now
		l.Logger.Log(ctx, l.Level, l.Still, append(args, "failures", l.count, "for", now.Sub(l.since).Round(time.Second), "err", err)...)
	}
}

// Recovered tells, after failures, that a try went through; after none
// it says nothing.
func (l *Log) Recovered(ctx context.Context, args ...any) {
	if l.count == 0 {
		return
	}
	l.Logger.InfoContext(ctx, l.Ended, append(args, "failures", l.count, "for", l.now().Sub(l.since).Round(time.Second))...)
	l.count = 0
}
