package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/parley-news/parley/internal/console"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// ReplayQuery is what the replay commands (state, history, diff) ask, as
// given on the command line.
type ReplayQuery struct {
	At, KnownAt, From, To string
	Issue, Party          string
	JSON                  bool
	// Sum asks dump for the checkpoint and a hash, not the dump.
	Sum bool
}

// Replay answers one replay command from the read model file, printing a
// table (or JSON) to out.
func Replay(ctx context.Context, c Config, what string, q ReplayQuery, out io.Writer) error {
	vocab, err := c.Vocabulary()
	if err != nil {
		return err
	}
	at, err := endOf("-at", q.At)
	if err != nil {
		return err
	}
	known, err := endOf("-known-at", q.KnownAt)
	if err != nil {
		return err
	}
	from, err := startOf("-from", q.From)
	if err != nil {
		return err
	}
	to, err := endOf("-to", q.To)
	if err != nil {
		return err
	}
	k := projections.Knowledge{At: known}
	return viewReadModel(ctx, c, func(tx projections.Tx) error {
		switch what {
		case "state":
			if at.IsZero() {
				at = projections.AsOfNow(tx, time.Now())
			}
			sq := projections.StateQuery{At: at, Knowledge: k}
			if q.JSON {
				// The API's answer, byte for byte but for the indent.
				b, err := projections.AppendStateJSON(nil, projections.NewStateReader(tx, sq), vocab, q.At, q.KnownAt)
				if err != nil {
					return err
				}
				return indented(out, b)
			}
			s, err := projections.QueryState(tx, sq)
			if err != nil {
				return err
			}
			s.Issues = console.OrderIssues(s.Issues, vocab)
			return console.State(out, s, vocab)
		case "history":
			switch {
			case q.Issue == "":
				return usage("history needs -issue")
			case vocab.Issue(q.Issue) == nil:
				return usage("-issue %q: not in %s", q.Issue, c.vocabularyName())
			case q.Party != "" && vocab.Party(q.Party) == nil:
				return usage("-party %q: not in %s", q.Party, c.vocabularyName())
			}
			// Every page, in this one read: the command has no cursor to
			// ask for the next, so a history longer than a page would
			// otherwise end at it without a word.
			hq := projections.HistoryQuery{Issue: q.Issue, Party: q.Party, Knowledge: k, Limit: historyPage}
			h, err := projections.QueryHistory(tx, hq)
			for err == nil && h.NextCursor != "" {
				hq.Cursor = h.NextCursor
				var next *projections.History
				if next, err = projections.QueryHistory(tx, hq); err == nil {
					h.Entries, h.NextCursor = append(h.Entries, next.Entries...), next.NextCursor
				}
			}
			if err != nil || q.JSON {
				return orJSON(out, h, err)
			}
			return console.History(out, h)
		case "diff":
			if from.IsZero() || to.IsZero() {
				return usage("diff needs -from and -to")
			}
			if to.Before(from) {
				// As the API refuses it: swapped, the answer would show
				// the later positions as the earlier ones.
				return usage("-to %q: before -from %q", q.To, q.From)
			}
			d, err := projections.QueryDiff(tx, projections.DiffQuery{From: from, To: to, Knowledge: k})
			if err == nil {
				d.Order(vocab)
			}
			if err != nil || q.JSON {
				return orJSON(out, projections.DiffAnswer{From: q.From, To: q.To, Diff: d}, err)
			}
			return console.Diff(out, d)
		}
		return fmt.Errorf("unknown replay %q", what)
	})
}

// historyPage is how many entries of a history the history command reads
// at a time.
var historyPage = projections.MaxLimit

// UsageError is a command's flags asking for what cannot be answered (a
// time that does not parse, an id not in the vocabulary, a required flag
// left out): the command exits 2, as for a flag that does not parse, so
// that a script tells its own mistake from a read model it cannot read.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// indented writes a JSON answer indented, as console.JSON writes.
func indented(w io.Writer, b []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func orJSON(w io.Writer, v any, err error) error {
	if err != nil {
		return err
	}
	return console.JSON(w, v)
}

// flagTime reads the date or time given to a flag; zero when none was.
func flagTime(flag, s string) (events.Time, error) {
	if s == "" {
		return events.Time{}, nil
	}
	t, err := events.ParseTime(s)
	if err != nil {
		return events.Time{}, &UsageError{fmt.Errorf("%s %q: %w", flag, s, err)}
	}
	return t, nil
}

// startOf reads a date or time as the start of what it stands for, as
// from does in the API: a diff from a date counts the changes of that day.
func startOf(flag, s string) (time.Time, error) {
	t, err := flagTime(flag, s)
	return t.Time, err
}

// endOf reads a date or time as the end of what it stands for: "as of
// 2025-11-21" counts all of the 21st.
func endOf(flag, s string) (time.Time, error) {
	t, err := flagTime(flag, s)
	if err != nil || t.IsZero() {
		return time.Time{}, err
	}
	return t.End(), nil
}

// Dump writes the read model's canonical dump (projections.Dump: every
// bucket's keys and values, in order, in hex) to out or, with sum, one
// line with its checkpoint and the dump's SHA-256: two replicas that
// stand at the same checkpoint have the same line, whatever their files'
// sizes and page layouts.
func Dump(ctx context.Context, c Config, sum bool, out io.Writer) error {
	return viewReadModel(ctx, c, func(tx projections.Tx) error {
		if !sum {
			return projections.Dump(tx, out)
		}
		h := sha256.New()
		if err := projections.Dump(tx, h); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "checkpoint %d sha256 %x\n", projections.Checkpoint(tx), h.Sum(nil))
		return err
	})
}

// viewReadModel runs fn in a read transaction of the read model file in
// c's data folder, which no projector may hold open.
func viewReadModel(ctx context.Context, c Config, fn func(projections.Tx) error) (err error) {
	c.setDefaults()
	// bbolt trusts its pages: a file damaged without a seal to tell (left
	// by a crash) can panic on read.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read model in %s seems damaged (%v): start the projector on it, which checks it and rebuilds it", c.DataDir, r)
		}
	}()
	st, err := OpenReadModel(c)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.View(ctx, fn)
}
