package events

import "golang.org/x/text/unicode/norm"

// normalize puts every free text of an event read from outside input in
// Unicode Normalization Form C: the same words typed on another system,
// or saved by an editor that decomposes (é as e and U+0301, as macOS file
// names are), are then the same bytes, so that a re-sent event is a
// duplicate rather than a conflict, a text value agrees with itself in
// the state, and the length limits count what a reader sees as one
// character once. NFC, not NFKC: compatibility forms (², ﬁ, full-width
// letters) are other text, kept as written. Ids and vocabulary terms are
// ASCII slugs, which no form changes.
func (e *Event) normalize() {
	nfc(&e.Title)
	nfc(&e.Summary)
	nfcAll(e.People)
	nfc(&e.Location)
	normalizeSources(e.Sources)
	normalizePositions(e.Positions)
	a := e.Amend
	if a == nil {
		return
	}
	for _, s := range []*string{a.Title, a.Summary, a.Location} {
		if s != nil {
			nfc(s)
		}
	}
	if a.People != nil {
		nfcAll(*a.People)
	}
	if a.Sources != nil {
		normalizeSources(*a.Sources)
	}
	if a.Positions != nil {
		normalizePositions(*a.Positions)
	}
}

func normalizeSources(ss []Source) {
	for i := range ss {
		nfc(&ss[i].Outlet)
		nfc(&ss[i].URL)
	}
}

func normalizePositions(ps []Position) {
	for i := range ps {
		if ps[i].Value.isText {
			nfc(&ps[i].Value.text)
		}
		nfc(&ps[i].Quote)
	}
}

func nfcAll(ss []string) {
	for i := range ss {
		nfc(&ss[i])
	}
}

// nfc normalizes s in place; text already in NFC (ASCII, most text) is
// left as it is, without a copy.
func nfc(s *string) { *s = norm.NFC.String(*s) }

// SameText reports whether two texts are the same once normalized (NFC).
func SameText(a, b []byte) bool {
	return string(a) == string(b) || string(norm.NFC.Bytes(a)) == string(norm.NFC.Bytes(b))
}
