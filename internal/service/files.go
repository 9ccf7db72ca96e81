package service

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/parley-news/parley/internal/feed"
)

// feedStreamsFor returns how many live-feed streams a process allowed
// limit open files may serve: each stream holds a connection, and the
// rest (the API's requests, NATS, the read model and the stream's store,
// webhooks) keeps a quarter of the files, and at least 128.
func feedStreamsFor(limit int) int {
	n := limit - max(128, limit/4)
	return max(n, limit/2)
}

// feedStreams returns the live-feed streams to serve at once: the one
// asked for (0: feed.DefaultMaxClients), but no more than the open-file
// limit leaves room for. Past it, every file went to feed streams: the
// server could accept no request, not even /readyz, and refused new
// streams by not answering at all.
func feedStreams(asked int, log *slog.Logger) int {
	limit, ok := openFileLimit()
	if !ok {
		return asked
	}
	room := feedStreamsFor(limit)
	switch {
	case asked == 0 && room < feed.DefaultMaxClients:
		log.Info("live-feed streams capped by the open-file limit", "streams", room, "open_file_limit", limit)
		return room
	case asked > room:
		log.Warn("-feed-max-streams is above what the open-file limit leaves room for; capped (raise the limit, ulimit -n, to serve more)",
			"asked", asked, "streams", room, "open_file_limit", limit)
		return room
	}
	return asked
}

// filesListener is a listener that waits out running out of files
// (EMFILE, ENFILE) itself, saying so once a minute at most, instead of
// handing each failed accept to net/http, which logged one a second for
// as long as it lasted.
type filesListener struct {
	net.Listener
	log *slog.Logger

	mu     sync.Mutex
	told   time.Time
	missed int
}

func (l *filesListener) Accept() (net.Conn, error) {
	wait := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil || !outOfFiles(err) {
			return c, err
		}
		l.mu.Lock()
		l.missed++
		if time.Since(l.told) >= time.Minute {
			l.log.Warn("out of open files: new connections wait until some close", "err", err, "times", l.missed)
			l.told, l.missed = time.Now(), 0
		}
		l.mu.Unlock()
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
