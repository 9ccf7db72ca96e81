package feed

import (
	"encoding/xml"
	"net/http"
	"time"
)

// The Atom document (RFC 4287).
type atomFeed struct {
	XMLName  xml.Name     `xml:"http://www.w3.org/2005/Atom feed"`
	ID       string       `xml:"id"`
	Title    string       `xml:"title"`
	Subtitle string       `xml:"subtitle,omitempty"`
	Updated  string       `xml:"updated"`
	Author   atomPerson   `xml:"author"`
	Links    []atomLink   `xml:"link"`
	Gen      string       `xml:"generator,omitempty"`
	Entries  []*atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomCategory struct {
	Term   string `xml:"term,attr"`
	Scheme string `xml:"scheme,attr,omitempty"`
	Label  string `xml:"label,attr,omitempty"`
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published"`
	Links      []atomLink     `xml:"link"`
	Categories []atomCategory `xml:"category"`
	Summary    *atomText      `xml:"summary,omitempty"`
	Content    atomText       `xml:"content"`
}

func (b *Broker) serveAtom(w http.ResponseWriter, r *http.Request) {
	b.serveDoc(w, r, kindAtom, b.writeAtom)
}

func (b *Broker) writeAtom(w http.ResponseWriter, doc *document) error {
	f := &atomFeed{
		ID:       b.feedID(doc.filter),
		Title:    b.title(doc.filter),
		Subtitle: "Developments of the negotiation, newest first",
		Author:   atomPerson{Name: b.cfg.Title},
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: doc.self},
			{Rel: "alternate", Type: "text/html", Href: doc.home},
		},
		Gen: "Parley",
		// An empty feed is as old as can be: no reader takes it for news.
		Updated: time.Unix(0, 0).UTC().Format(time.RFC3339),
	}
	if len(doc.entries) > 0 {
		f.Updated = doc.entries[0].updated.Format(time.RFC3339Nano)
	}
	for _, e := range doc.entries {
		html, err := b.content(e)
		if err != nil {
			return err
		}
		ae := &atomEntry{
			ID:        b.entryID(e),
			Title:     entryTitle(e),
			Updated:   e.updated.Format(time.RFC3339Nano),
			Published: e.ev.RecordedAt.UTC().Format(time.RFC3339Nano),
			Links:     []atomLink{{Rel: "alternate", Type: "application/json", Href: link(doc, e)}},
			Content:   atomText{Type: "html", Body: html},
		}
		if e.ev.Summary != "" {
			ae.Summary = &atomText{Type: "text", Body: e.ev.Summary}
		}
		for _, c := range b.categories(e) {
			ae.Categories = append(ae.Categories, atomCategory{Term: c.term, Scheme: b.cfg.IDPrefix + c.scheme, Label: c.label})
		}
		f.Entries = append(f.Entries, ae)
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	if _, err := w.Write([]byte(xml.Header)); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		return err
	}
	return enc.Close()
}

// category is a term an entry is filed under: its type, its parties and
// its issues, each in a scheme of its own.
type category struct{ scheme, term, label string }

func (b *Broker) categories(e *entry) []category {
	ev := e.ev
	out := []category{{"type", ev.Type, b.typeLabel(ev.Type)}}
	for _, p := range ev.Parties() {
		out = append(out, category{"party", p, b.partyName(p)})
	}
	for _, is := range ev.Issues() {
		out = append(out, category{"issue", is, b.issueLabel(is)})
	}
	if ev.Retracted {
		out = append(out, category{"status", "retracted", "Retracted"})
	} else if ev.CorrectedAt != nil {
		out = append(out, category{"status", "corrected", "Corrected"})
	}
	return out
}
