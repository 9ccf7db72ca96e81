package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/ingest"
	"github.com/parley-news/parley/internal/metrics"
	"github.com/parley-news/parley/internal/natstest"
	"github.com/parley-news/parley/internal/stream"
	"github.com/parley-news/parley/internal/synth"
)

// TestCheckTellsRepeatedIDs: checking an input without a stream tells an
// id given twice as appending it would, a duplicate when the event is the
// same and a conflict when not, and prints where the conflict is.
func TestCheckTellsRepeatedIDs(t *testing.T) {
	ev := func(id, title string) string {
		return `{"id":"` + id + `","type":"statement","occurred_at":"2025-11-21","title":"` + title + `","sources":[{"outlet":"AP"}]}`
	}
	in := strings.Join([]string{ev("a", "A"), ev("b", "B"), ev("a", "A"), ev("a", "changed")}, "\n")
	ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
	res, err := ing.Ingest(context.Background(), "in.ndjson", strings.NewReader(in), events.NDJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ingest.Valid, ingest.Valid, ingest.Duplicate, ingest.Conflict}
	for i, rr := range res.Records {
		if rr.Status != want[i] {
			t.Errorf("record %d: %s %s, want %s", rr.Record, rr.Status, rr.Error, want[i])
		}
	}
	if res.OK() || res.Appended != 2 || res.Duplicate != 1 || res.Rejected != 0 || res.Conflict != 1 {
		t.Errorf("counts: %+v", res)
	}
	var out, errOut bytes.Buffer
	ingest.Print(res, &out, &errOut)
	if got := errOut.String(); !strings.Contains(got, "conflict: in.ndjson:4: record 4 (id a): id a already given to other content in record 1") {
		t.Errorf("conflict line:\n%s", got)
	}
}

// TestPrintFoldsAlikeFailures prints a run of records that failed for one
// reason as one line, and names the record of a lone one.
func TestPrintFoldsAlikeFailures(t *testing.T) {
	res := &ingest.Result{Name: "big.ndjson", Failed: 4, Records: []ingest.RecordResult{
		{Record: 1, Line: 1, ID: "a", Status: ingest.Appended},
		{Record: 2, Line: 2, ID: "b", Status: ingest.Failed, Error: "append b: context canceled"},
		{Record: 3, Line: 3, ID: "c", Status: ingest.Failed, Error: "append c: context canceled"},
		{Record: 4, Line: 4, ID: "d", Status: ingest.Failed, Error: "append d: context canceled"},
		{Record: 5, Line: 5, ID: "e", Status: ingest.Failed, Error: "no responders"},
	}}
	var out, errOut bytes.Buffer
	ingest.Print(res, &out, &errOut)
	want := "  failed: big.ndjson: records 2 to 4: append <id>: context canceled\n  failed: big.ndjson:5: record 5 (id e): no responders\n" +
		"  4 failed: not known to be appended (some may have been, their answer lost); ingest the same input again, which their ids make safe\n"
	if errOut.String() != want {
		t.Errorf("got\n%s\nwant\n%s", errOut.String(), want)
	}
}

// TestLargeFileShowsProgress: a file of a few MiB, seconds of work,
// shows how far ingest has come, in lines (plain lines when not on a
// terminal), ending with the whole of it; a small one shows nothing.
func TestLargeFileShowsProgress(t *testing.T) {
	dir := t.TempDir()
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 5}
	var big bytes.Buffer
	for _, e := range g.Events(5000) {
		big.Write(e.Canonical())
		big.WriteByte('\n')
	}
	if big.Len() < 4<<20 {
		t.Fatalf("the large file is only %d bytes", big.Len())
	}
	files := map[string][]byte{"big.ndjson": big.Bytes(), "small.ndjson": big.Bytes()[:bytes.IndexByte(big.Bytes(), '\n')+1]}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{"big.ndjson": true, "small.ndjson": false} {
		var out, errOut bytes.Buffer
		ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Progress: &errOut}
		if ok, err := ing.Files(context.Background(), []string{filepath.Join(dir, name)}, nil, &out, &errOut); !ok || err != nil {
			t.Fatalf("%s: %v %v\n%s", name, ok, err, errOut.String())
		}
		lines := bytes.Count(files[name], []byte("\n"))
		shown := strings.Contains(errOut.String(), fmt.Sprintf("%d/%d lines in ", lines, lines))
		if shown != want {
			t.Errorf("%s: progress shown %v, want %v:\n%s", name, shown, want, errOut.String())
		}
	}
}

// TestCorrectionBeforeItsEvent: a correction placed before the event it
// corrects, in the same input, is refused when checking as when
// appending (the event is not in the record yet when it comes), and says
// where the event is; one after its event is valid.
func TestCorrectionBeforeItsEvent(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"fix-before","type":"correction","occurred_at":"2025-11-22","title":"Fix","corrects":"target","amend":{"title":"Fixed"},"sources":[{"outlet":"AP"}]}`,
		`{"id":"target","type":"statement","occurred_at":"2025-11-21","title":"Target","sources":[{"outlet":"AP"}]}`,
		`{"id":"fix-after","type":"correction","occurred_at":"2025-11-22","title":"Fix","corrects":"target","amend":{"title":"Fixed"},"sources":[{"outlet":"AP"}]}`,
	}, "\n")
	ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
	res, err := ing.Ingest(context.Background(), "in.ndjson", strings.NewReader(in), events.NDJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ingest.Rejected, ingest.Valid, ingest.Valid}
	for i, rr := range res.Records {
		if rr.Status != want[i] {
			t.Errorf("record %d: %s %s, want %s", rr.Record, rr.Status, rr.Error, want[i])
		}
	}
	if e := res.Records[0].Error; !strings.Contains(e, `corrects "target"`) || !strings.Contains(e, "in record 2: put the correction after it") {
		t.Errorf("the refusal does not say where the event is: %s", e)
	}
	if res.OK() || res.Rejected != 1 {
		t.Errorf("counts %+v", res)
	}

	ing.Stream = natstest.Conn(t, natstest.Server(t))
	res, err = ing.Ingest(context.Background(), "in.ndjson", strings.NewReader(in), events.NDJSON)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{ingest.Rejected, ingest.Appended, ingest.Appended}
	for i, rr := range res.Records {
		if rr.Status != want[i] {
			t.Errorf("appending, record %d: %s %s, want %s", rr.Record, rr.Status, rr.Error, want[i])
		}
	}
	if e := res.Records[0].Error; !strings.Contains(e, "no event with this id in the record; it comes later in this input, in record 2") {
		t.Errorf("appending, the refusal does not say where the event is: %s", e)
	}
}

// TestAmendingACorrection: a correction or retraction that names another
// correction or retraction, which the projector would leave without
// effect, is refused and told to name the original event, whether the
// one it names is earlier in the same input (checking or appending) or
// already in the record (a later input).
func TestAmendingACorrection(t *testing.T) {
	const (
		target = `{"id":"target","type":"statement","occurred_at":"2025-11-21","title":"Target","sources":[{"outlet":"AP"}]}`
		fix    = `{"id":"fix","type":"correction","occurred_at":"2025-11-22","title":"Fix","corrects":"target","amend":{"title":"Fixed"},"sources":[{"outlet":"AP"}]}`
		pull   = `{"id":"pull","type":"retraction","occurred_at":"2025-11-23","title":"Pulled","corrects":"target","sources":[{"outlet":"AP"}]}`
	)
	amending := func(id, names, typ string) string {
		if typ == "retraction" {
			return `{"id":"` + id + `","type":"retraction","occurred_at":"2025-11-24","title":"Un-fix","corrects":"` + names + `","sources":[{"outlet":"AP"}]}`
		}
		return `{"id":"` + id + `","type":"correction","occurred_at":"2025-11-24","title":"Re-fix","corrects":"` + names + `","amend":{"title":"Fixed again"},"sources":[{"outlet":"AP"}]}`
	}
	for _, c := range []struct {
		name  string
		first string // appended first, in an input of its own ("" for none)
		input []string
		want  []string // each record's status
		why   string   // the refusal, when there is one
	}{
		{"a correction of a correction, in the same input", "", []string{target, fix, amending("fix2", "fix", "correction")},
			[]string{ingest.Appended, ingest.Appended, ingest.Rejected}, `corrects "fix": itself a correction, of target: a correction or retraction names the original event (target)`},
		{"a retraction of a correction, in the same input", "", []string{target, fix, amending("unfix", "fix", "retraction")},
			[]string{ingest.Appended, ingest.Appended, ingest.Rejected}, `corrects "fix": itself a correction, of target`},
		{"a correction of a retraction, in the record", target + "\n" + pull, []string{amending("fix-pull", "pull", "correction")},
			[]string{ingest.Rejected}, `corrects "pull": itself a retraction, of target: a correction or retraction names the original event (target)`},
		{"a correction of a correction, in the record", target + "\n" + fix, []string{amending("fix2", "fix", "correction")},
			[]string{ingest.Rejected}, `corrects "fix": itself a correction, of target`},
		{"a correction of the original, in the record", target + "\n" + fix, []string{amending("fix2", "target", "correction")},
			[]string{ingest.Appended}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, appending := range []bool{false, true} {
				ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
				want := slices.Clone(c.want)
				if appending {
					ing.Stream = natstest.Conn(t, natstest.Server(t))
					if c.first != "" {
						if res, err := ing.Ingest(context.Background(), "first.ndjson", strings.NewReader(c.first), events.NDJSON); err != nil || !res.OK() {
							t.Fatalf("first input: %v %+v", err, res)
						}
					}
				} else {
					if c.first != "" {
						continue // checking alone cannot see the record
					}
					for i, w := range want {
						if w == ingest.Appended {
							want[i] = ingest.Valid
						}
					}
				}
				res, err := ing.Ingest(context.Background(), "in.ndjson", strings.NewReader(strings.Join(c.input, "\n")), events.NDJSON)
				if err != nil {
					t.Fatal(err)
				}
				for i, rr := range res.Records {
					if rr.Status != want[i] {
						t.Errorf("appending %v, record %d: %s %s, want %s", appending, rr.Record, rr.Status, rr.Error, want[i])
					}
					if rr.Status == ingest.Rejected && !strings.Contains(rr.Error, c.why) {
						t.Errorf("appending %v, record %d: %s, want it to say %s", appending, rr.Record, rr.Error, c.why)
					}
				}
			}
		})
	}
}

// TestFilesTakesAFolder: a folder stands for its event files (links to
// them too), in name order, leaving out other files, hidden ones and
// subfolders; a folder with none is said to be so, and the files beside
// it still go in.
func TestFilesTakesAFolder(t *testing.T) {
	dir := t.TempDir()
	ev := func(id string) string {
		return `{"id":"` + id + `","type":"statement","occurred_at":"2025-11-21","title":"T","sources":[{"outlet":"AP"}]}` + "\n"
	}
	files := map[string]string{
		"02-b.ndjson":     ev("b"),
		"01-a.json":       ev("a"),
		"03-c.yaml":       "- id: c\n  type: statement\n  occurred_at: 2025-11-21\n  title: T\n  sources: [{outlet: AP}]\n",
		"README.md":       "# not events\n",
		"sub/04-d.ndjson": ev("d"),
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A link to an event file counts; a hidden file (a copy's "._"
	// leftover) does not.
	elsewhere := filepath.Join(t.TempDir(), "e.ndjson")
	if err := os.WriteFile(elsewhere, []byte(ev("e")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "05-e.ndjson")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "._01-a.json"), []byte{0, 5, 22, 7}, 0o600); err != nil {
		t.Fatal(err)
	}
	// A link to nothing (a corrections file gone missing) is said, not
	// left out in silence, and so is a file that is not there.
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone.ndjson"), filepath.Join(dir, "06-gone.ndjson")); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	var out, errOut bytes.Buffer
	ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
	ok, err := ing.Files(context.Background(), []string{dir, empty, missing}, nil, &out, &errOut)
	if err == nil || ok {
		t.Fatalf("ok %v, err %v: want an error (inputs that could not be read), the other files ingested", ok, err)
	}
	for _, want := range []string{"06-gone.ndjson", empty + ": a folder with no event files", missing} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
	want := fmt.Sprintf("%s: 1 valid, 0 duplicate, 0 rejected\n%s: 1 valid, 0 duplicate, 0 rejected\n%s: 1 valid, 0 duplicate, 0 rejected\n%s: 1 valid, 0 duplicate, 0 rejected\n",
		filepath.Join(dir, "01-a.json"), filepath.Join(dir, "02-b.ndjson"), filepath.Join(dir, "03-c.yaml"), filepath.Join(dir, "05-e.ndjson"))
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if !strings.Contains(errOut.String(), empty+": a folder with no event files") {
		t.Errorf("errors: %s", errOut.String())
	}
}

// lostAnswers is the stream with its answers to a second copy of an id
// lost: the retry finds the event stored and, since the copy's own first
// attempt may have stored it, answers appended (stream.Conn.compare),
// as it does after a leader failover. Every append goes to the real
// stream; only that answer is rewritten.
type lostAnswers struct {
	ingest.Appender
	sent map[string]bool
}

func (l *lostAnswers) Append(ctx context.Context, evs []events.Event, source string) []stream.Result {
	rs := l.Appender.Append(ctx, evs, source)
	for i := range rs {
		if rs[i].Status == stream.Duplicate && l.sent[rs[i].ID] {
			rs[i].Status = stream.Appended
		}
		l.sent[rs[i].ID] = true
	}
	return rs
}

// TestTwinsAcrossBatchesAppendedOnce: an id given twice in an input, its
// copies in batches of their own or in one, is appended once and a
// duplicate once, even when the second copy's answer says appended: the
// counts stay true.
func TestTwinsAcrossBatchesAppendedOnce(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"twin","type":"statement","occurred_at":"2025-11-21","title":"Twin","sources":[{"outlet":"AP"}]}`,
		`{"id":"other","type":"statement","occurred_at":"2025-11-21","title":"Other","sources":[{"outlet":"AP"}]}`,
		`{"id":"twin","type":"statement","occurred_at":"2025-11-21","title":"Twin","sources":[{"outlet":"AP"}]}`,
	}, "\n")
	for _, batch := range []int{1, 1000} {
		t.Run(fmt.Sprintf("batches of %d", batch), func(t *testing.T) {
			ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: batch,
				Stream: &lostAnswers{Appender: natstest.Conn(t, natstest.Server(t)), sent: map[string]bool{}}}
			res, err := ing.Ingest(context.Background(), "in.ndjson", strings.NewReader(in), events.NDJSON)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rr := range res.Records {
				got = append(got, rr.Status)
			}
			if strings.Join(got, " ") != "appended appended duplicate" || res.Appended != 2 || res.Duplicate != 1 {
				t.Errorf("statuses %v, counts %+v: want the second twin a duplicate", got, res)
			}
		})
	}
}

// TestRefusalsCountedByKnownFields: refusals are counted by the top-level
// field at fault, and one for a field the schema lacks under "other": the
// name of an unknown field is whatever a sender wrote, and a series for
// each would grow without end.
func TestRefusalsCountedByKnownFields(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"odd-key","type":"statement","occurred_at":"2025-11-21","title":"T","sources":[{"outlet":"AP"}],"zz-sender-key-1":1}`,
		`{"id":"bad-date","type":"statement","occurred_at":"2025-13-01","title":"T","sources":[{"outlet":"AP"}]}`,
	}, "\n")
	count := func(field string) float64 {
		var m dto.Metric
		if err := metrics.Records.WithLabelValues(ingest.Rejected, field).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	other, date := count("other"), count("occurred_at")
	ing := &ingest.Ingester{Stream: natstest.Conn(t, natstest.Server(t)), Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
	if _, err := ing.Ingest(context.Background(), "in.ndjson", strings.NewReader(in), events.NDJSON); err != nil {
		t.Fatal(err)
	}
	if got := count("other") - other; got != 1 {
		t.Errorf("unknown field counted %v times under other, want 1", got)
	}
	if got := count("occurred_at") - date; got != 1 {
		t.Errorf("bad date counted %v times under occurred_at, want 1", got)
	}
	ch := make(chan prometheus.Metric, 1000)
	metrics.Records.Collect(ch)
	close(ch)
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		for _, l := range d.GetLabel() {
			if strings.Contains(l.GetValue(), "zz-sender-key") {
				t.Errorf("a series is labelled with the sender's key: %v", d.GetLabel())
			}
		}
	}
}

// TestCheckStopsWhenAsked: checking appends nothing, but a check stopped
// (Ctrl-C) stops, rather than read the rest of a large input and end as
// if it had been read whole.
func TestCheckStopsWhenAsked(t *testing.T) {
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, `{"id":"e%d","type":"statement","occurred_at":"2025-11-21","title":"T","sources":[{"outlet":"AP"}]}`+"\n", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: 10}
	res, err := ing.Ingest(ctx, "in.ndjson", strings.NewReader(in.String()), events.NDJSON)
	if !errors.Is(err, context.Canceled) || len(res.Records) >= 100 {
		t.Errorf("a stopped check: %v after %d records, want context.Canceled before the end", err, len(res.Records))
	}
}

// TestCheckReadsFilesAsOneInput: a check of several files reads them as
// a run appends them, to one stream: an id given again in a later file is
// a duplicate or a conflict (naming the file it was first given in), and
// a correction may name, or must not amend, what an earlier file holds.
func TestCheckReadsFilesAsOneInput(t *testing.T) {
	dir := t.TempDir()
	const (
		target = `{"id":"target","type":"statement","occurred_at":"2025-11-21","title":"Target","sources":[{"outlet":"AP"}]}`
		fix    = `{"id":"fix","type":"correction","occurred_at":"2025-11-22","title":"Fix","corrects":"target","amend":{"title":"Fixed"},"sources":[{"outlet":"AP"}]}`
	)
	files := map[string]string{
		"1.ndjson": target + "\n" + fix + "\n",
		"2.ndjson": target + "\n" + strings.Replace(fix, `"Fixed"`, `"Other"`, 1) + "\n" +
			`{"id":"fix2","type":"correction","occurred_at":"2025-11-23","title":"Re-fix","corrects":"fix","amend":{"title":"Again"},"sources":[{"outlet":"AP"}]}` + "\n" +
			`{"id":"fix3","type":"correction","occurred_at":"2025-11-23","title":"Re-fix","corrects":"target","amend":{"title":"Again"},"sources":[{"outlet":"AP"}]}` + "\n",
	}
	var names []string
	for _, n := range []string{"1.ndjson", "2.ndjson"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(files[n]), 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, p)
	}
	var out, errOut bytes.Buffer
	ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
	ok, err := ing.Files(context.Background(), names, nil, &out, &errOut)
	if err != nil || ok {
		t.Fatalf("ok %v, err %v: want not ok (a conflict, a refused correction), no error", ok, err)
	}
	want := fmt.Sprintf("%s: 2 valid, 0 duplicate, 0 rejected\n%s: 1 valid, 1 duplicate, 1 rejected, 1 conflict\n", names[0], names[1])
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	for _, say := range []string{"id fix already given to other content in " + names[0] + " record 2", `corrects "fix": itself a correction, of target`} {
		if !strings.Contains(errOut.String(), say) {
			t.Errorf("errors do not say %q:\n%s", say, errOut.String())
		}
	}
}

// TestReadErrorStopsTheInput: an input that fails partway is an error
// that says so, not a rejected record; the records read before it still
// count.
func TestReadErrorStopsTheInput(t *testing.T) {
	ev := func(id string) string {
		return `{"id":"` + id + `","type":"statement","occurred_at":"2025-11-21","title":"T","sources":[{"outlet":"AP"}]}` + "\n"
	}
	failure := errors.New("input/output error")
	for _, c := range []struct {
		name string
		f    events.Format
	}{{"ndjson", events.NDJSON}, {"json", events.JSON}, {"yaml", events.YAML}} {
		f := c.f
		t.Run(c.name, func(t *testing.T) {
			in := io.MultiReader(strings.NewReader(ev("a")+ev("b")), iotest.ErrReader(failure))
			ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
			res, err := ing.Ingest(context.Background(), "in", in, f)
			if !errors.Is(err, failure) {
				t.Fatalf("error %v, want the read's", err)
			}
			if res.Rejected != 0 {
				t.Errorf("%d rejected, want none: %+v", res.Rejected, res.Records)
			}
			if f == events.NDJSON && res.Appended != 2 {
				t.Errorf("%d valid before the failure, want 2", res.Appended)
			}
		})
	}
}

// TestResentInAnotherNormalForm: the same event saved decomposed (NFD,
// as some editors and macOS file names do) and composed (NFC) is a
// duplicate, not a conflict, whichever form came first, and whether the
// stream holds it normalized (sent through ingest) or as it was written
// (sent before ingest normalized text, or by another writer); other text
// is still a conflict.
func TestResentInAnotherNormalForm(t *testing.T) {
	ev := func(title string) string {
		return `{"id":"cafe","type":"statement","occurred_at":"2025-11-21","title":"` + title + `","sources":[{"outlet":"Le Monde"}]}`
	}
	const nfc, nfd = "Caf\u00e9 talks", "Cafe\u0301 talks"
	tests := []struct {
		name   string
		stored string // the title stored first
		raw    bool   // stored as written, past ingest's normalizing
		sent   string
		want   string
	}{
		{"NFC, then NFD", nfc, false, nfd, ingest.Duplicate},
		{"NFD, then NFC", nfd, false, nfc, ingest.Duplicate},
		{"NFD stored as written, then NFC", nfd, true, nfc, ingest.Duplicate},
		{"NFD stored as written, then NFD", nfd, true, nfd, ingest.Duplicate},
		{"other text", nfc, false, "Cafe talks", ingest.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := natstest.Conn(t, natstest.Server(t))
			ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Stream: conn}
			if tt.raw {
				e := events.Event{ID: "cafe", Type: "statement", OccurredAt: events.MustTime("2025-11-21"), Title: tt.stored,
					Sources: []events.Source{{Outlet: "Le Monde"}}}
				if rs := conn.Append(context.Background(), []events.Event{e}, ""); rs[0].Status != stream.Appended {
					t.Fatalf("store as written: %+v", rs[0])
				}
			} else if res, err := ing.Ingest(context.Background(), "first", strings.NewReader(ev(tt.stored)), events.JSON); err != nil || res.Appended != 1 {
				t.Fatalf("first: %+v %v", res, err)
			}
			res, err := ing.Ingest(context.Background(), "again", strings.NewReader(ev(tt.sent)), events.JSON)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Records[0]; got.Status != tt.want {
				t.Errorf("sent again: %s %s, want %s", got.Status, got.Error, tt.want)
			}
		})
	}
}

// TestVocabularyChangedUnderTheRecord: a vocabulary that renames an issue
// (army-cap to armed-forces-cap) and adds a party, while the stream holds
// events with the old id. Nothing stored is lost or refused; new input is
// held to the new vocabulary, a refusal naming the record and the field;
// a correction moves an old event's positions to the new id, and a
// retraction withdraws one, old ids and all.
func TestVocabularyChangedUnderTheRecord(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "data", "vocabulary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(raw), "  - id: army-cap\n", "  - id: armed-forces-cap\n", 1)
	renamed = strings.Replace(renamed, "  - {id: nato, name: NATO, short: NATO}\n", "  - {id: nato, name: NATO, short: NATO}\n  - {id: cn, name: China}\n", 1)
	v2, err := events.ParseVocabulary([]byte(renamed))
	if err != nil {
		t.Fatal(err)
	}
	if v2.Issue("army-cap") != nil || v2.Issue("armed-forces-cap") == nil || v2.Party("cn") == nil {
		t.Fatal("the test's vocabulary did not change as meant")
	}
	old := `{"id":"old-cap","type":"statement","occurred_at":"2025-11-21","title":"Cap","sources":[{"outlet":"AP"}],"positions":[{"party":"us","issue":"army-cap","stance":"proposes","value":600000}]}`
	conn := natstest.Conn(t, natstest.Server(t))
	before := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Stream: conn}
	if res, err := before.Ingest(context.Background(), "old", strings.NewReader(old+"\n"+strings.Replace(old, "old-cap", "old-cap-2", 1)), events.NDJSON); err != nil || res.Appended != 2 {
		t.Fatalf("under the old vocabulary: %+v %v", res, err)
	}
	after := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: v2}, Stream: conn}
	tests := []struct {
		name, in, status, err string
	}{
		{"the old event again", old, ingest.Rejected, `positions[0].issue "army-cap": not in the vocabulary`},
		{"a new event with the old id", strings.Replace(old, "old-cap", "new-cap", 1), ingest.Rejected, `record 1 (id new-cap): positions[0].issue "army-cap": not in the vocabulary`},
		{"a new party on the new id", `{"id":"cn-cap","type":"statement","occurred_at":"2025-11-27","title":"China","actors":["cn"],"sources":[{"outlet":"Xinhua"}],"positions":[{"party":"cn","issue":"armed-forces-cap","stance":"open"}]}`, ingest.Appended, ""},
		{"a correction to the new id", `{"id":"fix-cap","type":"correction","occurred_at":"2025-11-30","title":"Renamed","corrects":"old-cap","sources":[{"outlet":"Desk"}],"amend":{"positions":[{"party":"us","issue":"armed-forces-cap","stance":"proposes","value":600000}]}}`, ingest.Appended, ""},
		{"a retraction of an event on the old id", `{"id":"drop-cap","type":"retraction","occurred_at":"2025-11-30","title":"Withdrawn","corrects":"old-cap-2","sources":[{"outlet":"Desk"}]}`, ingest.Appended, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := after.Ingest(context.Background(), "new", strings.NewReader(tt.in), events.JSON)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Records[0]
			if got.Status != tt.status || !strings.Contains(got.Error, tt.err) {
				t.Errorf("%s %q, want %s %q", got.Status, got.Error, tt.status, tt.err)
			}
		})
	}
	if _, ok, err := conn.Stored(context.Background(), "old-cap"); err != nil || !ok {
		t.Errorf("the old event is no longer stored: %v %v", ok, err)
	}
}

// interruptOn ends the run's context as batch n (from 1) is being sent, as
// Ctrl-C during it would, and appends it to the real stream.
type interruptOn struct {
	ingest.Appender
	n, seen int
	stop    context.CancelFunc
}

func (a *interruptOn) Append(ctx context.Context, evs []events.Event, source string) []stream.Result {
	if a.seen++; a.seen == a.n {
		a.stop()
	}
	return a.Appender.Append(ctx, evs, source)
}

// TestInterruptLetsTheBatchInFlightFinish: interrupted while a batch is
// sent, Files lets it finish within Grace, so its records are told as
// the stream took them (appended), reads nothing more and says it was
// interrupted; without grace the batch is given up, its records failed
// though some may be in.
func TestInterruptLetsTheBatchInFlightFinish(t *testing.T) {
	var in bytes.Buffer
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 17}
	for _, e := range g.Events(50) {
		in.Write(e.Canonical())
		in.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "in.ndjson")
	if err := os.WriteFile(file, in.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name           string
		grace          time.Duration
		appended, fail int
	}{
		{"with grace", 10 * time.Second, 20, 0},
		{"without", 0, 10, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := natstest.Conn(t, natstest.Server(t))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: 10, Grace: c.grace,
				Stream: &interruptOn{Appender: conn, n: 2, stop: cancel}}
			var out, errOut bytes.Buffer
			ok, err := ing.Files(ctx, []string{file}, nil, &out, &errOut)
			if ok || !errors.Is(err, ingest.ErrInterrupted) {
				t.Fatalf("Files = %v, %v; want interrupted", ok, err)
			}
			if want := fmt.Sprintf("%d appended", c.appended); !strings.Contains(out.String(), want) {
				t.Errorf("report %q, want %s", out.String(), want)
			}
			if want := "stopped after record 20: interrupted"; !strings.Contains(errOut.String(), want) {
				t.Errorf("errors %q, want %q", errOut.String(), want)
			}
			if c.fail > 0 && !strings.Contains(errOut.String(), fmt.Sprintf("%d failed", c.fail)) {
				t.Errorf("errors %q, want %d failed", errOut.String(), c.fail)
			}
			if last, err := conn.LastSeq(context.Background()); err != nil || c.grace > 0 && last != 20 {
				t.Errorf("stream holds %d events (%v), want the two batches sent", last, err)
			}
		})
	}
}

// interruptingReader gives its first part, then stops ctx when the rest
// is asked for: an interrupt that comes while ingest reads a batch.
type interruptingReader struct {
	first, rest []byte
	stop        context.CancelFunc
}

func (r *interruptingReader) Read(p []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	r.stop()
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// TestInterruptWhileReadingSendsNoMore: interrupted between two batches,
// while the next one is being read, Files sends nothing more: the grace
// is for the batch in flight, not for one begun after the interrupt.
func TestInterruptWhileReadingSendsNoMore(t *testing.T) {
	var in bytes.Buffer
	g := synth.Generator{Vocabulary: data.Vocabulary(), Seed: 17}
	var cut int
	for i, e := range g.Events(300) {
		in.Write(e.Canonical())
		in.WriteByte('\n')
		if i == 149 {
			// In the middle of the second batch, and past what the
			// decoder looks ahead at first.
			cut = in.Len()
		}
	}
	if cut < 128<<10 {
		t.Fatalf("first part of %d bytes: within the decoder's look-ahead", cut)
	}
	conn := natstest.Conn(t, natstest.Server(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdin := &interruptingReader{first: in.Bytes()[:cut], rest: in.Bytes()[cut:], stop: cancel}
	ing := &ingest.Ingester{Decoder: events.Decoder{Vocabulary: data.Vocabulary()}, Batch: 100, Grace: 10 * time.Second, Stream: conn}
	var out, errOut bytes.Buffer
	ok, err := ing.Files(ctx, []string{"-"}, stdin, &out, &errOut)
	if ok || !errors.Is(err, ingest.ErrInterrupted) {
		t.Fatalf("Files = %v, %v; want interrupted", ok, err)
	}
	if want := "-: 100 appended, 0 duplicate, 0 rejected\n"; out.String() != want {
		t.Errorf("report %q, want %q", out.String(), want)
	}
	if want := "stopped after record 100: interrupted"; !strings.Contains(errOut.String(), want) {
		t.Errorf("errors %q, want %q", errOut.String(), want)
	}
	if strings.Contains(errOut.String(), "failed") {
		t.Errorf("errors %q: records never sent told as failed", errOut.String())
	}
	if last, err := conn.LastSeq(context.Background()); err != nil || last != 100 {
		t.Errorf("stream holds %d events (%v), want the first batch only", last, err)
	}
}

// TestTooLargeForTheServerIsRejected: on a server whose max_payload one
// valid event exceeds (a stock server's is 1 MiB, this one's 4 KiB), that
// record is rejected with its sizes, which sending again cannot change,
// not failed (which the command and a 503 ask to send again), and the
// records beside it go in.
func TestTooLargeForTheServerIsRejected(t *testing.T) {
	srv := natstest.WithOptions(t, &server.Options{Host: "127.0.0.1", JetStream: true, MaxPayload: 4 << 10})
	line := func(id, summary string) string {
		return fmt.Sprintf(`{"id":%q,"type":"statement","occurred_at":"2025-11-21","title":"T","summary":%q,"sources":[{"outlet":"AP"}]}`, id, summary)
	}
	in := strings.Join([]string{line("small-1", "s"), line("large", strings.Repeat("x", events.MaxSummary)), line("small-2", "s")}, "\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ing := &ingest.Ingester{Stream: natstest.Conn(t, srv.ClientURL()), Decoder: events.Decoder{Vocabulary: data.Vocabulary()}}
	res, err := ing.Ingest(ctx, "in.ndjson", strings.NewReader(in), events.NDJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ingest.Appended, ingest.Rejected, ingest.Appended}
	for i, rr := range res.Records {
		if rr.Status != want[i] {
			t.Errorf("record %d (%s): %s %s, want %s", rr.Record, rr.ID, rr.Status, rr.Error, want[i])
		}
	}
	if res.Rejected != 1 || res.Failed != 0 || !strings.Contains(res.Records[1].Error, "max_payload of 4096") || res.Records[1].Line != 2 {
		t.Errorf("rejected %d, failed %d; large record: line %d, %q", res.Rejected, res.Failed, res.Records[1].Line, res.Records[1].Error)
	}
}
