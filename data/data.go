// Package data holds what Parley ships besides code: the vocabulary of
// parties, issues, event types and stances, and the seed timeline curated
// from the November 2025 articles in shared/seeds.
package data

import (
	"embed"
	"io/fs"
	"sort"

	"github.com/parley-news/parley/internal/events"
)

//go:embed vocabulary.yaml timeline/*.yaml
var files embed.FS

// Vocabulary returns the shipped vocabulary.
func Vocabulary() *events.Vocabulary {
	b, err := files.ReadFile("vocabulary.yaml")
	if err != nil {
		panic(err) // embedded at build time
	}
	v, err := events.ParseVocabulary(b)
	if err != nil {
		panic("shipped vocabulary: " + err.Error())
	}
	return v
}

// Timeline returns the seed timeline's files, in the order they are
// ingested (by name), and the file system that holds them.
func Timeline() (fs.FS, []string) {
	names, err := fs.Glob(files, "timeline/*.yaml")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	return files, names
}
