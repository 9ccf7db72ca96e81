package feed_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/feed"
	"github.com/parley-news/parley/internal/projections"
)

type atomDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomEntry struct {
	ID         string `xml:"id"`
	Title      string `xml:"title"`
	Updated    string `xml:"updated"`
	Published  string `xml:"published"`
	Categories []struct {
		Term string `xml:"term,attr"`
	} `xml:"category"`
	Content struct {
		Type string `xml:"type,attr"`
		Body string `xml:",chardata"`
	} `xml:"content"`
}

// atom fetches and checks an Atom document: well-formed XML, the elements
// RFC 4287 requires, and no entry id twice.
func atom(t *testing.T, url string) atomDoc {
	t.Helper()
	code, h, body := get(t, url)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("GET %s: %d %s\n%s", url, code, h.Get("Content-Type"), body)
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("GET %s: not well-formed XML: %v\n%s", url, err, body)
		}
	}
	var doc atomDoc
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if doc.ID == "" || doc.Title == "" || !validTime(doc.Updated) {
		t.Errorf("feed lacks id, title or updated: %+v", doc)
	}
	seen := map[string]bool{}
	for _, e := range doc.Entries {
		if !strings.HasPrefix(e.ID, "tag:") || e.Title == "" || !validTime(e.Updated) || !validTime(e.Published) {
			t.Errorf("entry lacks id, title, updated or published: %+v", e)
		}
		if seen[e.ID] {
			t.Errorf("entry %s twice", e.ID)
		}
		seen[e.ID] = true
	}
	return doc
}

func validTime(s string) bool {
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func (d atomDoc) entry(id string) *atomEntry {
	for i := range d.Entries {
		if strings.HasSuffix(d.Entries[i].ID, ":event:"+id) {
			return &d.Entries[i]
		}
	}
	return nil
}

type jsonFeedDoc struct {
	Version string `json:"version"`
	Title   string `json:"title"`
	FeedURL string `json:"feed_url"`
	Items   []struct {
		ID            string   `json:"id"`
		URL           string   `json:"url"`
		Title         string   `json:"title"`
		ContentHTML   string   `json:"content_html"`
		DatePublished string   `json:"date_published"`
		DateModified  string   `json:"date_modified"`
		Tags          []string `json:"tags"`
		Parley        struct {
			Development *projections.Development `json:"development"`
			Event       struct {
				ID          string   `json:"id"`
				Type        string   `json:"type"`
				Retracted   bool     `json:"retracted"`
				CorrectedBy []string `json:"corrected_by"`
			} `json:"event"`
		} `json:"_parley"`
	} `json:"items"`
}

func jsonFeed(t *testing.T, url string) jsonFeedDoc {
	t.Helper()
	code, h, body := get(t, url)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/feed+json") {
		t.Fatalf("GET %s: %d %s\n%s", url, code, h.Get("Content-Type"), body)
	}
	var doc jsonFeedDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if doc.Version != "https://jsonfeed.org/version/1.1" {
		t.Errorf("version %q", doc.Version)
	}
	seen := map[string]bool{}
	for _, it := range doc.Items {
		if it.ID == "" || it.ContentHTML == "" || !validTime(it.DatePublished) {
			t.Errorf("item lacks id, content_html or date_published: %+v", it)
		}
		if seen[it.ID] {
			t.Errorf("item %s twice", it.ID)
		}
		seen[it.ID] = true
	}
	return doc
}

// TestAtomAndJSONFeedCorrections follows one event through a correction
// and another through a retraction: each keeps its entry id, the
// corrected one is updated, the retracted one says so, and neither shows
// twice.
func TestAtomAndJSONFeedCorrections(t *testing.T) {
	r := startService(t, true)
	postEvents(t, r.HTTPURL,
		event("geneva-talks", "talks", pos("us", "army-cap", "proposes"), pos("ua", "army-cap", "rejects")),
		event("kremlin-rumour", "statement", pos("ru", "sanctions", "demands")))
	seqs := postEvents(t, r.HTTPURL, event("later-news", "statement", pos("e3", "ceasefire", "demands")))
	waitApplied(t, r, seqs[0])

	before := atom(t, r.HTTPURL+"/v1/feed.atom")
	e1 := before.entry("geneva-talks")
	if e1 == nil || before.entry("kremlin-rumour") == nil {
		t.Fatalf("new events not in the feed: %+v", before.Entries)
	}
	if before.Entries[0].ID != before.entry("later-news").ID {
		t.Errorf("first entry %s, want the newest (later-news)", before.Entries[0].ID)
	}
	if before.entry("plan-leaked-axios") == nil || before.entry("correction-axios-leak-date") != nil {
		t.Errorf("a seed correction should update its event's entry, not add one of its own")
	}
	jBefore := jsonFeed(t, r.HTTPURL+"/v1/feed.json")
	if len(jBefore.Items) != len(before.Entries) || jBefore.Items[0].ID != before.Entries[0].ID {
		t.Errorf("JSON Feed and Atom disagree: %d items, %d entries", len(jBefore.Items), len(before.Entries))
	}
	code, h, _ := get(t, r.HTTPURL+"/v1/feed.atom")
	etag := h.Get("ETag")
	if code, _, _ = get(t, r.HTTPURL+"/v1/feed.atom", "If-None-Match", etag); etag == "" || code != 304 {
		t.Errorf("If-None-Match %s: %d, want 304", etag, code)
	}

	time.Sleep(10 * time.Millisecond) // recorded times are the stream's, in ms or finer
	title := "Talks in Geneva, corrected"
	corr := event("geneva-talks-fix", "correction")
	corr.Corrects, corr.Amend = "geneva-talks", &events.Amend{Title: &title}
	retr := event("kremlin-rumour-withdrawn", "retraction")
	retr.Corrects = "kremlin-rumour"
	seqs = postEvents(t, r.HTTPURL, corr, retr)
	waitApplied(t, r, seqs[1])

	after := atom(t, r.HTTPURL+"/v1/feed.atom")
	if code, _, _ = get(t, r.HTTPURL+"/v1/feed.atom", "If-None-Match", etag); code != 200 {
		t.Errorf("ETag unchanged after new events: %d", code)
	}
	if len(after.Entries) != len(before.Entries) {
		t.Errorf("%d entries after a correction and a retraction, want still %d", len(after.Entries), len(before.Entries))
	}
	e2 := after.entry("geneva-talks")
	switch {
	case e2 == nil:
		t.Fatal("corrected event left the feed")
	case e2.ID != e1.ID:
		t.Errorf("entry id changed: %s then %s", e1.ID, e2.ID)
	case e2.Title != title:
		t.Errorf("title %q, want the corrected %q", e2.Title, title)
	case !(e2.Updated > e1.Updated) || e2.Published != e1.Published:
		t.Errorf("updated %s published %s, before %s %s: want updated later, published the same", e2.Updated, e2.Published, e1.Updated, e1.Published)
	case !strings.Contains(e2.Content.Body, "Corrected") || !strings.Contains(e2.Content.Body, "geneva-talks-fix"):
		t.Errorf("content does not say it was corrected: %s", e2.Content.Body)
	}
	rt := after.entry("kremlin-rumour")
	if rt == nil || !strings.HasPrefix(rt.Title, "[Retracted]") || !strings.Contains(rt.Content.Body, "Retracted") {
		t.Errorf("retracted entry does not say so: %+v", rt)
	}
	if after.entry("geneva-talks-fix") != nil || after.entry("kremlin-rumour-withdrawn") != nil {
		t.Error("a correction or retraction has an entry of its own")
	}
	if after.Entries[0].ID != rt.ID && after.Entries[0].ID != e2.ID {
		t.Errorf("first entry %s, want one just amended", after.Entries[0].ID)
	}

	j := jsonFeed(t, r.HTTPURL+"/v1/feed.json")
	for _, it := range j.Items {
		switch it.Parley.Event.ID {
		case "geneva-talks":
			if it.ID != e1.ID || it.Title != title || !validTime(it.DateModified) || it.DateModified <= it.DatePublished {
				t.Errorf("corrected item: %+v", it)
			}
			if len(it.Parley.Event.CorrectedBy) != 1 {
				t.Errorf("corrected item's event: %+v", it.Parley.Event)
			}
		case "kremlin-rumour":
			if !it.Parley.Event.Retracted || !strings.HasPrefix(it.Title, "[Retracted]") || it.DateModified == "" {
				t.Errorf("retracted item: %+v", it)
			}
		case "later-news":
			if it.DateModified != "" {
				t.Errorf("unchanged item has date_modified %s", it.DateModified)
			}
		}
	}
}

// TestFilters narrows all three feeds and refuses filters outside the
// vocabulary.
func TestFilters(t *testing.T) {
	r := startService(t, true)
	sse, code := openSSE(t, r.HTTPURL, "?party=ru&type=statement", "")
	if code != 200 {
		t.Fatalf("SSE: %d", code)
	}
	defer sse.close()
	seqs := postEvents(t, r.HTTPURL,
		event("f-us", "statement", pos("us", "army-cap", "proposes")),
		event("f-ru-talks", "talks", pos("ru", "army-cap", "rejects")),
		event("f-ru", "statement", pos("ru", "sanctions", "demands")),
		event("f-ua", "statement", pos("ua", "elections", "open")))
	waitApplied(t, r, seqs[3])
	if f, ok := sse.next(t, 5*time.Second); !ok || f.Data.Development.Event != "f-ru" {
		t.Errorf("filtered SSE got %+v, want f-ru only", f)
	}
	if f, ok := sse.next(t, 300*time.Millisecond); ok {
		t.Errorf("filtered SSE got %+v too", f.Data.Development)
	}

	for _, q := range []string{"?party=ru", "?issue=army-cap", "?type=statement", "?party=ru&issue=sanctions&limit=3"} {
		f := filterOf(t, strings.Split(q, "&limit")[0])
		doc := jsonFeed(t, r.HTTPURL+"/v1/feed.json"+q)
		adoc := atom(t, r.HTTPURL+"/v1/feed.atom"+q)
		if len(doc.Items) == 0 || len(doc.Items) != len(adoc.Entries) {
			t.Errorf("%s: %d items, %d entries", q, len(doc.Items), len(adoc.Entries))
		}
		if strings.Contains(q, "limit=3") && len(doc.Items) > 3 {
			t.Errorf("%s: %d items", q, len(doc.Items))
		}
		for _, it := range doc.Items {
			// Or, for an event of the type, amended by a development that
			// passes the other filters.
			d := it.Parley.Development
			amended := d != nil && d.Corrects == it.Parley.Event.ID && it.Parley.Event.Type == f.Type &&
				feed.Filter{Party: f.Party, Issue: f.Issue}.Match(d)
			if d == nil || !f.Match(d) && !amended {
				t.Errorf("%s let through %s, touched by %+v", q, it.ID, d)
			}
		}
	}

	for _, c := range []struct{ path, param string }{
		{"/v1/feed?party=atlantis", "party"},
		{"/v1/feed?issue=nope", "issue"},
		{"/v1/feed?last_event_id=x", "last_event_id"},
		{"/v1/feed?partyy=us", "partyy"},
		{"/v1/feed.atom?type=gossip", "type"},
		{"/v1/feed.json?limit=0", "limit"},
		{"/v1/feed.json?party=us&party=ru", "party"},
		{"/v1/feed.json?party=us;type=talks", "party"},
		{"/v1/feed.atom?issue=%zz", "issue"},
	} {
		code, h, body := get(t, r.HTTPURL+c.path)
		var p struct{ Error, Param string }
		json.Unmarshal(body, &p)
		if code != 400 || p.Param != c.param {
			t.Errorf("GET %s: %d %s, want 400 naming %s", c.path, code, body, c.param)
		}
		// As every answer of the API but the documents themselves: a
		// cache in front asks again.
		if cc := h.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", c.path, cc)
		}
	}
}

// TestTypeFilterKeepsCorrections: a feed narrowed to a type holds the
// entries of events of that type, and a correction or retraction of one
// updates its entry there as in the whole feed, however many events of
// the type came since: a reader following the talks learns that talks
// were corrected.
func TestTypeFilterKeepsCorrections(t *testing.T) {
	r := startService(t, false)
	postEvents(t, r.HTTPURL,
		event("old-talks", "talks", pos("us", "army-cap", "proposes")),
		event("old-talks-2", "talks", pos("ru", "sanctions", "demands")),
		event("old-statement", "statement", pos("ua", "elections", "open")))
	for i := range 3 {
		postEvents(t, r.HTTPURL, event(fmt.Sprintf("newer-talks-%d", i), "talks", pos("e3", "ceasefire", "demands")))
	}
	time.Sleep(10 * time.Millisecond) // recorded times are the stream's, in ms or finer
	title := "Old talks, corrected"
	corr := event("old-talks-fix", "correction")
	corr.Corrects, corr.Amend = "old-talks", &events.Amend{Title: &title}
	retr := event("old-talks-2-withdrawn", "retraction")
	retr.Corrects = "old-talks-2"
	other := event("old-statement-fix", "correction")
	other.Corrects, other.Amend = "old-statement", &events.Amend{Title: &title}
	seqs := postEvents(t, r.HTTPURL, corr, retr, other)
	waitApplied(t, r, seqs[len(seqs)-1])

	const q = "?type=talks&limit=3"
	doc := atom(t, r.HTTPURL+"/v1/feed.atom"+q)
	var ids []string
	for _, e := range doc.Entries {
		ids = append(ids, e.ID[strings.LastIndex(e.ID, ":")+1:])
	}
	if want := []string{"old-talks-2", "old-talks", "newer-talks-2"}; !slices.Equal(ids, want) {
		t.Fatalf("%s: entries %v, want %v: the amended talks first, and no other type", q, ids, want)
	}
	if e := doc.entry("old-talks"); e.Title != title || !strings.Contains(e.Content.Body, "old-talks-fix") {
		t.Errorf("corrected entry: %+v", e)
	}
	if e := doc.entry("old-talks-2"); !strings.HasPrefix(e.Title, "[Retracted]") {
		t.Errorf("retracted entry: %+v", e)
	}
	j := jsonFeed(t, r.HTTPURL+"/v1/feed.json"+q)
	if len(j.Items) != 3 || j.Items[1].Parley.Event.ID != "old-talks" || j.Items[1].DateModified == "" || j.Items[1].Title != title {
		t.Errorf("%s: JSON Feed items %+v", q, j.Items)
	}
	// The corrections themselves are still what type=correction follows.
	if c := jsonFeed(t, r.HTTPURL+"/v1/feed.json?type=correction"); len(c.Items) != 2 {
		t.Errorf("type=correction: %d items, want the 2 corrected events", len(c.Items))
	}
}
