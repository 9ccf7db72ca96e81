package events

// DecodeCanonical exposes decodeCanonical to the external tests, which
// hold it to encoding/json on the cases the encoder's tests use.
var DecodeCanonical = decodeCanonical

// SetYAMLWhole sets the largest YAML document read whole, for a test that
// reads small inputs an item at a time; it returns the undo.
func SetYAMLWhole(n int) (undo func()) {
	old := yamlWhole
	yamlWhole = n
	return func() { yamlWhole = old }
}
