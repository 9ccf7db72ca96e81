package feed_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/feed"
	"github.com/parley-news/parley/internal/projections"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  feed.Config
		want string // "" for valid
	}{
		{feed.Config{}, ""},
		{feed.Config{MaxClients: 5, MaxClientsPerAddr: 1, Buffer: 1, KeepAlive: time.Second, BaseURL: "https://parley.example/"}, ""},
		{feed.Config{MaxClients: -1}, "MaxClients is negative"},
		{feed.Config{WriteTimeout: -time.Second}, "WriteTimeout is negative"},
		{feed.Config{Entries: feed.MaxEntries + 1}, "Entries"},
		{feed.Config{BaseURL: "parley.example"}, "BaseURL"},
		{feed.Config{BaseURL: "ftp://parley.example"}, "BaseURL"},
	} {
		err := c.cfg.Validate()
		if got := fmt.Sprint(err); (c.want == "") != (err == nil) || !strings.Contains(got, c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
		if c.want != "" {
			if _, err := feed.New(projections.NewMem(), data.Vocabulary(), c.cfg); err == nil {
				t.Errorf("New accepted %+v", c.cfg)
			}
		}
	}
}

// TestLastEventIDHeaderWins: a browser reconnects to the URL it first
// opened (with its last_event_id) and adds the header with how far it got.
func TestLastEventIDHeaderWins(t *testing.T) {
	h := newHarness(t, feed.Config{}, nil)
	seqs := h.appendEvents(t, event("h-1", "talks"), event("h-2", "talks"), event("h-3", "talks"))
	for _, c := range []struct {
		query, header string
		want          uint64
	}{
		{"?last_event_id=0", "", seqs[0]},
		{"", fmt.Sprint(seqs[0]), seqs[1]},
		{"?last_event_id=0", fmt.Sprint(seqs[1]), seqs[2]},
	} {
		s, code := openSSE(t, h.URL, c.query, c.header)
		if code != 200 {
			t.Fatal(code)
		}
		f, ok := s.next(t, 5*time.Second)
		s.close()
		if !ok || f.ID != c.want {
			t.Errorf("query %q header %q: first message %d (ok %v), want %d", c.query, c.header, f.ID, ok, c.want)
		}
	}
}
