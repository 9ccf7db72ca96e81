package ingest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/ingest"
	"github.com/parley-news/parley/internal/natstest"
)

// TestFilesTellEveryMistakeOfARecord: ingesting a file whose records
// each hold several mistakes, an unknown field among them, prints every
// mistake of each record at once, each with its file, line, record and
// field, and the good record beside them goes in.
func TestFilesTellEveryMistakeOfARecord(t *testing.T) {
	conn := natstest.Conn(t, natstest.Server(t))
	for _, c := range []struct {
		file, input string
		want        []string // the lines printed for the rejected records
	}{
		{"in.yaml", `- id: geneva
  titel: Talks in Geneva
  type: statment
  occurred_at: 2025-11-23
  actors: [us, xx]
  sources: [{outlet: AP}]
- id: good-yaml
  type: talks
  occurred_at: 2025-11-23
  title: Talks
  sources: [{outlet: AP}]
- id: bad-source
  type: talks
  occurred_at: 2025-11-23
  title: Talks
  sources:
    - outlett: AP
      published_at: 2025-11-32
`, []string{
			`  rejected: in.yaml:2: record 1 (id geneva): titel: unknown field; type "statment" (line 3): not in the vocabulary; title (line 1): required; actors[1] "xx" (line 5): not in the vocabulary`,
			`  rejected: in.yaml:17: record 3 (id bad-source): sources[0].outlett: unknown field; sources[0].outlet: required; sources[0].published_at "2025-11-32" (line 18): not a date or time (want 2006-01-02, 2006-01-02T15:04Z or RFC 3339)`,
		}},
		{"in.ndjson", `{"id":"good-ndjson","type":"talks","occurred_at":"2025-11-23","title":"Talks","sources":[{"outlet":"AP"}]}
{"id":"rome","type":"talks","occurred_at":"2025-11-23","titel":"x","sources":[{"outlet":"AP"}],"positions":[{"party":"us","issue":"army-cap","stance":"wants"}]}
`, []string{
			`  rejected: in.ndjson:2: record 2 (id rome): titel: unknown field; title: required; positions[0].stance "wants": not in the vocabulary`,
		}},
	} {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(path, []byte(c.input), 0o600); err != nil {
				t.Fatal(err)
			}
			ing := &ingest.Ingester{Stream: conn, Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
			var out, errOut bytes.Buffer
			ok, err := ing.Files(context.Background(), []string{path}, nil, &out, &errOut)
			if err != nil || ok {
				t.Fatalf("Files: %v %v, want refused records and no error", ok, err)
			}
			if want := path + ": 1 appended, 0 duplicate, " + map[bool]string{true: "2", false: "1"}[len(c.want) == 2] + " rejected\n"; out.String() != want {
				t.Errorf("counts %q, want %q", out.String(), want)
			}
			got := strings.ReplaceAll(errOut.String(), path, c.file)
			if want := strings.Join(c.want, "\n") + "\n"; got != want {
				t.Errorf("printed\n%s\nwant\n%s", got, want)
			}
		})
	}
}
