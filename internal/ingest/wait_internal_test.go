package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

func statements(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, `{"id":%q,"type":"statement","occurred_at":"2025-11-24","title":"T","sources":[{"outlet":"AP"}]}`+"\n", id)
	}
	return b.String()
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fastWatch(t *testing.T) {
	t.Helper()
	notice, poll := waitNotice, waitPoll
	waitNotice, waitPoll = 100*time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() { waitNotice, waitPoll = notice, poll })
}

// TestFilesStopWhenTheStreamStaysAway: inputs ingested while the stream
// is gone say that they wait, give up once the connection has been down
// for Wait, name the records that did not go in with one reason, say that
// what follows was not read, and leave the next inputs alone.
func TestFilesStopWhenTheStreamStaysAway(t *testing.T) {
	fastWatch(t)
	srv := natstest.Stoppable(t)
	conn := natstest.Conn(t, srv.ClientURL())
	srv.Shutdown()

	// A JSON array of a few MiB, one event a line: read whole before its
	// first record, its bar must still end where ingest stopped.
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 7}
	var array []string
	for _, e := range g.Events(5000) {
		array = append(array, string(e.Canonical()))
	}
	big := "[\n" + strings.Join(array, ",\n") + "\n]\n"
	correction := `{"id":"fix","type":"correction","occurred_at":"2025-11-25","title":"T","corrects":"elsewhere","amend":{"title":"U"},"sources":[{"outlet":"AP"}]}` + "\n"
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"a batch", map[string]string{"1.ndjson": statements("a", "b", "c", "d", "e"), "2.ndjson": statements("f")}, []string{
			"1.ndjson: waiting for the stream to answer",
			"1.ndjson: records 1 to 2: the stream could not be reached for 500ms",
			"1.ndjson: stopped after record 2: the stream could not be reached for 500ms; what follows it was not read",
			"1 more inputs not read: ",
		}},
		{"a large JSON array", map[string]string{"big.json": big}, []string{
			"big.json: 3/5002 lines in ", // record 2 is on line 3
			"big.json: stopped after record 2: the stream could not be reached for 500ms",
		}},
		{"a correction's look-up", map[string]string{"1.ndjson": correction}, []string{
			"1.ndjson: waiting for the stream to answer",
			"1.ndjson:1: record 1 (id fix): not appended: looking up elsewhere, which it corrects: the stream could not be reached for 500ms",
			"1.ndjson: stopped after record 1: record 1: look up elsewhere: the stream could not be reached for 500ms",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			var out, errOut bytes.Buffer
			in := &Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: 2,
				Progress: &errOut, Wait: 500 * time.Millisecond}
			start := time.Now()
			ok, err := in.Files(context.Background(), []string{dir}, nil, &out, &errOut)
			if ok || !errors.Is(err, ErrUnreachable) {
				t.Fatalf("Files: ok %v, err %v; want not ok, and ErrUnreachable", ok, err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("gave up after %s, with a wait of 500ms", took.Round(time.Millisecond))
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, errOut.String())
				}
			}
			if strings.Contains(out.String(), "2.ndjson") {
				t.Errorf("the next input was read: %s", out.String())
			}
		})
	}
}

// TestWaitCountsOnlyADownConnection: a stream that answers is waited
// for however long it takes; Wait bounds only the time without a
// connection.
func TestWaitCountsOnlyADownConnection(t *testing.T) {
	fastWatch(t)
	conn := natstest.Conn(t, natstest.Server(t))
	in := &Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: 2, Wait: time.Nanosecond}
	res, err := in.Ingest(context.Background(), "in", strings.NewReader(statements("a", "b", "c", "d", "e")), events.NDJSON)
	if err != nil || res.Appended != 5 {
		t.Fatalf("appended %+v, %v; want all 5", res, err)
	}
}

// TestSilenceBoundsAStreamThatNeverAnswers: connected to a server that
// answers no append (its store failed; here, its stream gone), ingest
// stops once Silence has passed, instead of waiting for ever, and says
// the records did not go in.
func TestSilenceBoundsAStreamThatNeverAnswers(t *testing.T) {
	fastWatch(t)
	url := natstest.Server(t)
	conn := natstest.Conn(t, url)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(context.Background(), stream.DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	in := &Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: 2,
		Wait: time.Minute, Silence: 500 * time.Millisecond}
	start := time.Now()
	res, err := in.Ingest(context.Background(), "in", strings.NewReader(statements("a", "b", "c")), events.NDJSON)
	if !errors.Is(err, ErrUnanswered) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("error %v, want ErrUnanswered", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("gave up after %s, with a silence of 500ms", took.Round(time.Millisecond))
	}
	if res.Appended != 0 || res.Failed == 0 {
		t.Errorf("counts %+v, want none appended and the batch failed", res)
	}
}
