package feed

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/parley-news/parley/internal/httpapi"
	"hash/fnv"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/projections"
)

// scanEntries bounds the developments read for one Atom or JSON feed, so
// that a filter that matches little does not read the whole history.
const scanEntries = 10_000

// entry is one entry of the Atom and JSON feeds: an event as known now.
// A correction or retraction that took effect is not an entry of its own:
// it updates the entry of the event it amends, which keeps its id.
type entry struct {
	ev *projections.EventView
	// dev is the latest development that touched the entry and passed
	// the filter, or amended an event of its type (amendsType).
	dev     *projections.Development
	updated time.Time
}

// entryEvent is the event whose entry a development updates.
func entryEvent(d *projections.Development) string {
	if d.Corrects != "" && d.Note == "" {
		return d.Corrects
	}
	return d.Event
}

// latestEntries returns up to limit entries touched by the developments
// that pass f, or that amend an event of f's type (see amendsType), the
// most recently updated first.
func latestEntries(tx projections.Tx, f Filter, limit int) ([]*entry, error) {
	var (
		out  []*entry
		seen = map[string]bool{}
		n    int
		qerr error
	)
	err := projections.LatestDevelopments(tx, func(d *projections.Development) bool {
		if n++; n > scanEntries {
			return false
		}
		id := entryEvent(d)
		match := f.Match(d)
		if seen[id] || !match && !amendsType(f, d, id) {
			return true
		}
		ev, err := projections.QueryEvent(tx, id, projections.Knowledge{})
		if errors.Is(err, projections.ErrNotFound) {
			seen[id] = true
			return true
		}
		if err != nil {
			qerr = err
			return false
		}
		if !match && ev.Type != f.Type {
			return true
		}
		seen[id] = true
		out = append(out, &entry{ev: ev, dev: d, updated: updatedAt(ev)})
		return len(out) < limit
	})
	if err == nil {
		err = qerr
	}
	if err != nil {
		return nil, fmt.Errorf("feed entries: %w", err)
	}
	slices.SortStableFunc(out, func(a, b *entry) int { return b.updated.Compare(a.updated) })
	return out, nil
}

// amendsType says whether d may update the entry id of an event of f's
// type: a correction or retraction that took effect, which passes f but
// for its own type. The entries of a feed narrowed to a type are events of
// that type, and one corrected long after, with many of its type since,
// would otherwise never show its correction there. Whether the event is
// of the type is for the caller to look up.
func amendsType(f Filter, d *projections.Development, id string) bool {
	return f.Type != "" && id != d.Event && Filter{Party: f.Party, Issue: f.Issue}.Match(d)
}

// updatedAt is when the event was last changed: recorded, corrected or
// retracted.
func updatedAt(ev *projections.EventView) time.Time {
	t := ev.RecordedAt
	for _, u := range []*time.Time{ev.CorrectedAt, ev.RetractedAt} {
		if u != nil && u.After(t) {
			t = *u
		}
	}
	return t.UTC()
}

// docKind is the format of a feed document.
type docKind string

const (
	kindAtom docKind = "atom"
	kindJSON docKind = "json"
)

// document is what both formats are made of.
type document struct {
	self, home string // absolute URLs
	filter     Filter
	entries    []*entry
}

// serveDoc answers GET /v1/feed.atom and GET /v1/feed.json: an ETag of
// the read model's checkpoint spares a reader that polls a document that
// has not changed.
func (b *Broker) serveDoc(w http.ResponseWriter, r *http.Request, kind docKind, write func(http.ResponseWriter, *document) error) {
	p := params{httpapi.RequestParams(r)}
	p.Only("party", "issue", "type", "limit")
	f := b.filter(&p)
	limit := p.limit(b.cfg.Entries)
	if p.Err != nil {
		writeProblem(w, http.StatusBadRequest, p.Err.Error(), p.Err.Param)
		return
	}
	base := b.baseURL(r)
	doc := &document{self: base + r.URL.RequestURI(), home: base + "/", filter: f}
	var etag string
	notModified := false
	err := b.store.View(r.Context(), func(tx projections.Tx) error {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s|%s|%d|%s", kind, f.query(), limit, doc.self)
		etag = fmt.Sprintf(`"%s-%d-%d-%x"`, kind, b.epoch, projections.Checkpoint(tx), h.Sum64())
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			notModified = true
			return nil
		}
		var err error
		doc.entries, err = latestEntries(tx, f, limit)
		return err
	})
	if err != nil {
		if r.Context().Err() == nil {
			b.log.Error("feed document", "kind", kind, "err", err)
			writeProblem(w, http.StatusInternalServerError, "internal error", "")
		}
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "max-age=60")
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if err := write(w, doc); err != nil && r.Context().Err() == nil {
		b.log.Warn("feed document", "kind", kind, "err", err)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// baseURL is the service's public URL, without a trailing slash.
func (b *Broker) baseURL(r *http.Request) string {
	if b.cfg.BaseURL != "" {
		return strings.TrimSuffix(b.cfg.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// entryID is an entry's id: the event's id under the configured prefix,
// the same in both formats and whatever becomes of the event.
func (b *Broker) entryID(e *entry) string { return b.cfg.IDPrefix + "event:" + e.ev.ID }

// feedID is the document's id: one per filter, not per URL or format.
func (b *Broker) feedID(f Filter) string {
	if q := f.query(); q != "" {
		return b.cfg.IDPrefix + "feed?" + q
	}
	return b.cfg.IDPrefix + "feed"
}

// title is the document's title, naming its filter.
func (b *Broker) title(f Filter) string {
	var parts []string
	if f.Party != "" {
		parts = append(parts, b.partyName(f.Party))
	}
	if f.Issue != "" {
		parts = append(parts, b.issueLabel(f.Issue))
	}
	if f.Type != "" {
		parts = append(parts, b.typeLabel(f.Type))
	}
	if len(parts) == 0 {
		return b.cfg.Title
	}
	return b.cfg.Title + ": " + strings.Join(parts, ", ")
}

// entryTitle says when the event was retracted.
func entryTitle(e *entry) string {
	if e.ev.Retracted {
		return "[Retracted] " + e.ev.Title
	}
	return e.ev.Title
}

func (b *Broker) partyName(id string) string {
	if t := b.vocab.Party(id); t != nil && t.Name != "" {
		return t.Name
	}
	return id
}

func (b *Broker) issueLabel(id string) string {
	if t := b.vocab.Issue(id); t != nil && t.Label != "" {
		return t.Label
	}
	return id
}

func (b *Broker) typeLabel(id string) string {
	if t := b.vocab.Type(id); t != nil && t.Label != "" {
		return t.Label
	}
	return id
}

func (b *Broker) stanceLabel(id string) string {
	if t := b.vocab.Stance(id); t != nil && t.Label != "" {
		return t.Label
	}
	return id
}

// contentView is what an entry's HTML says, worded in Go and escaped by
// the template.
type contentView struct {
	Retracted, Corrected string
	Line                 string
	Summary              string
	Positions            []string
	Amends, Note         string
	Sources              []events.Source
}

var contentHTML = template.Must(template.New("content").Parse(
	`{{if .Retracted}}<p><strong>Retracted</strong> {{.Retracted}}</p>{{end}}` +
		`{{if .Corrected}}<p><strong>Corrected</strong> {{.Corrected}}</p>{{end}}` +
		`<p>{{.Line}}</p>` +
		`{{if .Summary}}<p>{{.Summary}}</p>{{end}}` +
		`{{if .Positions}}<ul>{{range .Positions}}<li>{{.}}</li>{{end}}</ul>{{end}}` +
		`{{if .Amends}}<p>{{.Amends}}</p>{{end}}` +
		`{{if .Note}}<p>{{.Note}}</p>{{end}}` +
		`{{if .Sources}}<p>Sources: {{range $i, $s := .Sources}}{{if $i}}, {{end}}` +
		`{{if $s.URL}}<a href="{{$s.URL}}">{{$s.Outlet}}</a>{{else}}{{$s.Outlet}}{{end}}{{end}}</p>{{end}}`))

// content renders an entry's HTML.
func (b *Broker) content(e *entry) (string, error) {
	ev := e.ev
	v := contentView{Summary: ev.Summary, Sources: ev.Sources}
	if ev.Retracted && ev.RetractedAt != nil {
		v.Retracted = fmt.Sprintf("on %s (%s): the record no longer counts this event or its positions.",
			ev.RetractedAt.UTC().Format(time.DateOnly), ev.RetractedBy)
	}
	if ev.CorrectedAt != nil {
		v.Corrected = fmt.Sprintf("on %s (%s).", ev.CorrectedAt.UTC().Format(time.DateOnly), strings.Join(ev.CorrectedBy, ", "))
		if o := ev.Original; o != nil {
			v.Corrected += fmt.Sprintf(" As first recorded: “%s”, %s.", o.Title, o.OccurredAt)
		}
	}
	line := []string{ev.OccurredAt.String(), b.typeLabel(ev.Type)}
	if len(ev.Actors) > 0 {
		names := make([]string, len(ev.Actors))
		for i, a := range ev.Actors {
			names[i] = b.partyName(a)
		}
		line = append(line, strings.Join(names, ", "))
	}
	if ev.Location != "" {
		line = append(line, ev.Location)
	}
	v.Line = strings.Join(line, " · ")
	for _, p := range ev.Positions {
		s := b.partyName(p.Party) + ": " + b.stanceLabel(p.Stance)
		if !p.Value.IsZero() {
			s += " " + p.Value.String()
		}
		s += " (" + b.issueLabel(p.Issue) + ")"
		if p.Quote != "" {
			s += ": “" + p.Quote + "”"
		}
		v.Positions = append(v.Positions, s)
	}
	if ev.Corrects != "" {
		v.Amends = fmt.Sprintf("This %s names the event %s.", ev.Type, ev.Corrects)
	}
	if e.dev != nil && e.dev.Event == ev.ID {
		v.Note = e.dev.Note
	}
	var buf bytes.Buffer
	if err := contentHTML.Execute(&buf, v); err != nil {
		return "", fmt.Errorf("render entry %s: %w", ev.ID, err)
	}
	return buf.String(), nil
}

// link is the API's URL of an entry's event.
func link(doc *document, e *entry) string {
	return strings.TrimSuffix(doc.home, "/") + "/v1/events/" + e.ev.ID
}
