//go:build cluster

package cluster_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// binaries are the programs the tests run, built once per test binary.
type binaries struct {
	NATSServer, Ingest, Projector string
}

var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// build builds nats-server at the version go.mod pins and the project's
// own commands, as a user would run them.
func build(t *testing.T) binaries {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "parley-cluster-bin-"); err != nil {
			buildErr = err
			return
		}
		built = binaries{
			NATSServer: filepath.Join(buildDir, "nats-server"),
			Ingest:     filepath.Join(buildDir, "ingest"),
			Projector:  filepath.Join(buildDir, "projector"),
		}
		for _, args := range [][]string{
			{"build", "-o", built.NATSServer, "github.com/nats-io/nats-server/v2"},
			{"build", "-o", buildDir + string(filepath.Separator), "./cmd/ingest", "./cmd/projector"},
		} {
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = &buildError{args: args, out: out, err: err}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

type buildError struct {
	args []string
	out  []byte
	err  error
}

func (e *buildError) Error() string {
	return "go " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + string(e.out)
}

// moduleRoot is the folder of go.mod, which holds deploy/ and cmd/.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(string(bytes.TrimSpace(out))), nil
}

// testDir is the test's folder: t.TempDir(), or with PARLEY_CLUSTER_KEEP=1
// a folder that stays after the test, with the logs and the stores.
func testDir(t *testing.T) string {
	if os.Getenv("PARLEY_CLUSTER_KEEP") == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "parley-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keeping %s", dir)
	return dir
}

// eventCount is how many events the node-loss test ingests.
func eventCount(t *testing.T) int {
	s := os.Getenv("PARLEY_CLUSTER_EVENTS")
	if s == "" {
		return 100_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1000 || n > 1_000_000 {
		t.Fatalf("PARLEY_CLUSTER_EVENTS=%q: want a number from 1000 to 1000000", s)
	}
	return n
}
