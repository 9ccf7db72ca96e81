package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/progress"
)

// Files ingests each named file in turn ("-" is stdin), printing one line
// per file with its counts to out and one line per rejected or failed
// record to errOut. It reports whether every record of every file went in;
// an error means a file could not be read at all or the stream failed.
//
// A folder stands for the event files in it (.yaml, .yml, .json, .ndjson,
// .jsonl), not those in its subfolders, in the order of their names: a
// timeline kept as numbered files, corrections last, goes in as kept.
func (in *Ingester) Files(ctx context.Context, names []string, stdin io.Reader, out, errOut io.Writer) (bool, error) {
	ok := true
	names, err := expandFolders(names)
	if err != nil {
		fmt.Fprintln(errOut, err)
		ok = false
	}
	for _, name := range names {
		res, err := in.file(ctx, name, stdin)
		if err != nil {
			// What went in before the error still counts.
			if res != nil {
				Print(res, out, errOut)
			}
			if res != nil && !res.read {
				// The counts are of the records read: say that the
				// input went on past them.
				fmt.Fprintf(errOut, "%s: stopped after record %d: %v; the records after it were not read (ingest the same input again, which their ids make safe)\n", name, len(res.Records), err)
			} else {
				fmt.Fprintf(errOut, "%s: %v\n", name, err)
			}
			ok = false
			if ctx.Err() != nil {
				return false, err
			}
			continue
		}
		Print(res, out, errOut)
		ok = ok && res.OK()
	}
	return ok, nil
}

func (in *Ingester) file(ctx context.Context, name string, stdin io.Reader) (*Result, error) {
	if name == "-" {
		return in.Ingest(ctx, "-", stdin, events.Auto)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if fi, err := f.Stat(); err == nil && in.Progress != nil && fi.Mode().IsRegular() && fi.Size() >= progressFrom {
		// How far into the file ingest has read: appending goes as fast
		// as reading lets it, a batch at a time.
		total := uint64(fi.Size()+1023) / 1024
		c := &counter{r: f, bar: progress.New(in.Progress, name, "KiB", total)}
		r = c
		res, err := in.Ingest(ctx, name, r, events.FormatOf(name))
		if err != nil {
			// As far as it was read, not the whole file.
			total = c.n / 1024
		}
		c.bar.Finish(total)
		return res, err
	}
	return in.Ingest(ctx, name, r, events.FormatOf(name))
}

// progressFrom is the size from which a file's ingest shows its progress:
// a few thousand events, seconds of work.
const progressFrom = 4 << 20

// counter counts the bytes read through it into a progress bar, in KiB.
type counter struct {
	r   io.Reader
	n   uint64
	bar *progress.Bar
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	c.bar.Set(c.n / 1024)
	return n, err
}

// Print writes a result as ingest prints it: the counts on one line, then
// each record that did not go in.
func Print(res *Result, out, errOut io.Writer) {
	verb := "appended"
	if res.Checked {
		verb = "valid"
	}
	fmt.Fprintf(out, "%s: %d %s, %d duplicate, %d rejected", res.Name, res.Appended, verb, res.Duplicate, res.Rejected)
	if res.Conflict > 0 {
		fmt.Fprintf(out, ", %d conflict", res.Conflict)
	}
	if res.Failed > 0 {
		fmt.Fprintf(out, ", %d failed", res.Failed)
	}
	fmt.Fprintln(out)
	for i := 0; i < len(res.Records); i++ {
		rr := res.Records[i]
		switch rr.Status {
		case Appended, Duplicate, Valid:
		case Rejected:
			// Its error names the file, line, record and field already.
			fmt.Fprintf(errOut, "  %s: %s\n", rr.Status, rr.Error)
		default:
			// A run of records that failed alike (the stream went away,
			// ingest was stopped) is one line, not thousands: alike but
			// for the id each error names.
			j := i
			for rr.Status == Failed && j+1 < len(res.Records) && res.Records[j+1].Status == Failed && alike(res.Records[j+1], rr) {
				j++
			}
			if j > i {
				reason := withoutID(rr)
				fmt.Fprintf(errOut, "  %s: %s: records %d to %d: %s\n", rr.Status, res.Name, rr.Record, res.Records[j].Record, reason)
				i = j
				continue
			}
			// Named as the decoder names a record: file:line: record N (id X).
			at := &events.RecordError{File: res.Name, Line: rr.Line, Record: rr.Record, ID: rr.ID,
				Fields: []events.FieldError{{Reason: rr.Error}}}
			fmt.Fprintf(errOut, "  %s: %v\n", rr.Status, at)
		}
	}
	if res.Failed > 0 {
		fmt.Fprintf(errOut, "  %d failed: not known to be appended (some may have been, their answer lost); ingest the same input again, which their ids make safe\n", res.Failed)
	}
}

// alike reports whether two records failed for the same reason, each
// error naming its own record's id.
func alike(a, b RecordResult) bool { return withoutID(a) == withoutID(b) }

// withoutID is a record's error with its id, where the error names it
// ("append ID: ..."), written <id>.
func withoutID(r RecordResult) string {
	if r.ID == "" {
		return r.Error
	}
	return strings.ReplaceAll(r.Error, " "+r.ID+":", " <id>:")
}

// expandFolders replaces each folder among names with the event files in
// it, in name order. A folder without any is an error, reported beside the
// files that can go in.
func expandFolders(names []string) ([]string, error) {
	var out []string
	var errs []error
	for _, name := range names {
		fi, err := os.Stat(name)
		if name == "-" || err != nil || !fi.IsDir() {
			out = append(out, name) // opening it tells what is wrong
			continue
		}
		entries, err := os.ReadDir(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		n := len(out)
		for _, e := range entries { // ReadDir sorts by name
			if e.Type().IsRegular() && events.FormatOf(e.Name()) != events.Auto {
				out = append(out, filepath.Join(name, e.Name()))
			}
		}
		if len(out) == n {
			errs = append(errs, fmt.Errorf("%s: a folder with no event files (.yaml, .yml, .json, .ndjson, .jsonl) in it", name))
		}
	}
	return out, errors.Join(errs...)
}
