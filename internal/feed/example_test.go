package feed_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/feed"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/stream"
)

// Example wires the feeds into a projector process, as package service
// does: the broker takes each committed batch from the projector's hook
// and serves the three routes.
func Example() {
	ctx := context.Background()
	conn, err := stream.Connect(ctx, stream.Config{URL: "nats://127.0.0.1:4222"})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	store, err := bolt.Open("var/parley/parley.db", bolt.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	b, err := feed.New(store, data.Vocabulary(), feed.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	mux := http.NewServeMux()
	b.Register(mux)
	p := projector.New(conn, store, projector.Config{OnApply: b.Publish})
	go p.Run(ctx)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// ExampleFrame shows one SSE message as a client reads it.
func ExampleFrame() {
	d := &projections.Development{Seq: 42, RecordedAt: time.Date(2025, 11, 23, 9, 0, 0, 0, time.UTC),
		Event: "geneva-talks", Type: "talks", Kinds: []string{"new_event"}, Parties: []string{"us", "ua"}}
	f, err := feed.Frame(&feed.Message{Seq: d.Seq, Development: d})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(f))
	// Output:
	// id: 42
	// event: talks
	// data: {"seq":42,"development":{"seq":42,"recorded_at":"2025-11-23T09:00:00Z","event":"geneva-talks","type":"talks","kinds":["new_event"],"parties":["us","ua"]},"event":null}
}

// ExampleFilter_Match narrows a feed as ?party=ua&type=talks does.
func ExampleFilter_Match() {
	f := feed.Filter{Party: "ua", Type: "talks"}
	fmt.Println(f.Match(&projections.Development{Type: "talks", Parties: []string{"us", "ua"}}))
	fmt.Println(f.Match(&projections.Development{Type: "statement", Parties: []string{"ua"}}))
	// Output:
	// true
	// false
}
