package feed

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/parley-news/parley/internal/projections"
)

// JSONFeedVersion is the version of JSON Feed served.
const JSONFeedVersion = "https://jsonfeed.org/version/1.1"

// The JSON Feed 1.1 document.
type jsonFeed struct {
	Version     string       `json:"version"`
	Title       string       `json:"title"`
	HomePageURL string       `json:"home_page_url"`
	FeedURL     string       `json:"feed_url"`
	Description string       `json:"description"`
	Authors     []jsonAuthor `json:"authors"`
	Language    string       `json:"language,omitempty"`
	Items       []*jsonItem  `json:"items"`
}

type jsonAuthor struct {
	Name string `json:"name"`
}

type jsonItem struct {
	ID            string   `json:"id"`
	URL           string   `json:"url"`
	ExternalURL   string   `json:"external_url,omitempty"`
	Title         string   `json:"title"`
	ContentHTML   string   `json:"content_html"`
	Summary       string   `json:"summary,omitempty"`
	DatePublished string   `json:"date_published"`
	DateModified  string   `json:"date_modified,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	Parley        *jsonExt `json:"_parley"`
}

// jsonExt is the item's extension: the event as the read API shows it
// (with retracted, corrected_by and the original) and the development
// that last touched it.
type jsonExt struct {
	About       string                   `json:"about"`
	Event       *projections.EventView   `json:"event"`
	Development *projections.Development `json:"development"`
}

// jsonAbout is where the extension is described, as JSON Feed asks.
const jsonAbout = "https://github.com/parley-news/parley/blob/main/docs/feeds.md"

func (b *Broker) serveJSONFeed(w http.ResponseWriter, r *http.Request) {
	b.serveDoc(w, r, kindJSON, b.writeJSONFeed)
}

func (b *Broker) writeJSONFeed(w http.ResponseWriter, doc *document) error {
	f := &jsonFeed{
		Version:     JSONFeedVersion,
		Title:       b.title(doc.filter),
		HomePageURL: doc.home,
		FeedURL:     doc.self,
		Description: "Developments of the negotiation, newest first",
		Authors:     []jsonAuthor{{Name: b.cfg.Title}},
		Language:    "en",
		Items:       []*jsonItem{},
	}
	for _, e := range doc.entries {
		html, err := b.content(e)
		if err != nil {
			return err
		}
		it := &jsonItem{
			ID:            b.entryID(e),
			URL:           link(doc, e),
			Title:         entryTitle(e),
			ContentHTML:   html,
			Summary:       e.ev.Summary,
			DatePublished: e.ev.RecordedAt.UTC().Format(time.RFC3339Nano),
			Parley:        &jsonExt{About: jsonAbout, Event: e.ev, Development: e.dev},
		}
		if !e.updated.Equal(e.ev.RecordedAt) {
			it.DateModified = e.updated.Format(time.RFC3339Nano)
		}
		for _, s := range e.ev.Sources {
			if s.URL != "" {
				it.ExternalURL = s.URL
				break
			}
		}
		for _, c := range b.categories(e) {
			it.Tags = append(it.Tags, c.scheme+":"+c.term)
		}
		f.Items = append(f.Items, it)
	}
	w.Header().Set("Content-Type", "application/feed+json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}
