package data_test

import (
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
)

// TestTimelineValid keeps the shipped timeline valid against the shipped
// vocabulary: a broken seed would fail every demo.
func TestTimelineValid(t *testing.T) {
	dec := events.Decoder{Vocabulary: data.Vocabulary()}
	fsys, names := data.Timeline()
	ids := map[string]bool{}
	n := 0
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for rec := range dec.Decode(name, f, events.YAML) {
			if rec.Err != nil {
				t.Errorf("%v", rec.Err)
				continue
			}
			if ids[rec.Event.ID] {
				t.Errorf("%s: id %s given twice", name, rec.Event.ID)
			}
			if c := rec.Event.Corrects; c != "" && !ids[c] {
				t.Errorf("%s: %s corrects %s, which comes later or not at all", name, rec.Event.ID, c)
			}
			ids[rec.Event.ID] = true
			n++
		}
		f.Close()
	}
	if n < 25 {
		t.Errorf("timeline has %d events, want at least 25", n)
	}
}
