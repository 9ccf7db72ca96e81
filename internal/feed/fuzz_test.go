package feed

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-news/parley/internal/httpapi"
)

// FuzzLastEventID feeds arbitrary Last-Event-ID headers and
// last_event_id parameters to the resume point's parsing: never a panic;
// what is accepted is exactly a stream sequence, and what is refused names
// the field at fault.
func FuzzLastEventID(f *testing.F) {
	for _, s := range [][2]string{{"42", ""}, {"", "42"}, {" 7 ", ""}, {"-1", ""}, {"18446744073709551616", ""}, {"", "a&last_event_id=2"}, {"0x10", ""}, {"", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, header, query string) {
		p := params{httpapi.NewParams(url.Values{"last_event_id": []string{query}})}
		n, _, ok := p.lastEventID(header)
		given := strings.TrimSpace(header)
		if given == "" {
			given = query
		}
		switch {
		case ok && p.Err != nil:
			t.Fatalf("accepted %q and failed with %v", given, p.Err)
		case ok:
			if v, err := strconv.ParseUint(given, 10, 64); err != nil || v != n {
				t.Fatalf("accepted %q as %d", given, n)
			}
		case !ok && given != "" && (p.Err == nil || (p.Err.Param != "Last-Event-ID" && p.Err.Param != "last_event_id")):
			t.Fatalf("refused %q without naming the field: %v", given, p.Err)
		}
	})
}
