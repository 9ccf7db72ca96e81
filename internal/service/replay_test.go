package service_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-news/parley/data"
	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/projector"
	"github.com/parley-news/parley/internal/service"
)

// seededAndStopped runs the projector with the seed until it has applied
// it, stops it, and returns the configuration of its data folder: a read
// model for the replay commands, which read the file alone.
func seededAndStopped(t *testing.T) service.Config {
	t.Helper()
	dir := t.TempDir()
	r := start(t, dir, true)
	waitReady(t, r)
	r.Close()
	return service.Config{DataDir: dir}
}

// TestReplayCommands answers state, history and diff from the read model
// file alone, after the projector stopped.
func TestReplayCommands(t *testing.T) {
	c := seededAndStopped(t)
	run := func(what string, q service.ReplayQuery) string {
		t.Helper()
		var out bytes.Buffer
		if err := service.Replay(context.Background(), c, what, q, &out); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return out.String()
	}
	tests := []struct {
		what string
		q    service.ReplayQuery
		want []string
	}{
		{"state", service.ReplayQuery{}, []string{"ISSUE", "army-cap", "proposes 600,000", "proposes 800,000"}},
		{"state", service.ReplayQuery{At: "2025-11-21"}, []string{"army-cap", "proposes 600,000"}},
		{"history", service.ReplayQuery{Issue: "army-cap"}, []string{"OCCURRED", "2025-11-20", "us", "e3", "proposes 800,000"}},
		{"diff", service.ReplayQuery{From: "2025-11-21", To: "2025-11-25"}, []string{"ISSUE", "army-cap", "e3", "-", "proposes 800,000"}},
		// from starts at the beginning of its day: the leak of the 20th counts.
		{"diff", service.ReplayQuery{From: "2025-11-20", To: "2025-11-20"}, []string{"army-cap", "us", "proposes 600,000"}},
	}
	for _, tt := range tests {
		out := run(tt.what, tt.q)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s %+v: no %q in\n%s", tt.what, tt.q, w, out)
			}
		}
	}
	if out := run("state", service.ReplayQuery{At: "2025-11-21"}); strings.Contains(out, "800,000") {
		t.Errorf("E3's cap shows before it was tabled:\n%s", out)
	}
	var st struct {
		Issues []struct{ Issue string } `json:"issues"`
	}
	if err := json.Unmarshal([]byte(run("state", service.ReplayQuery{JSON: true})), &st); err != nil || len(st.Issues) < 12 {
		t.Errorf("state -json: %v, %d issues", err, len(st.Issues))
	}
	// In the vocabulary's order, as the API answers.
	rank := map[string]int{}
	for i, is := range data.Vocabulary().Issues {
		rank[is.ID] = i
	}
	for i := 1; i < len(st.Issues); i++ {
		if rank[st.Issues[i-1].Issue] > rank[st.Issues[i].Issue] {
			t.Errorf("state -json lists %s before %s", st.Issues[i-1].Issue, st.Issues[i].Issue)
		}
	}
	var out bytes.Buffer
	for _, bad := range []struct {
		what string
		q    service.ReplayQuery
		want string
	}{
		{"state", service.ReplayQuery{At: "soon"}, `-at "soon"`},
		{"history", service.ReplayQuery{}, "history needs -issue"},
		{"history", service.ReplayQuery{Issue: "atlantis"}, `-issue "atlantis": not in`},
		{"diff", service.ReplayQuery{From: "2025-11-20"}, "diff needs -from and -to"},
		{"diff", service.ReplayQuery{From: "2025-11-20", To: "2025-13-01"}, `-to "2025-13-01"`},
		{"state", service.ReplayQuery{KnownAt: "yesterday"}, `-known-at "yesterday"`},
		{"history", service.ReplayQuery{Issue: "army-cap", Party: "atlantis"}, `-party "atlantis": not in the shipped vocabulary (-vocabulary FILE or PARLEY_VOCABULARY gives your own)`},
		// Swapped, as the API refuses them: not a diff that runs backwards.
		{"diff", service.ReplayQuery{From: "2025-11-25", To: "2025-11-20"}, `-to "2025-11-20": before -from "2025-11-25"`},
	} {
		// A usage error, which the command exits 2 for.
		var usage *service.UsageError
		if err := service.Replay(context.Background(), c, bad.what, bad.q, &out); !errors.As(err, &usage) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %+v: %v, want a usage error saying %s", bad.what, bad.q, err, bad.want)
		}
	}
	// The projector stopped cleanly and sealed its file; reading it must
	// leave it so, or its next start would take it for damaged and rebuild.
	path := filepath.Join(c.DataDir, projector.ModelFile)
	if sealed, err := bolt.VerifyFile(context.Background(), path); !sealed || err != nil {
		t.Errorf("after the replay commands: sealed %v, %v", sealed, err)
	}
	// A sealed file whose bytes changed is not read.
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o600)
	if err := service.Replay(context.Background(), c, "state", service.ReplayQuery{}, &out); !errors.Is(err, bolt.ErrDamaged) {
		t.Errorf("state on a damaged file: %v, want %v", err, bolt.ErrDamaged)
	}
}

// TestReplayHistoryWholeAcrossPages: projector history prints every
// entry of a history longer than a page, which it has no cursor to ask
// the rest of.
func TestReplayHistoryWholeAcrossPages(t *testing.T) {
	c := seededAndStopped(t)
	defer func(n int) { *service.HistoryPage = n }(*service.HistoryPage)
	*service.HistoryPage = 2
	var out bytes.Buffer
	if err := service.Replay(context.Background(), c, "history", service.ReplayQuery{Issue: "army-cap", JSON: true}, &out); err != nil {
		t.Fatal(err)
	}
	var h struct {
		Entries    []struct{ Event string } `json:"entries"`
		NextCursor string                   `json:"next_cursor"`
	}
	// The seed's history of army-cap has 5 entries: 3 pages of 2.
	if err := json.Unmarshal(out.Bytes(), &h); err != nil || len(h.Entries) != 5 || h.NextCursor != "" {
		t.Errorf("history -json: %v, %d entries, next_cursor %q, want 5 and none:\n%.300s", err, len(h.Entries), h.NextCursor, out.Bytes())
	}
	out.Reset()
	if err := service.Replay(context.Background(), c, "history", service.ReplayQuery{Issue: "army-cap"}, &out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n2025-11-"); n != 5 {
		t.Errorf("history table has %d rows, want 5:\n%s", n, out.String())
	}
}

// TestReplayJSONIsTheAPIAnswer: projector state, history and diff -json
// give the API's answers (indented), read from the file alone.
func TestReplayJSONIsTheAPIAnswer(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, true)
	waitReady(t, r)
	queries := []struct {
		what, url string
		q         service.ReplayQuery
	}{
		{"state", "/v1/state?at=2025-11-21", service.ReplayQuery{At: "2025-11-21"}},
		{"state", "/v1/state?at=2025-11-24&known_at=2099-01-01", service.ReplayQuery{At: "2025-11-24", KnownAt: "2099-01-01"}},
		{"history", "/v1/issues/army-cap/history?limit=10000", service.ReplayQuery{Issue: "army-cap"}},
		{"diff", "/v1/diff?from=2025-11-20&to=2025-11-25", service.ReplayQuery{From: "2025-11-20", To: "2025-11-25"}},
	}
	api := make([][]byte, len(queries))
	for i, q := range queries {
		resp, err := http.Get(r.HTTPURL + q.url)
		if err != nil {
			t.Fatal(err)
		}
		api[i], _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", q.url, resp.StatusCode, api[i])
		}
	}
	r.Close()
	for i, q := range queries {
		q.q.JSON = true
		var out bytes.Buffer
		if err := service.Replay(context.Background(), service.Config{DataDir: dir}, q.what, q.q, &out); err != nil {
			t.Fatalf("%s: %v", q.what, err)
		}
		var a, b bytes.Buffer
		if err := json.Compact(&a, api[i]); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&b, out.Bytes()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s -json differs from %s:\n cli %.400s\n api %.400s", q.what, q.url, b.Bytes(), a.Bytes())
		}
	}
}

// TestDump: projector dump writes the canonical dump of the read model,
// and with -sum its checkpoint and the dump's SHA-256, the same for a
// read model rebuilt from the same stream, whose file differs.
func TestDump(t *testing.T) {
	c := seededAndStopped(t)
	dump := func(sum bool) string {
		t.Helper()
		var out bytes.Buffer
		if err := service.Dump(context.Background(), c, sum, &out); err != nil {
			t.Fatalf("dump: %v", err)
		}
		return out.String()
	}
	full, sum := dump(false), dump(true)
	if want := fmt.Sprintf("checkpoint 49 sha256 %x\n", sha256.Sum256([]byte(full))); sum != want {
		t.Errorf("dump -sum %q, want %q", sum, want)
	}
	if n := strings.Count("\n"+full, "\nevents "); n != 49 {
		t.Errorf("dump has %d lines of the events bucket, want one for each of the seed's 49: %.200q", n, full)
	}
	if _, err := service.Rebuild(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if again := dump(true); again != sum {
		t.Errorf("rebuilt: %q, incremental: %q", again, sum)
	}
}
