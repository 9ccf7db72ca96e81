package events

import (
	"bytes"
	"encoding/json"
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
	// Validate to report with the field's name.
	invalid string
}

// Number returns a numeric Value.
func Number(f float64) Value { return Value{num: f, isNum: true} }

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
		if err != nil {
			*v = Value{invalid: string(b)}
			return nil
		}
		*v = Number(f)
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
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			*v = Value{invalid: n.Value}
			return nil
		}
		*v = Number(f)
	case "!!null":
		*v = Value{}
	default:
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
