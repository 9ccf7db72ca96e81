package synth_test

import (
	"fmt"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/synth"
)

func TestEventsAreValidAndAboutOneKiB(t *testing.T) {
	v := data.Vocabulary()
	g := synth.Generator{Vocabulary: v, Seed: 7, Amends: 5}
	total := 0
	for _, e := range g.Events(2000) {
		if errs := v.Validate(&e); errs != nil {
			t.Fatalf("%s: %v", e.ID, errs)
		}
		total += len(events.Wrap(e, ""))
	}
	if mean := total / 2000; mean < 700 || mean > 1500 {
		t.Errorf("mean wrapped size %d bytes, want about 1 KiB", mean)
	}
}

func ExampleGenerator() {
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 1}
	e := g.Next()
	fmt.Println(e.ID, e.OccurredAt.Precision)
	// Output: synth-00000001 minute
}
