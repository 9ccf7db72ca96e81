package projections

import (
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/parley-news/parley/internal/events"
)

// StateReader answers a StateQuery one issue at a time, writing each
// party's cell as JSON straight from its claim entries: the bytes
// encoding/json writes for QueryState's cells, without a Cell, a Claim or
// a string made per cell. A state answer is the answer every open page
// asks for, a couple of hundred cells; making and dropping them was most
// of what the API allocated. TestStateReaderJSON holds the two to the
// same bytes.
type StateReader struct {
	tx  Tx
	fd  finder
	at  time.Time
	seq uint64
}

// NewStateReader reads q's state in tx; it is valid for the transaction.
func NewStateReader(tx Tx, q StateQuery) *StateReader {
	at := q.At
	if at.IsZero() {
		at = endOfTime
	}
	return &StateReader{tx: tx, fd: finder{claims: tx.Bucket(BucketClaims).Cursor()}, at: at, seq: q.Knowledge.seq(tx)}
}

// Seq is the last stream sequence the answer counts.
func (s *StateReader) Seq() uint64 { return s.seq }

// Issues yields each issue on which a position was ever stated, in the
// order of their ids.
func (s *StateReader) Issues() iter.Seq[string] {
	return func(yield func(string) bool) {
		last := ""
		for p := range pairs(s.tx, nil) {
			if p.issue != last {
				last = p.issue
				if !yield(p.issue) {
					return
				}
			}
		}
	}
}

// AppendPositions appends "party":cell for each party with a position on
// issue, in the order of the parties' ids and separated by commas, and
// says how many it appended.
func (s *StateReader) AppendPositions(b []byte, issue string) ([]byte, int, error) {
	n := 0
	for p := range pairs(s.tx, namePrefix(issue)) {
		party := p.party
		f, err := s.fd.lookUp(p.id, issue, party, s.at, s.seq, true)
		if err != nil {
			return b, n, err
		}
		if f == nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = events.AppendJSONString(b, party)
		b = append(b, ':')
		if b, err = f.appendJSON(b); err != nil {
			return b, n, err
		}
		n++
	}
	return b, n, nil
}

// appendJSON appends the cell of what was found, as encoding/json writes
// f.cell().
func (f *found) appendJSON(b []byte) ([]byte, error) {
	b, err := f.top.appendFields(append(b, '{'))
	if err != nil {
		return b, err
	}
	b = append(b, `,"source_count":`...)
	b = strconv.AppendInt(b, int64(len(f.outlets)), 10)
	if f.disputed {
		b = append(b, `,"disputed":true,"claims":[`...)
		for i := -1; i < len(f.same); i++ {
			ref := &f.top
			if i >= 0 {
				ref = &f.same[i]
				b = append(b, ',')
			}
			if b, err = ref.appendFields(append(b, '{')); err != nil {
				return b, err
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendFields appends the members encoding/json writes for r.claim(),
// without braces, from the entry's bytes. Times and values are stored in the
// form they are written in (events.Time's String, a value's JSON).
func (r *claimRef) appendFields(b []byte) ([]byte, error) {
	h := &r.head
	str := events.AppendJSONString[[]byte]
	if h.plain {
		str = appendQuoted
	}
	bad := func(what string) ([]byte, error) {
		return b, fmt.Errorf("claim %s/%s of event %s: %s: %w", r.issue, r.party, h.event, what, errBadClaim)
	}
	b = append(b, `"issue":`...)
	b = events.AppendJSONString(b, r.issue)
	b = append(b, `,"party":`...)
	b = events.AppendJSONString(b, r.party)
	b = append(b, `,"stance":`...)
	b = str(b, h.stance)
	if len(h.value) > 0 {
		if !json.Valid(h.value) {
			return bad("value")
		}
		b = append(b, `,"value":`...)
		b = append(b, h.value...)
	}
	t, err := h.readTail()
	if err != nil {
		return bad("fields")
	}
	if len(t.quote) > 0 {
		b = append(b, `,"quote":`...)
		b = str(b, t.quote)
	}
	b = append(b, `,"event":`...)
	b = str(b, h.event)
	b = append(b, `,"type":`...)
	b = str(b, t.typ)
	b = append(b, `,"title":`...)
	b = str(b, t.title)
	b = append(b, `,"occurred_at":`...)
	b = str(b, t.occurred)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.seq(), 10)
	b = append(b, `,"recorded_at":`...)
	b = appendTime(b, t.recorded)
	b = append(b, `,"sources":`...)
	if t.sources < 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range t.sources {
			outlet, url, pub, err := t.source()
			if err != nil {
				return bad("sources")
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"outlet":`...)
			b = str(b, outlet)
			if len(url) > 0 {
				b = append(b, `,"url":`...)
				b = str(b, url)
			}
			if len(pub) > 0 {
				b = append(b, `,"published_at":`...)
				b = str(b, pub)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(t.by) > 0 {
		b = append(b, `,"corrected_by":`...)
		b = str(b, t.by)
		b = append(b, `,"corrected_at":`...)
		b = appendTime(b, t.corrected)
	}
	return b, nil
}

// appendQuoted appends s between quotes: a plain string's JSON.
func appendQuoted(b, s []byte) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendHistoryJSON appends the answer to a HistoryQuery as the JSON of
// the page QueryHistory returns, byte for byte (TestHistoryJSON), written
// straight from the claim entries as StateReader writes cells.
func AppendHistoryJSON(b []byte, tx Tx, q HistoryQuery) ([]byte, error) {
	b = events.AppendJSONString(append(b, `{"issue":`...), q.Issue)
	b = append(b, `,"entries":[`...)
	start := len(b)
	next, err := walkHistory(tx, q, func(ref *claimRef, before *claimHead, disputed bool) error {
		if len(b) > start {
			b = append(b, ',')
		}
		var err error
		if b, err = ref.appendFields(append(b, '{')); err != nil {
			return err
		}
		b = append(b, `,"before":`...)
		if before == nil {
			b = append(b, "null"...)
		} else {
			b = appendPositionJSON(b, before.stance, before.value, before.event, false)
		}
		b = append(b, `,"changed":`...)
		b = strconv.AppendBool(b, ref.changedFrom(before))
		if disputed {
			b = append(b, `,"disputed":true`...)
		}
		b = append(b, '}')
		return nil
	})
	if err != nil {
		return nil, err
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"next_cursor":`...)
		b = events.AppendJSONString(b, next)
	}
	return append(b, '}'), nil
}

// AppendStateJSON writes the answer to a state query, as GET /v1/state
// and projector state -json give it: the parameters as given (at and
// knownAt, left out when empty), the sequence, and each issue with a
// position (its label and its cells by party), in the vocabulary's order,
// which is the order people read them in, then issues no longer in it, by
// id. httpapi's TestStateAnswer holds it to the same answer made with
// encoding/json.
func AppendStateJSON(b []byte, sr *StateReader, vocab *events.Vocabulary, at, knownAt string) ([]byte, error) {
	b = append(b, '{')
	if at != "" {
		b = append(events.AppendJSONString(append(b, `"at":`...), at), ',')
	}
	if knownAt != "" {
		b = append(events.AppendJSONString(append(b, `"known_at":`...), knownAt), ',')
	}
	b = append(b, `"seq":`...)
	b = strconv.AppendUint(b, sr.Seq(), 10)
	b = append(b, `,"issues":[`...)
	start := len(b)
	issue := func(id, label string) error {
		mark := len(b)
		if mark > start {
			b = append(b, ',')
		}
		b = events.AppendJSONString(append(b, `{"issue":`...), id)
		b = events.AppendJSONString(append(b, `,"label":`...), label)
		b = append(b, `,"positions":{`...)
		var n int
		var err error
		if b, n, err = sr.AppendPositions(b, id); err != nil {
			return err
		}
		if n == 0 {
			b = b[:mark]
			return nil
		}
		b = append(b, "}}"...)
		return nil
	}
	for _, t := range vocab.Issues {
		if err := issue(t.ID, t.Label); err != nil {
			return b, err
		}
	}
	for id := range sr.Issues() {
		if vocab.Issue(id) == nil {
			if err := issue(id, id); err != nil {
				return b, err
			}
		}
	}
	return append(b, "]}"...), nil
}
