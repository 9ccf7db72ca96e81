package events

import (
	"fmt"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Vocabulary is the set of names events may use: parties, issues, event
// types and stances. It is data (data/vocabulary.yaml), so that a new
// party or issue needs no change of code.
type Vocabulary struct {
	Parties []Term `yaml:"parties" json:"parties"`
	Issues  []Term `yaml:"issues" json:"issues"`
	Types   []Term `yaml:"types" json:"types"`
	Stances []Term `yaml:"stances" json:"stances"`

	parties, issues, types, stances map[string]*Term
}

// Term is one name of the vocabulary.
type Term struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name,omitempty"`
	Short       string `yaml:"short" json:"short,omitempty"`
	Label       string `yaml:"label" json:"label,omitempty"`
	Description string `yaml:"description" json:"description,omitempty"`
}

// The event types a vocabulary must hold, because the projection gives
// them a meaning.
var requiredTypes = []string{TypeCorrection, TypeRetraction}

// sseReserved are the names EventSource gives its own events: a feed
// message named so would be taken for one of them.
var sseReserved = []string{"error", "open"}

// ParseVocabulary reads a vocabulary in YAML and checks that its ids are
// well formed and unique. A mistake is told with its line and the term's
// place in its list (parties[1].nam), as an event's are, not in the words
// of the Go types it is read into.
func ParseVocabulary(b []byte) (*Vocabulary, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		line, msg := yamlError(err, b)
		return nil, fmt.Errorf("vocabulary: %s%s", atLine(line), msg)
	}
	var v Vocabulary
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
		for _, fe := range checkYAMLShape(root, reflect.TypeFor[Vocabulary](), "", 8) {
			if fe.Reason != yamlAliasRefused {
				return nil, fmt.Errorf("vocabulary: %s%s", atLine(fe.Line), fe)
			}
		}
		if err := root.Decode(&v); err != nil {
			return nil, fmt.Errorf("vocabulary: %w", err)
		}
	}
	// lineOf is the line of a term's id, 0 when unknown.
	lineOf := func(list string, i int) int {
		if root == nil {
			return 0
		}
		return yamlLine(root, fmt.Sprintf("%s[%d].id", list, i))
	}
	lists := []struct {
		name string
		list []Term
		into *map[string]*Term
	}{
		{"parties", v.Parties, &v.parties},
		{"issues", v.Issues, &v.issues},
		{"types", v.Types, &v.types},
		{"stances", v.Stances, &v.stances},
	}
	for _, l := range lists {
		if len(l.list) == 0 {
			return nil, fmt.Errorf("vocabulary: %s: empty", l.name)
		}
		m := make(map[string]*Term, len(l.list))
		first := make(map[string]int, len(l.list))
		for i := range l.list {
			t := &l.list[i]
			if !idPattern.MatchString(t.ID) {
				return nil, fmt.Errorf("vocabulary: %s%s[%d]: id %q is not a slug", atLine(lineOf(l.name, i)), l.name, i, t.ID)
			}
			if m[t.ID] != nil {
				j := first[t.ID]
				firstAt := fmt.Sprintf("%s[%d]", l.name, j)
				if n := lineOf(l.name, j); n > 0 {
					firstAt += fmt.Sprintf(", line %d", n)
				}
				return nil, fmt.Errorf("vocabulary: %s%s[%d]: id %q given twice (first: %s)", atLine(lineOf(l.name, i)), l.name, i, t.ID, firstAt)
			}
			m[t.ID], first[t.ID] = t, i
		}
		*l.into = m
	}
	for _, id := range requiredTypes {
		if v.types[id] == nil {
			return nil, fmt.Errorf("vocabulary: types: %q is required", id)
		}
	}
	for _, id := range sseReserved {
		if v.types[id] != nil {
			return nil, fmt.Errorf("vocabulary: types: %q is the name of a browser's own EventSource event: the live feed names each message by its event's type, and a page would take these for its connection failing or opening; choose another id", id)
		}
	}
	return &v, nil
}

// atLine is "line N: ", or nothing when the line is not known.
func atLine(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", n)
}

// LoadVocabulary reads a vocabulary file.
func LoadVocabulary(path string) (*Vocabulary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load vocabulary: %w", err)
	}
	v, err := ParseVocabulary(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Party returns the party with the id, or nil.
func (v *Vocabulary) Party(id string) *Term { return v.parties[id] }

// Issue returns the issue with the id, or nil.
func (v *Vocabulary) Issue(id string) *Term { return v.issues[id] }

// Type returns the event type with the id, or nil.
func (v *Vocabulary) Type(id string) *Term { return v.types[id] }

// Stance returns the stance with the id, or nil.
func (v *Vocabulary) Stance(id string) *Term { return v.stances[id] }
