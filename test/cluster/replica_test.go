//go:build cluster

package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-news/parley/internal/bolt"
	"github.com/parley-news/parley/internal/projector"
)

// replica is one projector process with its own data folder.
type replica struct {
	name, dir, url string
	p              *proc
}

// startReplica starts the projector binary on the cluster with its read
// model in root/name, and waits until it serves.
func startReplica(t *testing.T, bins binaries, c *natsCluster, root, name string) *replica {
	t.Helper()
	r := &replica{name: name, dir: filepath.Join(root, name)}
	// The folder exists, as a volume mounted for the replica does.
	if err := os.MkdirAll(r.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	r.p = start(t, root, name, nil, bins.Projector, "-data", r.dir, "-http", "127.0.0.1:0",
		"-nats", c.URLs("projector"), "-tls-ca", c.ca)
	line := r.p.waitLine(t, "Parley is serving on ", 2*time.Minute)
	r.url, _, _ = strings.Cut(line[strings.Index(line, "http://"):], "/ ")
	return r
}

// applied is the replica's checkpoint as /readyz reports it.
func (r *replica) applied(ctx context.Context) (uint64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Applied uint64 `json:"applied"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("readyz: %w", err)
	}
	return body.Applied, nil
}

// waitApplied waits until the replica has applied the stream up to seq.
func (r *replica) waitApplied(t *testing.T, ctx context.Context, seq uint64) {
	t.Helper()
	for {
		a, err := r.applied(ctx)
		if err == nil && a >= seq {
			return
		}
		if r.p.exited() {
			t.Fatalf("%s exited (%v) at applied %d of %d", r.name, r.p.err, a, seq)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s applied %d of %d when time ran out (last error %v)", r.name, a, seq, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dump is the canonical dump of the read model in dir (every projection
// bucket in key order), read from the file after its projector stopped:
// written to a file beside the test's logs, with its hash and size.
type dump struct {
	path string
	sum  [32]byte
	size int64
}

func readDump(t *testing.T, dir, out string) dump {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriter(io.MultiWriter(f, h))
	if err := bolt.DumpFile(filepath.Join(dir, projector.ModelFile), w); err != nil {
		t.Fatalf("dump %s: %v", dir, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	d := dump{path: out}
	copy(d.sum[:], h.Sum(nil))
	if fi, err := f.Stat(); err == nil {
		d.size = fi.Size()
	}
	return d
}

// firstDifference is the first line where two dumps differ.
func firstDifference(a, b dump) string {
	fa, err := os.Open(a.path)
	if err != nil {
		return err.Error()
	}
	defer fa.Close()
	fb, err := os.Open(b.path)
	if err != nil {
		return err.Error()
	}
	defer fb.Close()
	sa, sb := bufio.NewScanner(fa), bufio.NewScanner(fb)
	sa.Buffer(nil, 64<<20)
	sb.Buffer(nil, 64<<20)
	for line := 1; ; line++ {
		oka, okb := sa.Scan(), sb.Scan()
		if !oka || !okb {
			return fmt.Sprintf("line %d: one dump ends (%s: %v, %s: %v)", line, a.path, oka, b.path, okb)
		}
		if !bytes.Equal(sa.Bytes(), sb.Bytes()) {
			return fmt.Sprintf("line %d:\n  %.200s\n  %.200s", line, sa.Text(), sb.Text())
		}
	}
}
