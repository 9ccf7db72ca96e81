package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Value is a position's value: a number (600000 troops) or a short text
// ("100 days"). The zero Value is absent.
type Value struct {
	num    float64
	text   string
	isNum  bool
	isText bool

	// invalid is what came instead of a number or a string, kept for
	// Validate to report with the field's name, and why when it is a
	// number JSON and YAML can write but a float64 cannot hold.
	invalid, why string
	// changed is a number as written that a float64 does not keep as
	// written (more digits than it holds, or too small to be told from
	// 0): refused by Validate, read as the float64 otherwise.
	changed string
}

// notKept says whether the decimal number s, read as f, is not f as
// written: its significant digits are not those of f, so storing f would
// change it without a word. 0.1, 6e5 and 600000.0 are kept.
func notKept(s string, f float64) bool {
	if strings.ContainsAny(s, "xXnN") {
		return false // hexadecimal, or not a decimal number at all
	}
	return digits(s) != digits(strconv.FormatFloat(f, 'e', -1, 64))
}

// digits is the significant digits of a decimal number.
func digits(s string) string {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	return strings.Trim(s, "0")
}

// number is the Value of a number read as f from s.
func number(s string, f float64) Value {
	v := Number(f)
	if notKept(s, f) {
		v.changed = s
	}
	return v
}

// Number returns a numeric Value. Zero has one sign: -0 and 0 are the same
// value, and must be the same bytes in the record.
func Number(f float64) Value {
	if f == 0 {
		f = 0
	}
	return Value{num: f, isNum: true}
}

// isOutOfRange reports whether s is a number too large for a float64.
func isOutOfRange(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return errors.Is(err, strconv.ErrRange)
}

// outOfRange is the Value of a number too large for a float64.
func outOfRange(s string) Value { return Value{invalid: s, why: "number out of range"} }

// Text returns a textual Value.
func Text(s string) Value { return Value{text: s, isText: true} }

// IsZero reports whether the value is absent.
func (v Value) IsZero() bool { return !v.isNum && !v.isText && v.invalid == "" }

// Float returns the number and whether the value is one.
func (v Value) Float() (float64, bool) { return v.num, v.isNum }

// String shows the value as it is written in JSON, without quotes.
func (v Value) String() string {
	switch {
	case v.isNum:
		return strconv.FormatFloat(v.num, 'f', -1, 64)
	case v.isText:
		return v.text
	}
	return ""
}

// Equal reports whether two values are the same number or the same text.
func (v Value) Equal(o Value) bool {
	return v.isNum == o.isNum && v.isText == o.isText && v.num == o.num && v.text == o.text
}

// MarshalJSON writes a number or a string.
func (v Value) MarshalJSON() ([]byte, error) {
	if b, ok := v.appendJSON(nil); ok {
		return b, nil
	}
	// Not a number JSON can hold: written as it is, for encoding/json to
	// refuse.
	return []byte(v.String()), nil
}

// UnmarshalJSON takes a number or a string.
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*v = Value{}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = Text(s)
	default:
		f, err := strconv.ParseFloat(string(b), 64)
		if errors.Is(err, strconv.ErrRange) {
			*v = outOfRange(string(b))
			return nil
		}
		if err != nil {
			*v = Value{invalid: string(b)}
			return nil
		}
		*v = number(string(b), f)
	}
	return nil
}

// UnmarshalYAML takes a number or a string scalar.
func (v *Value) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		*v = Value{invalid: "a YAML " + kindName(n.Kind)}
		return nil
	}
	switch n.Tag {
	case "!!int", "!!float":
		plain := strings.ReplaceAll(n.Value, "_", "")
		f, err := strconv.ParseFloat(plain, 64)
		if errors.Is(err, strconv.ErrRange) {
			*v = outOfRange(n.Value)
			return nil
		}
		if err != nil {
			*v = Value{invalid: n.Value}
			return nil
		}
		*v = number(plain, f)
	case "!!null":
		*v = Value{}
	default:
		// YAML takes a number too large for a float for a string; so
		// does nobody who wrote it unquoted.
		if n.Style == 0 && isOutOfRange(n.Value) {
			*v = outOfRange(n.Value)
			return nil
		}
		*v = Text(n.Value)
	}
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	}
	return "node"
}
