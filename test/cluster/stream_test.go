//go:build cluster

package cluster_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/stream"
)

// stored is what the stream holds, read back message by message.
type stored struct {
	Last  uint64
	Count map[string]int      // id -> messages with its subject
	Sum   map[string][32]byte // id -> hash of its event data
	Gaps  []uint64            // sequences missing between 1 and Last
}

// readStream reads the whole stream back through an ordered consumer of
// the admin user.
func readStream(ctx context.Context, js jetstream.JetStream) (*stored, error) {
	info, err := streamInfo(ctx, js)
	if err != nil {
		return nil, err
	}
	st := &stored{Last: info.State.LastSeq, Count: map[string]int{}, Sum: map[string][32]byte{}}
	if st.Last == 0 {
		return st, nil
	}
	s, err := js.Stream(ctx, stream.DefaultStreamName)
	if err != nil {
		return nil, err
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	var next uint64 = 1
	for next <= st.Last {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("read stream at %d of %d: %w", next, st.Last, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		for ; next < md.Sequence.Stream; next++ {
			st.Gaps = append(st.Gaps, next)
		}
		next = md.Sequence.Stream + 1
		id := strings.TrimPrefix(m.Subject(), stream.EventsPrefix)
		var env events.Envelope
		if err := json.Unmarshal(m.Data(), &env); err != nil {
			return nil, fmt.Errorf("seq %d: %w", md.Sequence.Stream, err)
		}
		st.Count[id]++
		st.Sum[id] = sha256.Sum256(env.Data)
	}
	return st, nil
}
