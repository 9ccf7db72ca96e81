package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Format is the syntax of an input of events.
type Format int

const (
	// Auto guesses from the first byte: '[' or '{' alone is JSON, several
	// lines of objects are NDJSON, anything else is YAML.
	Auto Format = iota
	// JSON is one event object or an array of them.
	JSON
	// NDJSON is one event object a line.
	NDJSON
	// YAML is a list of events, or one event a document.
	YAML
	// AnyJSON is JSON or NDJSON, told apart as Auto does, but never YAML:
	// what a body declared as application/json may be.
	AnyJSON
)

// FormatOf tells the format of a file by its name's extension. A .json
// file may hold NDJSON, as tools that write JSON Lines often name it, and
// as a body declared JSON may: read so, each line gets its own result,
// where read as one JSON value the whole file would be refused.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return AnyJSON
	case ".ndjson", ".jsonl":
		return NDJSON
	case ".yaml", ".yml":
		return YAML
	}
	return Auto
}

// Record is one record read from an input: a valid Event, or the reason it
// was rejected.
type Record struct {
	Index int // 1-based position in the input
	Line  int // line the record starts on, 0 when unknown
	Event Event
	Err   *RecordError // nil when the record is valid
	// CorrectsLine is the line of the event's corrects field, 0 when it
	// has none: a refusal of what it names points there.
	CorrectsLine int
}

// Decoder reads events from outside input and validates them.
type Decoder struct {
	// Vocabulary the events are checked against. Required.
	Vocabulary *Vocabulary
	// MaxRecordBytes bounds one record (one NDJSON line, one array item).
	// Zero means DefaultMaxRecordBytes.
	MaxRecordBytes int
	// MaxDepth bounds the nesting of JSON; zero means DefaultMaxDepth.
	MaxDepth int
}

// Defaults of Decoder.
const (
	DefaultMaxRecordBytes = 1 << 20
	DefaultMaxDepth       = 16
)

func (d *Decoder) maxRecord() int {
	if d.MaxRecordBytes > 0 {
		return d.MaxRecordBytes
	}
	return DefaultMaxRecordBytes
}

func (d *Decoder) maxDepth() int {
	if d.MaxDepth > 0 {
		return d.MaxDepth
	}
	return DefaultMaxDepth
}

// Decode reads the records of one input named name (a file name, "-", or
// a request) in the given format. Each record comes out valid or with its
// error; an unreadable input ends with one last record that says where
// reading stopped, its error's Read set. Records before and after a bad
// one still come out wherever the syntax allows (NDJSON lines, YAML
// documents, array items before a syntax error).
func (d *Decoder) Decode(name string, r io.Reader, f Format) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		// notJSON: declared JSON, it starts as YAML does. Its syntax error
		// alone ("invalid character ' ' in numeric literal", of a list's
		// "- ") would not tell the sender that YAML is read, elsewhere.
		notJSON := false
		// A byte order mark says UTF-8, which every input is: skipped, as
		// RFC 8259 allows, whatever the format.
		if b, _ := br.Peek(3); string(b) == "\ufeff" {
			br.Discard(3)
		}
		switch f {
		case Auto:
			f = sniff(br)
		case AnyJSON:
			if f = sniff(br); f == YAML {
				f = JSON // and its error says where it is not JSON
				notJSON = true
			}
		}
		var n int
		emit := func(rec Record) bool {
			n++
			rec.Index = n
			if rec.CorrectsLine > 0 && f != YAML && rec.Line > 0 {
				// Relative to the record's start, as a JSON record's
				// errors are.
				rec.CorrectsLine += rec.Line - 1
			}
			if e := rec.Err; e != nil {
				e.File, e.Record = name, n
				if notJSON && n == 1 && len(e.Fields) > 0 && strings.HasPrefix(e.Fields[0].Reason, "invalid JSON") {
					e.Fields[0].Reason += ` (read as JSON, it starts with neither "{" nor "[": YAML goes in a .yaml file or an application/yaml body)`
				}
				// JSON records report lines relative to their own start;
				// YAML's are the file's already.
				if f != YAML && rec.Line > 0 {
					for i := range e.Fields {
						switch {
						case e.Fields[i].Line > 0:
							e.Fields[i].Line += rec.Line - 1
						case f == NDJSON:
							// One line, one record: every field of it is
							// on that line.
							e.Fields[i].Line = rec.Line
						}
					}
				}
				if e.Line == 0 && len(e.Fields) > 0 {
					e.Line = e.Fields[0].Line
				}
				if e.Line == 0 {
					e.Line = rec.Line
				}
				// A syntax error in an array is known only by where it
				// is: that is where its record starts, as far as anyone
				// can tell.
				if rec.Line == 0 {
					rec.Line = e.Line
				}
			}
			return yield(rec)
		}
		switch f {
		case NDJSON:
			d.decodeNDJSON(br, emit)
		case JSON:
			d.decodeJSON(br, emit)
		default:
			d.decodeYAML(br, emit)
		}
		if n == 0 {
			// An empty body or file is a mistake more often than a batch
			// of nothing, and answering "0 appended" would hide it.
			emit(Record{Line: 1, Err: &RecordError{Fields: []FieldError{{Reason: "empty input: no events in it"}}}})
		}
	}
}

func sniff(br *bufio.Reader) Format {
	b, _ := br.Peek(64 << 10)
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return YAML
	}
	if t[0] == '[' {
		return JSON
	}
	// A single (possibly pretty-printed) object is JSON; objects a line
	// each are NDJSON: a first line that is a whole object, one with no
	// end in sight (longer than the look ahead), or a later line that
	// starts an object at its first column, which a pretty printer's
	// nested objects do not. So NDJSON whose first line is broken is still
	// read line by line, and its other records go in.
	i := bytes.IndexByte(t, '\n')
	if i < 0 || json.Valid(bytes.TrimSpace(t[:i])) {
		return NDJSON
	}
	if len(b) < 64<<10 && json.Valid(t) {
		// The whole input, one object over several lines, whatever its
		// layout: unindented, its nested objects start lines too.
		return JSON
	}
	for rest := t[i+1:]; len(rest) > 0; {
		if rest[0] == '{' {
			return NDJSON
		}
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			break
		}
		rest = rest[j+1:]
	}
	return JSON
}

func (d *Decoder) decodeNDJSON(br *bufio.Reader, emit func(Record) bool) {
	max := d.maxRecord()
	for line := 1; ; line++ {
		b, tooLong, err := readLine(br, max)
		if len(bytes.TrimSpace(b)) > 0 || tooLong {
			rec := Record{Line: line}
			if tooLong {
				rec.Err = &RecordError{Fields: []FieldError{{Reason: fmt.Sprintf("record longer than %d bytes", max)}}}
			} else {
				rec.Event, rec.Err, rec.CorrectsLine = d.record(b)
			}
			if !emit(rec) {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				emit(readFailed(line, err))
			}
			return
		}
	}
}

// readLine reads one line without its end, discarding past max bytes.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max {
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			buf = nil
		}
		return bytes.TrimRight(buf, "\r\n"), tooLong, err
	}
}

// readFailed is the last record of an input that could not be read past
// line: the input's failure, not a record's (its error's Read is set).
func readFailed(line int, err error) Record {
	return Record{Line: line, Err: &RecordError{Fields: []FieldError{{Reason: "read: " + err.Error()}}, Read: err}}
}

func (d *Decoder) decodeJSON(br *bufio.Reader, emit func(Record) bool) {
	// The whole input is read once: a JSON array cannot be resumed after a
	// syntax error, and its items' lines come from offsets into it.
	all, err := io.ReadAll(br)
	if err != nil {
		emit(readFailed(0, err))
		return
	}
	start := len(all) - len(bytes.TrimLeft(all, " \t\r\n"))
	if start == len(all) {
		emit(Record{Line: 1, Err: &RecordError{Fields: []FieldError{{Reason: "empty input: want a JSON object or array of objects"}}}})
		return
	}
	if all[start] != '[' {
		rec := Record{Line: lineAt(all, start)}
		rec.Event, rec.Err, rec.CorrectsLine = d.record(all[start:])
		emit(rec)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(all))
	if _, err := dec.Token(); err != nil { // the '['
		emit(Record{Err: syntaxError(err, all, 0)})
		return
	}
	for dec.More() {
		off := int(dec.InputOffset())
		off += len(all[off:]) - len(bytes.TrimLeft(all[off:], " \t\r\n,"))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// Lines of a syntax error are the input's own: no Line to
			// offset them by. An array cannot be read past one, which the
			// record says, since a sender counts on a result per record.
			re := syntaxError(err, all, 0)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				re.Fields[0].Reason += "; nothing after it was read"
			}
			emit(Record{Err: re})
			return
		}
		rec := Record{Line: lineAt(all, off)}
		if len(raw) > d.maxRecord() {
			rec.Err = &RecordError{Fields: []FieldError{{Reason: fmt.Sprintf("record longer than %d bytes", d.maxRecord())}}}
		} else {
			rec.Event, rec.Err, rec.CorrectsLine = d.record(raw)
		}
		if !emit(rec) {
			return
		}
	}
	if _, err := dec.Token(); err != nil { // the ']'
		emit(Record{Err: syntaxError(err, all, 0)})
		return
	}
	// Whatever follows the array would be lost without a word: two arrays
	// one after the other (files concatenated) are not one array.
	off := int(dec.InputOffset())
	if rest := bytes.TrimLeft(all[off:], " \t\r\n"); len(rest) > 0 {
		at := len(all) - len(rest)
		emit(Record{Line: lineAt(all, at), Err: &RecordError{Fields: []FieldError{{Line: lineAt(all, at),
			Reason: "text after the array's closing ]: send one array, or NDJSON (one object a line); nothing after the array was read"}}}})
	}
}

// record decodes and validates one JSON object, and finds the line of
// its corrects field. Errors and that line are relative to b.
func (d *Decoder) record(b []byte) (Event, *RecordError, int) {
	e, re := d.jsonRecord(b)
	if e.Corrects == "" || re != nil {
		return e, re, 0
	}
	at := []FieldError{{Field: "corrects"}}
	setJSONLines(b, at)
	return e, nil, at[0].Line
}

// jsonRecord decodes and validates one JSON object. Errors carry lines
// relative to b.
func (d *Decoder) jsonRecord(b []byte) (Event, *RecordError) {
	var e Event
	fail := func(fe ...FieldError) (Event, *RecordError) {
		re := &RecordError{Fields: fe}
		if ValidID(e.ID) {
			re.ID = e.ID
		}
		return e, re
	}
	if !utf8.Valid(b) {
		i := invalidUTF8At(b)
		return fail(FieldError{Line: lineAt(b, i), Reason: fmt.Sprintf("invalid UTF-8 at byte %d", i)})
	}
	shape, masked := jsonShape(b, reflect.TypeFor[Event](), d.maxDepth(), true)
	if !onlyUnknown(shape) {
		// The id, if it can be read (and was given once), names the record
		// in its result.
		// Read by its exact key: encoding/json would take "Id" or "ID"
		// too, and a result would name another record's id.
		var named map[string]json.RawMessage
		if shape[len(shape)-1].Field != "id" && json.Unmarshal(b, &named) == nil {
			_ = json.Unmarshal(named["id"], &e.ID)
		}
		return fail(shape...)
	}
	// Unknown fields alone leave the record readable: it is checked for
	// everything else too, so that a sender learns every mistake of it
	// at once, not one a round. Their keys are masked, so that
	// encoding/json, which matches keys without regard to case, takes
	// no "Title" for the title.
	dec := json.NewDecoder(bytes.NewReader(masked))
	if len(shape) == 0 {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&e); err != nil {
		return fail(append(shape, JSONFieldError(err, b))...)
	}
	if dec.More() {
		// More has read up to the next value: what lies before it is
		// the space between the two.
		before := b[:dec.InputOffset()]
		if gap := before[len(bytes.TrimRight(before, " \t\r\n")):]; bytes.IndexByte(gap, '\r') >= 0 && bytes.IndexByte(gap, '\n') < 0 {
			// Files saved with the classic Mac OS line end: one line here.
			return fail(append(shape, FieldError{Reason: "more than one JSON value, separated by a carriage return (CR) alone: end each line with LF or CRLF"})...)
		}
		return fail(append(shape, FieldError{Reason: "more than one JSON value (use NDJSON, one object a line)"})...)
	}
	if i := unpairedSurrogate(b); i >= 0 {
		// encoding/json would read it as U+FFFD: the text kept would not
		// be the text sent.
		return fail(append(shape, FieldError{Line: lineAt(b, i), Reason: fmt.Sprintf("%s at byte %d: half of a UTF-16 surrogate pair, not a character", b[i:i+6], i)})...)
	}
	e.normalize()
	if fe := d.Vocabulary.Validate(&e); fe != nil {
		setJSONLines(b, fe)
		return fail(append(shape, fe...)...)
	}
	if len(shape) > 0 {
		return fail(shape...)
	}
	return e, nil
}

// onlyUnknown reports whether every error of a shape check is an unknown
// field, which leaves the rest of the record readable.
func onlyUnknown(shape []FieldError) bool {
	for _, fe := range shape {
		if fe.Reason != reasonUnknown {
			return false
		}
	}
	return true
}

// reasonUnknown is the Reason of a field the event does not have.
const reasonUnknown = "unknown field"

// unpairedSurrogate returns where b, JSON, escapes a UTF-16 surrogate
// without its other half (\ud800 alone), or -1. Backslashes stand only
// in strings, so no string state is needed.
func unpairedSurrogate(b []byte) int {
	if !bytes.Contains(b, []byte(`\u`)) {
		return -1
	}
	hex4 := func(i int) rune {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return -1
		}
		v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		if err != nil {
			return -1
		}
		return rune(v)
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escaped character, a backslash among them
			continue
		}
		switch r := hex4(i); {
		case r >= 0xD800 && r < 0xDC00:
			if lo := hex4(i + 6); lo >= 0xDC00 && lo < 0xE000 {
				i += 11
				continue
			}
			return i
		case r >= 0xDC00 && r < 0xE000:
			return i
		}
		i += 5
	}
	return -1
}

// setJSONLines sets the line, within b, of the value each field error
// names (as paths are written: "positions[1].party"), in one reading of
// b's tokens: a record spread over lines names the line of each field at
// fault, as YAML's do.
func setJSONLines(b []byte, fe []FieldError) {
	if bytes.IndexByte(b, '\n') < 0 {
		for i := range fe {
			fe[i].Line = 1
		}
		return
	}
	want := map[string][]int{} // path -> the errors that name it
	for i := range fe {
		if fe[i].Field != "" {
			want[fe[i].Field] = append(want[fe[i].Field], i)
		}
	}
	type frame struct {
		obj       bool
		path      string
		expectKey bool
		key       string
		index     int
	}
	var stack []frame
	// done moves the innermost container past a value it holds.
	done := func() {
		if n := len(stack); n > 0 {
			if f := &stack[n-1]; f.obj {
				f.expectKey = true
			} else {
				f.index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for len(want) > 0 {
		at, isKey := "", false
		if n := len(stack); n > 0 {
			switch f := &stack[n-1]; {
			case f.obj && f.expectKey:
				isKey = true
			case f.obj:
				at = join(f.path, f.key)
			default:
				at = f.path + "[" + strconv.Itoa(f.index) + "]"
			}
		}
		tok, err := dec.Token()
		if err != nil {
			return
		}
		delim, isDelim := tok.(json.Delim)
		switch {
		case isDelim && (delim == '}' || delim == ']'):
			stack = stack[:len(stack)-1]
			done()
			continue
		case isKey:
			f := &stack[len(stack)-1]
			f.key, _ = tok.(string)
			f.expectKey = false
			continue
		}
		if is, ok := want[at]; ok && len(stack) > 0 {
			// The offset is just past the token: its last byte is on
			// the line it ends on, which for a scalar or an opening
			// bracket is the line it starts on.
			line := lineAt(b, int(dec.InputOffset())-1)
			for _, i := range is {
				fe[i].Line = line
			}
			delete(want, at)
		}
		if isDelim {
			stack = append(stack, frame{obj: delim == '{', path: at, expectKey: delim == '{'})
			continue
		}
		done()
	}
}

// CheckJSONShape checks b as the JSON of a T, before encoding/json decodes
// it, as the events' decoder does: it refuses what encoding/json lets
// through or reports without a path, which is a key given twice (it would
// keep the last silently), a field T does not have, at any depth and in
// its exact spelling (encoding/json would take "ID" for "id"), nesting
// deeper than max, and a top-level value that is not an object. nil means
// the shape is fine.
func CheckJSONShape[T any](b []byte, max int) *FieldError {
	return checkJSONShape(b, reflect.TypeFor[T](), max)
}

func checkJSONShape(b []byte, root reflect.Type, max int) *FieldError {
	fe, _ := jsonShape(b, root, max, false)
	if len(fe) == 0 {
		return nil
	}
	return &fe[0]
}

// jsonShape is checkJSONShape's work. With goOn set, it goes on past an
// unknown field, and returns every one up to the first other problem (the
// last error, when there is one), with b in which the unknown fields'
// keys are masked (each character of them a '~', which no field's name
// matches, however its case is folded); without it, it stops at the
// first problem. Masking keeps every offset, and so every line.
func jsonShape(b []byte, root reflect.Type, max int, goOn bool) (problems []FieldError, masked []byte) {
	masked = b
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj    bool
		keys   map[string]bool
		path   string
		expect bool // an object's next string token is a key
		key    string
		index  int
		typ    reflect.Type // the struct an object decodes into, or an array's element; nil when opaque
		valTyp reflect.Type // the type of the value after the current key
	}
	var stack []*frame
	first := true
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return problems, masked
		}
		if err != nil {
			fe := *syntaxError(err, b, 0)
			return append(problems, fe.Fields[0]), masked
		}
		if first {
			first = false
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return append(problems, FieldError{Line: 1, Reason: "want a JSON object"}), masked
			}
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return append(problems, FieldError{Field: join(top.path, k), Line: lineAt(b, int(dec.InputOffset())), Reason: "key given twice"}), masked
				}
				top.keys[k] = true
				top.key = k
				top.expect = false
				top.valTyp = nil
				if top.typ != nil {
					ft, ok := jsonField(top.typ, k)
					if !ok {
						end := int(dec.InputOffset())
						problems = append(problems, FieldError{Field: join(top.path, k), Line: lineAt(b, end), Reason: reasonUnknown})
						if !goOn {
							return problems, masked
						}
						if len(problems) == 1 {
							masked = bytes.Clone(b)
						}
						maskKey(masked, end)
						continue
					}
					top.valTyp = ft
				}
				continue
			}
		}
		if top != nil && top.obj {
			top.expect = true
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if len(stack) >= max {
					return append(problems, FieldError{Line: lineAt(b, int(dec.InputOffset())), Reason: fmt.Sprintf("nested deeper than %d levels", max)}), masked
				}
				path := ""
				var vt reflect.Type
				switch {
				case top == nil:
					vt = root
				case top.obj:
					path, vt = join(top.path, top.key), top.valTyp
				default:
					path, vt = fmt.Sprintf("%s[%d]", top.path, top.index), top.typ
					top.index++
				}
				stack = append(stack, &frame{obj: d == '{', keys: map[string]bool{}, expect: d == '{', path: path, typ: shapeOf(vt, d)})
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].expect = true
				}
			}
		}
	}
}

// maskKey overwrites with '~' the characters of the JSON string that
// ends at end (past its closing quote) in b.
func maskKey(b []byte, end int) {
	for i := end - 2; i >= 0; i-- {
		if b[i] != '"' {
			continue
		}
		n := 0 // backslashes before it: an odd count escapes it
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			for j := i + 1; j < end-1; j++ {
				b[j] = '~'
			}
			return
		}
	}
}

// shapeOf is what a frame opened by delim checks its contents against: a
// struct's fields for an object, the element type for an array, nothing
// for types that decode themselves or for a mismatch (which the decoder
// reports with its own words).
func shapeOf(t reflect.Type, delim json.Delim) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil
	}
	switch {
	case delim == '{' && t.Kind() == reflect.Struct:
		return t
	case delim == '[' && t.Kind() == reflect.Slice:
		return t.Elem()
	}
	return nil
}

// jsonField returns the type of the field of struct t named k in JSON.
func jsonField(t reflect.Type, k string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			if ft, ok := jsonField(f.Type, k); ok {
				return ft, true
			}
			continue
		}
		if name == k {
			return f.Type, true
		}
	}
	return nil, false
}

func join(path, k string) string {
	k = shortKey(k)
	if path == "" {
		return k
	}
	return path + "." + k
}

// shortKey is a key as an error names it: an unknown one may be anything
// a sender wrote, and a 500 KB key would be echoed into every answer and
// log line that names it.
func shortKey(k string) string {
	const max = 64
	if len(k) <= max {
		return k
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return k[:cut] + "…"
}

// IsField reports whether name is a top-level field of an event: what a
// count of refusals by field may use as a label, where an unknown field's
// name, any text a sender wrote, may not.
func IsField(name string) bool {
	_, ok := jsonField(reflect.TypeFor[Event](), name)
	return ok
}

// JSONFieldError turns an error of encoding/json decoding b into a field
// error: the field and what it wants for a value of the wrong type, the
// line of a syntax error, the name of an unknown field.
func JSONFieldError(err error, b []byte) FieldError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		return FieldError{Field: field, Value: te.Value, Line: lineAt(b, int(te.Offset)), Reason: "want " + typeName(te.Type)}
	case errors.As(err, &se):
		return syntaxError(err, b, 0).Fields[0]
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return FieldError{Field: shortKey(f), Reason: "unknown field"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return FieldError{Line: lineAt(b, len(b)), Reason: "truncated JSON"}
	}
	return FieldError{Reason: err.Error()}
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Pointer, reflect.Map:
		return "an object"
	case reflect.Float64, reflect.Int, reflect.Int64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

func syntaxError(err error, b []byte, base int) *RecordError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &RecordError{Line: base + lineAt(b, int(se.Offset)), Fields: []FieldError{{Line: base + lineAt(b, int(se.Offset)), Reason: "invalid JSON: " + strings.TrimPrefix(se.Error(), "json: ")}}}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &RecordError{Line: base + lineAt(b, len(b)), Fields: []FieldError{{Line: base + lineAt(b, len(b)), Reason: "truncated JSON"}}}
	}
	return &RecordError{Fields: []FieldError{{Reason: "invalid JSON: " + err.Error()}}}
}

func lineAt(b []byte, off int) int {
	if off > len(b) {
		off = len(b)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(b[:off], []byte{'\n'}) + 1
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func (d *Decoder) decodeYAML(br *bufio.Reader, emit func(Record) bool) {
	all, err := io.ReadAll(br)
	if err != nil {
		emit(readFailed(0, err))
		return
	}
	// Each document is decoded on its own, so that a syntax error in one
	// leaves the others readable; its lines are then made the file's.
	for _, doc := range yamlDocuments(all) {
		pieces := []yamlDocument{doc}
		split := true
		if lines := flowLines(doc); lines != nil {
			// Objects a line each (NDJSON in a .yaml file): each line is
			// a document of its own, which YAML would not read past the
			// first.
			pieces, split = lines, false
		}
		for _, piece := range pieces {
			if !d.yamlDocument(piece, emit, split) {
				return
			}
		}
	}
}

// flowLines splits a document of two or more lines that each hold a flow
// mapping ("{...}", as NDJSON's lines are) into one piece a line, with
// its line; it returns nil for any other document.
func flowLines(doc yamlDocument) []yamlDocument {
	var out []yamlDocument
	line := doc.line - 1
	for _, l := range lines(doc.text) {
		line++
		t := bytes.TrimSpace(l)
		switch {
		case len(t) == 0 || t[0] == '#':
		case l[0] == '{':
			out = append(out, yamlDocument{text: l, line: line})
		default:
			return nil
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// yamlDocument emits the records of one piece of a YAML stream, and
// reports whether to go on. yaml.v3 reads a document whole or not at all:
// when a document that is a list fails, and split is set, each item of the
// list is read on its own, so that one broken item does not hide the
// others.
func (d *Decoder) yamlDocument(doc yamlDocument, emit func(Record) bool, split bool) bool {
	if !utf8.Valid(doc.text) {
		// Refused for the item it is in, when the document is a list:
		// the others go in.
		if items := yamlItems(doc); split && len(items) > 1 {
			return d.yamlEach(items, emit)
		}
		i := invalidUTF8At(doc.text)
		line := doc.line + lineAt(doc.text, i) - 1
		col := i - bytes.LastIndexByte(doc.text[:i], '\n')
		return emit(Record{Line: line, Err: &RecordError{Fields: []FieldError{{Line: line, Reason: fmt.Sprintf("invalid UTF-8 at column %d; nothing of this %s was read", col, piece(split))}}}})
	}
	if split && len(doc.text) > yamlWhole {
		// A large list is read an item at a time: yaml.v3's tree of a
		// whole document takes tens of times its size in memory. Unless
		// an item does not parse alone (a quoted value whose next line
		// starts with "- ", an alias of an earlier item's anchor), when
		// the list is read whole, and alike either way.
		if items := yamlItems(doc); len(items) > 1 && parseAlone(items) {
			return d.yamlEach(items, emit)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(doc.text))
	read := false // records of this piece emitted: splitting it would repeat them
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			if items := yamlItems(doc); split && !read && len(items) > 1 {
				return d.yamlEach(items, emit)
			}
			line, msg := yamlError(err, doc.text)
			if line > 0 {
				line += doc.line - 1
			}
			rest := "nothing of this " + piece(split) + " was read"
			if read {
				rest = "the rest of this " + piece(split) + " was not read"
			}
			return emit(Record{Line: line, Err: &RecordError{Fields: []FieldError{{Line: line, Reason: "invalid YAML: " + msg + "; " + rest}}}})
		}
		if len(node.Content) == 0 {
			continue
		}
		root := node.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document: "---" with nothing after it
		}
		shiftLines(&node, doc.line-1)
		items := []*yaml.Node{root}
		if root.Kind == yaml.SequenceNode {
			items = root.Content
		}
		for _, n := range items {
			rec := Record{Line: n.Line}
			rec.Event, rec.Err, rec.CorrectsLine = d.yamlRecord(n)
			read = true
			if !emit(rec) {
				return false
			}
		}
	}
}

// yamlEach emits the records of each item of a list, each read alone.
func (d *Decoder) yamlEach(items []yamlDocument, emit func(Record) bool) bool {
	for _, item := range items {
		if !d.yamlDocument(item, emit, false) {
			return false
		}
	}
	return true
}

// piece names what yamlDocument reads: a document, or one item of a list
// (or one line) read alone.
func piece(split bool) string {
	if split {
		return "document"
	}
	return "item"
}

// parseAlone reports whether each item parses as YAML on its own (the
// parse is thrown away: each is read again to emit it).
func parseAlone(items []yamlDocument) bool {
	for _, item := range items {
		var n yaml.Node
		if err := yaml.Unmarshal(item.text, &n); err != nil {
			return false
		}
	}
	return true
}

// yamlWhole is the largest YAML document read whole; a larger one that is
// a block list is read an item at a time.
var yamlWhole = 1 << 20

// yamlItems splits a document that is a block list at its first column
// into one piece for each item, each a list of one, with the line it
// starts on. It returns nil for any other document. What comes before the
// first item (a marker, comments) is left out.
func yamlItems(doc yamlDocument) []yamlDocument {
	var items []yamlDocument
	line := doc.line - 1
	text := doc.text
	start := -1
	for i, l := range lines(text) {
		line++
		t := bytes.TrimRight(l, "\r\n")
		if bytes.HasPrefix(t, []byte("...")) {
			return nil // a document end marker: not one plain list
		}
		if bytes.HasPrefix(t, []byte("- ")) || string(t) == "-" {
			if start >= 0 {
				items[len(items)-1].text = text[start:i]
			}
			start = i
			items = append(items, yamlDocument{line: line})
		} else if start < 0 {
			if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && !bytes.HasPrefix(t, []byte("---")) {
				return nil // content before any item: not a block list
			}
		}
	}
	if start >= 0 {
		items[len(items)-1].text = text[start:]
	}
	return items
}

// shiftLines moves the lines of a node and all it holds down by n.
func shiftLines(node *yaml.Node, n int) {
	if n == 0 {
		return
	}
	node.Line += n
	for _, c := range node.Content {
		shiftLines(c, n)
	}
}

// yamlDocument is one document of a YAML stream and the line it starts on.
type yamlDocument struct {
	text []byte
	line int
}

// yamlDocuments splits a YAML stream before each line that starts a
// document ("---" alone or followed by a blank), which YAML forbids
// inside a document's content. Directives and comments before a marker
// stay with the document they precede.
func yamlDocuments(all []byte) []yamlDocument {
	var docs []yamlDocument
	start, startLine, line := 0, 1, 0
	onlyPreamble := true // the current piece holds nothing but directives, comments and blanks
	for i, l := range lines(all) {
		line++
		marker := bytes.HasPrefix(l, []byte("---")) && (len(l) == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\n' || l[3] == '\r')
		if marker && !onlyPreamble {
			docs = append(docs, yamlDocument{text: all[start:i], line: startLine})
			start, startLine, onlyPreamble = i, line, true
		}
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && t[0] != '%' && !marker {
			onlyPreamble = false
		}
		if marker {
			// A document's content may follow its marker on the same line.
			if t := bytes.TrimSpace(l[3:]); len(t) > 0 && t[0] != '#' {
				onlyPreamble = false
			}
		}
	}
	return append(docs, yamlDocument{text: all[start:], line: startLine})
}

// lines yields each line of b, its end of line included, with the offset
// it starts at.
func lines(b []byte) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		for i := 0; i < len(b); {
			n := bytes.IndexByte(b[i:], '\n') + 1
			if n == 0 {
				n = len(b) - i
			}
			if !yield(i, b[i:i+n]) {
				return
			}
			i += n
		}
	}
}

// yamlRecord decodes and validates one YAML event, and finds the line of
// its corrects field.
func (d *Decoder) yamlRecord(n *yaml.Node) (Event, *RecordError, int) {
	e, re := d.yamlEvent(n)
	if c := mapValue(n, "corrects"); c != nil && e.Corrects != "" && re == nil {
		return e, nil, c.Line
	}
	return e, re, 0
}

func (d *Decoder) yamlEvent(n *yaml.Node) (Event, *RecordError) {
	var e Event
	fail := func(fe ...FieldError) (Event, *RecordError) {
		re := &RecordError{Fields: fe}
		if ValidID(e.ID) {
			re.ID = e.ID
		}
		return e, re
	}
	if n.Kind != yaml.MappingNode {
		return fail(FieldError{Line: n.Line, Reason: "want a mapping of event fields"})
	}
	shape := checkYAMLShape(n, reflect.TypeFor[Event](), "", d.maxDepth())
	if !onlyUnknown(shape) {
		if id := mapValue(n, "id"); id != nil {
			e.ID = id.Value
		}
		return fail(shape...)
	}
	// Unknown fields alone leave the record readable (Node.Decode passes
	// them over): it is checked for everything else too, as JSON is.
	if err := n.Decode(&e); err != nil {
		line, msg := yamlError(err, nil)
		return fail(append(shape, FieldError{Line: line, Reason: msg})...)
	}
	e.normalize()
	fe := d.Vocabulary.Validate(&e)
	for i := range fe {
		fe[i].Line = yamlLine(n, fe[i].Field)
	}
	if fe = append(shape, fe...); len(fe) > 0 {
		return fail(fe...)
	}
	return e, nil
}

// checkYAMLShape refuses unknown fields, keys given twice and deep nesting,
// with the line of each; yaml.v3's Node.Decode would let unknown fields
// through silently.
func checkYAMLShape(n *yaml.Node, t reflect.Type, path string, depth int) []FieldError {
	if depth == 0 {
		return []FieldError{{Field: path, Line: n.Line, Reason: "nested too deeply"}}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		return []FieldError{{Field: path, Line: n.Line, Reason: yamlAliasRefused}}
	}
	var out []FieldError
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode && !implementsYAML(t):
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
				fields[tag] = f.Type
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			ft, ok := fields[k.Value]
			switch {
			case !ok:
				out = append(out, FieldError{Field: p, Line: k.Line, Reason: reasonUnknown})
			case seen[k.Value]:
				out = append(out, FieldError{Field: p, Line: k.Line, Reason: "key given twice"})
			default:
				out = append(out, checkYAMLShape(v, ft, p, depth-1)...)
			}
			seen[k.Value] = true
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if item.Tag == "!!null" {
				// yaml.v3 would drop it, where JSON's null is refused:
				// an empty item is a mistake either way.
				out = append(out, FieldError{Field: p, Line: item.Line, Reason: "required (an empty item)"})
				continue
			}
			out = append(out, checkYAMLShape(item, t.Elem(), p, depth-1)...)
		}
	case t.Kind() == reflect.Slice && n.Kind != yaml.SequenceNode && n.Tag != "!!null":
		out = append(out, FieldError{Field: path, Line: n.Line, Value: n.Value, Reason: "want a list"})
	case t.Kind() == reflect.Struct && n.Kind != yaml.MappingNode && !implementsYAML(t) && n.Tag != "!!null":
		out = append(out, FieldError{Field: path, Line: n.Line, Value: n.Value, Reason: "want a mapping"})
	case t.Kind() == reflect.String && n.Kind != yaml.ScalarNode:
		out = append(out, FieldError{Field: path, Line: n.Line, Reason: "want a string"})
	}
	return out
}

// yamlAliasRefused is why an event may not hold an alias; a vocabulary
// may (its shape is checked where the anchor is).
const yamlAliasRefused = "YAML aliases are not accepted in events"

func implementsYAML(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]())
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var pathPart = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// yamlLine finds the line of the node at a field path like
// "positions[1].party", or the closest line on the way to it.
func yamlLine(n *yaml.Node, path string) int {
	line := n.Line
	for _, m := range pathPart.FindAllStringSubmatch(path, -1) {
		var next *yaml.Node
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				next = n.Content[i]
			}
		} else {
			next = mapValue(n, m[1])
		}
		if next == nil {
			break
		}
		n, line = next, next.Line
	}
	return line
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// yamlParserProblems are the messages of yaml.v3's parser errors, as
// against its scanner's: it counts their lines from 0.
var yamlParserProblems = []string{
	"did not find expected key", "did not find expected '-' indicator",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected node content", "did not find expected <document start>",
	"found undefined tag handle", "found duplicate %YAML directive",
	"found duplicate %TAG directive", "found incompatible YAML document",
}

// yamlError takes the line out of yaml.v3's message, a line of text (from
// 1), so that it is reported once, in the place lines go.
//
// yaml.v3 gives the line where the construct it was reading began (a
// flow sequence's "[", a scalar), counted from 0 for its parser's errors
// and from 1 for its scanner's. A tab in an indentation is reported at
// the scalar before it: the line is the first indented with a tab from
// there.
func yamlError(err error, text []byte) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.Replace(msg, m[0], "", 1)
	}
	switch {
	case line == 0:
	case slices.Contains(yamlParserProblems, msg):
		// At the end of the text, past its last line: that line.
		line = min(line+1, lineAt(text, len(bytes.TrimRight(text, " \t\r\n"))))
	case strings.Contains(msg, "tab character"):
		n := 0
		for _, l := range lines(text) {
			n++
			if indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]; n >= line && bytes.IndexByte(indent, '\t') >= 0 {
				line = n
				break
			}
		}
	}
	return line, msg
}
