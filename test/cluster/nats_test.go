//go:build cluster

package cluster_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/stream"
)

// natsCluster is three nats-server processes clustered on 127.0.0.1 with
// the accounts of deploy/nats/accounts.conf, TLS for clients and routes,
// and JetStream syncing every write, as deploy/ runs them.
type natsCluster struct {
	t         *testing.T
	bin       string
	dir       string
	ca        string
	passwords map[string]string // user -> password
	nodes     []*natsNode
}

type natsNode struct {
	name      string
	port      int
	routePort int
	conf      string
	p         *proc
}

// startCluster starts a three-node cluster and waits until JetStream has a
// meta leader.
func startCluster(t *testing.T, bin, dir string) *natsCluster {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := &natsCluster{t: t, bin: bin, dir: dir, passwords: map[string]string{}}
	for _, user := range []string{"ingest", "projector", "admin", "sys"} {
		c.passwords[user] = randomHex(t)
	}
	certs := writeCerts(t, dir)
	c.ca = certs.ca
	accounts, err := os.ReadFile(filepath.Join(root, "deploy", "nats", "accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts.conf"), accounts, 0o644); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 6)
	for i := range 3 {
		c.nodes = append(c.nodes, &natsNode{name: fmt.Sprintf("n%d", i+1), port: ports[2*i], routePort: ports[2*i+1]})
	}
	var routes []string
	for _, n := range c.nodes {
		routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("tls://127.0.0.1:%d", n.routePort)))
	}
	for _, n := range c.nodes {
		n.conf = filepath.Join(dir, n.name+".conf")
		conf := fmt.Sprintf(`server_name: %s
listen: "127.0.0.1:%d"
jetstream {
  store_dir: %q
  sync_interval: always
  max_memory_store: 64MB
  max_file_store: 8GB
}
tls {
  cert_file: %q
  key_file: %q
  ca_file: %q
  timeout: 5
}
cluster {
  name: parley
  listen: "127.0.0.1:%d"
  routes: [%s]
  tls {
    cert_file: %q
    key_file: %q
    ca_file: %q
    verify: true
    timeout: 5
  }
}
include ./accounts.conf
`, n.name, n.port, filepath.Join(dir, n.name, "jetstream"), certs.cert, certs.key, certs.ca,
			n.routePort, strings.Join(routes, ", "), certs.cert, certs.key, certs.ca)
		if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.nodes {
		c.start(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := c.adminJS(t)
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("JetStream not available on the cluster within 60s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return c
}

func (c *natsCluster) env() []string {
	var env []string
	for user, pw := range c.passwords {
		env = append(env, "PARLEY_"+strings.ToUpper(user)+"_PASSWORD="+pw)
	}
	return env
}

// start starts node i (again, after a kill) on its own store and waits
// until it accepts connections.
func (c *natsCluster) start(i int) {
	t := c.t
	t.Helper()
	n := c.nodes[i]
	n.p = start(t, c.dir, n.name, c.env(), c.bin, "-c", n.conf)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.port), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if n.p.exited() || time.Now().After(deadline) {
			t.Fatalf("nats %s not listening on %d: %v\n%s", n.name, n.port, err, n.p.tail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill kills node i with SIGKILL: no goodbye to the cluster, no flush.
func (c *natsCluster) kill(i int) { c.nodes[i].p.kill() }

// index is the position of the node named name, or -1.
func (c *natsCluster) index(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// logTime reads the time a nats-server log line was written, as in
// "[123] 2026/11/24 00:04:30.514797 [INF] ...".
func logTime(line string) (time.Time, bool) {
	_, rest, ok := strings.Cut(line, "] ")
	if !ok || len(rest) < 26 {
		return time.Time{}, false
	}
	at, err := time.ParseInLocation("2006/01/02 15:04:05.000000", rest[:26], time.Local)
	return at, err == nil
}

// waitLog waits until a running node logs a line containing substr
// written after since, and returns the node and when it wrote it.
func (c *natsCluster) waitLog(ctx context.Context, since time.Time, substr string) (string, time.Time, error) {
	for {
		for _, n := range c.nodes {
			if n.p.exited() {
				continue
			}
			for _, l := range n.p.output() {
				if at, ok := logTime(l); ok && at.After(since) && strings.Contains(l, substr) {
					return n.name, at, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", time.Time{}, fmt.Errorf("no node logged %q: %w", substr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URLs is the list of client URLs with the user's credentials, as the
// services' -nats flag takes it.
func (c *natsCluster) URLs(user string) string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, fmt.Sprintf("tls://%s:%s@127.0.0.1:%d", user, c.passwords[user], n.port))
	}
	return strings.Join(urls, ",")
}

// adminJS is a JetStream context of the admin user, closed at the test's end.
func (c *natsCluster) adminJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.URLs("admin"), nats.RootCAs(c.ca), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.Name("cluster-test"))
	if err != nil {
		t.Fatalf("admin connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamInfo is the stream's info, retried through elections.
func streamInfo(ctx context.Context, js jetstream.JetStream) (*jetstream.StreamInfo, error) {
	for {
		// Each try has a timeout of its own: a request sent just before its
		// server died is never answered, and ctx may be long.
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := js.Stream(tctx, stream.DefaultStreamName)
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(tctx); err == nil {
				cancel()
				return info, nil
			}
		}
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stream info: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leader is the server name of the stream's leader, waiting for one.
func leader(ctx context.Context, js jetstream.JetStream, not string) (string, error) {
	for {
		info, err := streamInfo(ctx, js)
		if err != nil {
			return "", err
		}
		if l := info.Cluster.Leader; l != "" && l != not {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no stream leader but %q: %w", not, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitCurrent waits until every replica of the stream is current.
func waitCurrent(ctx context.Context, js jetstream.JetStream) (*jetstream.StreamInfo, error) {
	for {
		info, err := streamInfo(ctx, js)
		if err != nil {
			return nil, err
		}
		ok := info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2
		for _, r := range info.Cluster.Replicas {
			ok = ok && r.Current && !r.Offline && r.Lag == 0
		}
		if ok {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("replicas not current: %+v: %w", info.Cluster, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func randomHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

type certFiles struct{ ca, cert, key string }

// writeCerts makes a CA and one certificate for 127.0.0.1 that the nodes
// use both to serve clients and, verified both ways, on their routes.
func writeCerts(t *testing.T, dir string) certFiles {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "parley test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "nats"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := certFiles{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "nats.pem"), key: filepath.Join(dir, "nats-key.pem")}
	for path, block := range map[string]*pem.Block{
		f.ca:   {Type: "CERTIFICATE", Bytes: caDER},
		f.cert: {Type: "CERTIFICATE", Bytes: der},
		f.key:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}
