package main

import (
	"flag"
	"io"
	"slices"
	"testing"

	"github.com/parley-news/parley/internal/service"
)

// TestParseInterspersed: flags count wherever they are among the files,
// so a flag typed after a file is never taken for a file name (and the
// file appended before the flag's refusal); "-" and what follows "--"
// are files.
func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args  []string
		files []string
		check bool
		nats  string
	}{
		{[]string{"a.yaml", "-check"}, []string{"a.yaml"}, true, ""},
		{[]string{"-check", "a.yaml", "b.ndjson"}, []string{"a.yaml", "b.ndjson"}, true, ""},
		{[]string{"a.yaml", "-nats", "nats://127.0.0.1:5222", "b.yaml"}, []string{"a.yaml", "b.yaml"}, false, "nats://127.0.0.1:5222"},
		{[]string{"-", "-check"}, []string{"-"}, true, ""},
		{[]string{"a.yaml", "--", "-check"}, []string{"a.yaml", "-check"}, false, ""},
		{[]string{}, nil, false, ""},
	} {
		fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		check := fs.Bool("check", false, "")
		nats := fs.String("nats", "", "")
		files := parseInterspersed(fs, c.args)
		if !slices.Equal(files, c.files) || *check != c.check || *nats != c.nats {
			t.Errorf("%q: files %q, check %v, nats %q; want %q, %v, %q", c.args, files, *check, *nats, c.files, c.check, c.nats)
		}
	}
}

// TestEachModeItsOwnFlags: "ingest serve -check" is refused rather than
// served (appending what is posted), and "ingest -http ADDR FILE"
// rather than the address ignored.
func TestEachModeItsOwnFlags(t *testing.T) {
	for _, c := range []struct {
		serve     bool
		have, not []string
	}{
		{false, []string{"nats", "creds", "tls-ca", "source", "vocabulary", "check"}, []string{"http", "api-token", "max-body"}},
		{true, []string{"nats", "creds", "tls-ca", "source", "vocabulary", "http", "api-token", "max-body"}, []string{"check"}},
	} {
		fs := flags(c.serve, &service.IngestConfig{})
		for _, name := range c.have {
			if fs.Lookup(name) == nil {
				t.Errorf("%s: no -%s", fs.Name(), name)
			}
		}
		for _, name := range c.not {
			if fs.Lookup(name) != nil {
				t.Errorf("%s takes -%s, which it would ignore", fs.Name(), name)
			}
		}
	}
}
