package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/progress"
	"github.com/parley-news/parley/internal/stream"
)

// Files ingests each named file in turn ("-" is stdin), printing one line
// per file with its counts to out and one line per rejected or failed
// record to errOut. It reports whether every record of every file went in;
// an error means a file could not be read at all (the others are still
// ingested) or the stream failed.
//
// A folder stands for the event files in it (.yaml, .yml, .json, .ndjson,
// .jsonl, or links to such files), not hidden ones nor those in its
// subfolders, in the order of their names: a timeline kept as numbered
// files, corrections last, goes in as kept. When the stream stays out of
// reach, Files stops at that input: the next would wait as long.
func (in *Ingester) Files(ctx context.Context, names []string, stdin io.Reader, out, errOut io.Writer) (bool, error) {
	if in.Stream == nil {
		// A check reads the inputs as one, as a run appends them to one
		// stream: an id or a correction's target in an earlier file
		// counts.
		run := *in
		run.checked = newChecked()
		in = &run
	}
	ok := true
	missed := false // an id not in the vocabulary was refused
	defer func() {
		if missed && in.VocabularyName != "" {
			// Most often another negotiation's events, checked against
			// the wrong vocabulary.
			fmt.Fprintf(errOut, "(ids were checked against %s)\n", in.VocabularyName)
		}
	}()
	var failed []error // inputs that could not be read at all
	names, err := expandFolders(names)
	if err != nil {
		fmt.Fprintln(errOut, err)
		failed = append(failed, err)
	}
	for i, name := range names {
		res, err := in.file(ctx, name, stdin)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				err = ErrInterrupted
			}
			// What went in before the error still counts.
			if res != nil {
				Print(res, out, errOut)
				missed = missed || res.missesVocabulary()
			}
			if res != nil && !res.read {
				// The counts are of the records read: say that the
				// input went on past them.
				fmt.Fprintf(errOut, "%s: stopped after record %d: %v; what follows it was not read (ingest the same input again, which the ids make safe)\n", name, len(res.Records), err)
			} else {
				fmt.Fprintf(errOut, "%s: %v\n", name, err)
			}
			ok = false
			if ctx.Err() != nil {
				return false, err
			}
			if errors.Is(err, ErrUnreachable) {
				// The next input would wait as long, and could go in
				// ahead of this one's rest (corrections before the
				// events they correct).
				if rest := len(names) - i - 1; rest > 0 {
					fmt.Fprintf(errOut, "%d more inputs not read: %s\n", rest, strings.Join(names[i+1:], ", "))
				}
				return false, err
			}
			failed = append(failed, fmt.Errorf("%s: %w", name, err))
			continue
		}
		Print(res, out, errOut)
		missed = missed || res.missesVocabulary()
		ok = ok && res.OK()
	}
	if len(failed) > 0 {
		return false, fmt.Errorf("%d input(s) could not be read: %w", len(failed), errors.Join(failed...))
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
	fi, err := f.Stat()
	if err != nil || in.Progress == nil || !fi.Mode().IsRegular() || fi.Size() < progressFrom {
		return in.Ingest(ctx, name, f, events.FormatOf(name))
	}
	// The bar counts lines up to the record in hand: JSON and YAML are
	// read whole before their first record, so bytes read would say
	// nothing of how far ingest has come. Counting them is one quick
	// read of the file first.
	total, err := countLines(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	bar := progress.New(in.Progress, name, "lines", total)
	var at uint64
	res, err := in.ingest(ctx, name, f, events.FormatOf(name), func(line int) {
		at = uint64(line)
		bar.Set(at)
	})
	if err == nil {
		at = total
	}
	bar.Finish(at) // where it stopped, when it did
	return res, err
}

// progressFrom is the size from which a file's ingest shows its progress:
// a few thousand events, seconds of work.
const progressFrom = 4 << 20

// countLines counts the lines of r, the last one whether or not it ends
// with a newline.
func countLines(r io.Reader) (uint64, error) {
	buf := make([]byte, 1<<20)
	var n uint64
	last := byte('\n')
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += uint64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if errors.Is(err, io.EOF) {
			if last != '\n' {
				n++
			}
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
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
	refused := 0
	for _, rr := range res.Records {
		if rr.Status == Failed && rr.refused {
			refused++
		}
	}
	if refused > 0 {
		// Sending them again as the same user cannot help: the advice
		// is which user to send them as.
		fmt.Fprintf(errOut, "  %d failed: refused by the server: this NATS user may not append events; run ingest as the NATS user ingest (its -creds file or PARLEY_NATS_CREDS, or ingest:PASSWORD in the -nats URL; deploy/README.md, \"Users and permissions\"), then ingest the same input again\n", refused)
	}
	if n := res.Failed - refused; n > 0 {
		fmt.Fprintf(errOut, "  %d failed: not known to be appended (some may have been, their answer lost); ingest the same input again, which their ids make safe\n", n)
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
	// A refusal names the event's subject too.
	e := strings.ReplaceAll(r.Error, `"`+stream.Subject(r.ID)+`"`, `"`+stream.Subject("<id>")+`"`)
	return strings.ReplaceAll(e, " "+r.ID+":", " <id>:")
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
		n, bad := len(out), len(errs)
		for _, e := range entries { // ReadDir sorts by name
			if strings.HasPrefix(e.Name(), ".") || events.FormatOf(e.Name()) == events.Auto {
				continue // hidden (an editor's or a copy's leftovers), or not events
			}
			p := filepath.Join(name, e.Name())
			// A link to a file counts as the file (a mounted volume of
			// links, a folder of ln -s).
			fi, err := os.Stat(p)
			switch {
			case err != nil:
				// A link to nothing: a file of the timeline gone missing,
				// said rather than left out in silence.
				errs = append(errs, fmt.Errorf("%s: %w", p, err))
			case fi.Mode().IsRegular():
				out = append(out, p)
			}
		}
		if len(out) == n && len(errs) == bad {
			errs = append(errs, fmt.Errorf("%s: a folder with no event files (.yaml, .yml, .json, .ndjson, .jsonl) in it", name))
		}
	}
	return out, errors.Join(errs...)
}
