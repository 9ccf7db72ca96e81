// Package console prints the read model's answers for a person at a
// terminal: the state as a table of issues by party, an issue's history
// and a diff as lists, or JSON for scripts.
package console

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// JSON writes v indented.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// State writes the state as a table: an issue a row, a party a column, each
// cell the stance and value, with * for disputed and † for corrected.
func State(w io.Writer, st *projections.State, vocab *events.Vocabulary) error {
	// The vocabulary's parties with a position, in its order, then any
	// the vocabulary lacks (a file that lost them, or another one), by id:
	// a column is never dropped, as the JSON answer drops none.
	var parties, others []string
	for _, p := range vocab.Parties {
		for _, is := range st.Issues {
			if is.Positions[p.ID] != nil {
				parties = append(parties, p.ID)
				break
			}
		}
	}
	for _, is := range st.Issues {
		for p := range is.Positions {
			if vocab.Party(p) == nil && !slices.Contains(others, p) {
				others = append(others, p)
			}
		}
	}
	slices.Sort(others)
	parties = append(parties, others...)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ISSUE\t%s\n", strings.ToUpper(strings.Join(parties, "\t")))
	for _, is := range OrderIssues(st.Issues, vocab) {
		row := []string{is.Issue}
		for _, p := range parties {
			row = append(row, cellText(is.Positions[p]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n* disputed between sources   † corrected   (as of sequence %d)\n", st.Seq)
	return err
}

// OrderIssues returns the issues in the vocabulary's order, the order the
// API answers in and people read them in; issues no longer in it last,
// by id.
func OrderIssues(in []projections.IssueState, vocab *events.Vocabulary) []projections.IssueState {
	out := slices.Clone(in)
	order := projections.IssueOrder(vocab)
	slices.SortStableFunc(out, func(a, b projections.IssueState) int { return order(a.Issue, b.Issue) })
	return out
}

func cellText(c *projections.Cell) string {
	if c == nil {
		return "-"
	}
	s := c.Stance
	if !c.Value.IsZero() {
		s += " " + valueText(c.Value)
	}
	if c.Disputed {
		s += "*"
	}
	if c.CorrectedBy != "" {
		s += "†"
	}
	return s
}

// valueText writes numbers with thousands separators: 600,000.
func valueText(v events.Value) string {
	f, ok := v.Float()
	if !ok || f != float64(int64(f)) {
		return v.String()
	}
	n := int64(f)
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// History writes an issue's history, one stated position a line.
func History(w io.Writer, h *projections.History) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OCCURRED\tPARTY\tPOSITION\tWAS\tEVENT\tSOURCES")
	disputed := false
	for _, e := range h.Entries {
		was := "-"
		if e.Before != nil {
			was = e.Before.Stance
			if !e.Before.Value.IsZero() {
				was += " " + valueText(e.Before.Value)
			}
		}
		if !e.Changed {
			was = "(same)"
		}
		pos := e.Stance
		if !e.Value.IsZero() {
			pos += " " + valueText(e.Value)
		}
		if e.Disputed {
			pos += "*"
			disputed = true
		}
		var outlets []string
		for _, s := range e.Sources {
			outlets = append(outlets, s.Outlet)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.OccurredAt, e.Party, pos, was, e.Event, strings.Join(outlets, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if disputed {
		_, err := fmt.Fprintln(w, "\n* disputed: another source of the same moment says otherwise")
		return err
	}
	return nil
}

// Diff writes the positions that changed between two times.
func Diff(w io.Writer, d *projections.Diff) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ISSUE\tPARTY\tBEFORE\tAFTER\tEVENTS")
	for _, c := range d.Changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Issue, c.Party, cellText(c.Before), cellText(c.After), strings.Join(c.Events, ", "))
	}
	if len(d.Changes) == 0 {
		fmt.Fprintln(tw, "(no position changed)")
	}
	return tw.Flush()
}
