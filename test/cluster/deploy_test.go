//go:build cluster

package cluster_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"
)

// TestClusterDeployFiles checks the files in deploy/: the NATS configs
// parse, and the server accepts them as a three-node cluster that syncs
// every write, with TLS and the services' users; compose.yaml, the
// Kubernetes manifests and the Helm values parse and hold what the
// services need (three NATS nodes, the projector with a volume per
// replica and readiness on /readyz); the Dockerfile builds static binaries.
func TestClusterDeployFiles(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	deploy := filepath.Join(root, "deploy")
	for _, v := range []string{"INGEST", "PROJECTOR", "ADMIN", "SYS"} {
		t.Setenv("PARLEY_"+v+"_PASSWORD", "test-"+strings.ToLower(v))
	}
	t.Run("NATSConfigs", func(t *testing.T) { checkNATSConfigs(t, deploy) })
	t.Run("Compose", func(t *testing.T) { checkCompose(t, deploy) })
	t.Run("Kubernetes", func(t *testing.T) { checkKubernetes(t, deploy) })
	t.Run("Dockerfile", func(t *testing.T) { checkDockerfile(t, deploy) })
}

func checkNATSConfigs(t *testing.T, deploy string) {
	var routes [][]string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		path := filepath.Join(deploy, "nats", name+".conf")
		m, err := conf.ParseFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m["server_name"] != name {
			t.Errorf("%s: server_name %v, want %s", path, m["server_name"], name)
		}
		js := mapAt(t, m, "jetstream")
		if js["sync_interval"] != "always" {
			t.Errorf("%s: jetstream.sync_interval %v, want always", path, js["sync_interval"])
		}
		if js["store_dir"] == nil {
			t.Errorf("%s: no jetstream.store_dir", path)
		}
		cl := mapAt(t, m, "cluster")
		var rs []string
		for _, r := range cl["routes"].([]any) {
			rs = append(rs, r.(string))
		}
		routes = append(routes, rs)
		if tl := mapAt(t, cl, "tls"); tl["verify"] != true {
			t.Errorf("%s: routes do not verify each other's certificates", path)
		}
		if mapAt(t, m, "tls")["cert_file"] == nil {
			t.Errorf("%s: clients are not served over TLS", path)
		}
		if acc := mapAt(t, mapAt(t, m, "accounts"), "PARLEY"); acc["jetstream"] != "enabled" {
			t.Errorf("%s: account PARLEY has no JetStream", path)
		}
	}
	want := []string{"tls://nats-1:6222", "tls://nats-2:6222", "tls://nats-3:6222"}
	for i, rs := range routes {
		if !slices.Equal(rs, want) {
			t.Errorf("nats-%d routes %v, want %v", i+1, rs, want)
		}
	}

	// The server's own reading: every key known, three routes, fsync
	// always, routes verified both ways, and the users' permissions.
	dir := t.TempDir()
	certs := writeCerts(t, dir)
	for _, f := range []string{"nats-1.conf", "common.conf", "accounts.conf"} {
		b, err := os.ReadFile(filepath.Join(deploy, "nats", f))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/etc/nats-tls/nats.pem"), []byte(certs.cert))
		b = bytes.ReplaceAll(b, []byte("/etc/nats-tls/nats-key.pem"), []byte(certs.key))
		b = bytes.ReplaceAll(b, []byte("/etc/nats-tls/ca.pem"), []byte(certs.ca))
		b = bytes.ReplaceAll(b, []byte("store_dir: /data"), []byte("store_dir: "+filepath.Join(dir, "js")))
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats-1.conf"))
	if err != nil {
		t.Fatalf("nats-server refuses deploy/nats/nats-1.conf: %v", err)
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("JetStream %v, sync always %v; want both", opts.JetStream, opts.SyncAlways)
	}
	if len(opts.Routes) != 3 || opts.Cluster.Name != "parley" {
		t.Errorf("cluster %q with %d routes, want parley with 3", opts.Cluster.Name, len(opts.Routes))
	}
	if opts.TLSConfig == nil || opts.Cluster.TLSConfig == nil || opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("TLS for clients %v, routes verified both ways %v", opts.TLSConfig != nil, opts.Cluster.TLSConfig != nil && opts.Cluster.TLSConfig.ClientAuth == tls.RequireAndVerifyClientCert)
	}
	perms := map[string]*server.Permissions{}
	for _, u := range opts.Users {
		if u.Account == nil || u.Account.Name != "PARLEY" {
			continue
		}
		perms[u.Username] = u.Permissions
	}
	for user, rules := range map[string]struct{ may, mayNot []string }{
		"ingest": {
			may:    []string{"parley.events.us-plan-leaked", "$JS.API.STREAM.INFO.PARLEY", "$JS.API.STREAM.CREATE.PARLEY", "$JS.API.STREAM.MSG.GET.PARLEY"},
			mayNot: []string{"$JS.API.STREAM.UPDATE.PARLEY", "$JS.API.STREAM.DELETE.PARLEY", "$JS.API.STREAM.PURGE.PARLEY", "$JS.API.CONSUMER.CREATE.PARLEY.x.parley.events.>", "$KV.PARLEY_ALERTS.sub.x"},
		},
		"projector": {
			may:    []string{"$JS.API.STREAM.INFO.PARLEY", "$JS.API.CONSUMER.CREATE.PARLEY.x.parley.events.>", "$JS.API.CONSUMER.MSG.NEXT.PARLEY.x"},
			mayNot: []string{"parley.events.us-plan-leaked", "$JS.API.STREAM.UPDATE.PARLEY", "$JS.API.STREAM.DELETE.PARLEY", "$JS.API.STREAM.PURGE.PARLEY", "$JS.API.STREAM.MSG.DELETE.PARLEY", "$JS.API.STREAM.DELETE.PARLEY_DELIVERIES"},
		},
	} {
		p := perms[user]
		if p == nil || p.Publish == nil {
			t.Errorf("user %s has no publish permissions: it may do anything", user)
			continue
		}
		for _, s := range rules.may {
			if !allowed(p.Publish, s) {
				t.Errorf("user %s may not publish to %s", user, s)
			}
		}
		for _, s := range rules.mayNot {
			if allowed(p.Publish, s) {
				t.Errorf("user %s may publish to %s", user, s)
			}
		}
		if p.Subscribe == nil || !slices.Equal(p.Subscribe.Allow, []string{"_INBOX.>"}) {
			t.Errorf("user %s may subscribe to %v, want _INBOX.> only", user, p.Subscribe)
		}
	}
}

// allowed says whether a subject is allowed by a permission's allow list
// (the configs use allow lists only).
func allowed(p *server.SubjectPermission, subject string) bool {
	if len(p.Deny) > 0 {
		panic("deny lists are not checked here")
	}
	for _, a := range p.Allow {
		if server.SubjectMatchesFilter(subject, a) {
			return true
		}
	}
	return false
}

func checkCompose(t *testing.T, deploy string) {
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			StopSignal  string            `yaml:"stop_signal"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Build       struct {
				Target string `yaml:"target"`
			} `yaml:"build"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	decodeYAML(t, filepath.Join(deploy, "compose.yaml"), &c)
	nats := 0
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("compose: no service %s", name)
			continue
		}
		nats++
		if !slices.Equal(s.Command, []string{"-c", "/etc/nats/" + name + ".conf"}) {
			t.Errorf("compose: %s runs %v", name, s.Command)
		}
		// nats-server shuts down at once on SIGTERM, what compose sends;
		// SIGUSR2 is its lame duck mode, which moves clients and stream
		// leaders off first (the Helm chart sends it from a preStop hook).
		if s.StopSignal != "SIGUSR2" {
			t.Errorf("compose: %s is stopped with %q, want SIGUSR2 (lame duck mode)", name, s.StopSignal)
		}
		if !slices.Contains(s.Volumes, name+":/data") {
			t.Errorf("compose: %s has no volume of its own on /data: %v", name, s.Volumes)
		}
	}
	// The URLs carry the service's password: in the environment, never in
	// the command, which every user of the host reads in ps.
	natsURLs := func(name string, cmd []string, env map[string]string) {
		for _, a := range cmd {
			if strings.Contains(a, "PASSWORD") || strings.HasPrefix(a, "-nats") {
				t.Errorf("compose: %s has the NATS URLs (and so a password) in its command: %q", name, a)
			}
		}
		v, ok := env["PARLEY_NATS_URL"]
		if !ok {
			t.Errorf("compose: %s is given no PARLEY_NATS_URL", name)
			return
		}
		if n := len(strings.Split(v, ",")); n != 3 {
			t.Errorf("compose: %s is given %d NATS URLs, want the 3 nodes", name, n)
		}
		if env["PARLEY_API_TOKEN"] == "" || env["PARLEY_NATS_CA"] == "" {
			t.Errorf("compose: %s lost the shared environment: %v", name, env)
		}
	}
	ing, ok := c.Services["ingest"]
	if !ok || ing.Build.Target != "ingest" || len(ing.Command) == 0 || ing.Command[0] != "serve" {
		t.Errorf("compose: ingest service %+v, want target ingest running serve", ing)
	}
	natsURLs("ingest", ing.Command, ing.Environment)
	vols := map[string]bool{}
	for _, name := range []string{"projector-1", "projector-2"} {
		p, ok := c.Services[name]
		if !ok || p.Build.Target != "projector" {
			t.Errorf("compose: no projector service %s", name)
			continue
		}
		natsURLs(name, p.Command, p.Environment)
		for _, v := range p.Volumes {
			if vol, ok := strings.CutSuffix(v, ":/data"); ok {
				vols[vol] = true
			}
		}
	}
	if len(vols) != 2 {
		t.Errorf("compose: the two projectors have data volumes %v, want one each", vols)
	}
}

// k8sObject is what the checks read of a Kubernetes object.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas             int        `yaml:"replicas"`
		VolumeClaimTemplates []k8sClaim `yaml:"volumeClaimTemplates"`
		Template             struct {
			Spec struct {
				Containers []struct {
					Args           []string `yaml:"args"`
					ReadinessProbe *struct {
						HTTPGet struct {
							Path string `yaml:"path"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sClaim struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

func checkKubernetes(t *testing.T, deploy string) {
	objs := map[string]k8sObject{}
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	decodeYAML(t, filepath.Join(deploy, "k8s", "kustomization.yaml"), &kust)
	for _, f := range kust.Resources {
		fh, err := os.Open(filepath.Join(deploy, "k8s", f))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(fh)
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			objs[o.Kind+"/"+o.Metadata.Name] = o
		}
		fh.Close()
	}
	p, ok := objs["StatefulSet/parley-projector"]
	if !ok {
		t.Fatalf("no StatefulSet parley-projector in %v", keys(objs))
	}
	if p.Spec.Replicas < 2 {
		t.Errorf("projector StatefulSet has %d replicas, want several", p.Spec.Replicas)
	}
	if len(p.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("projector StatefulSet has %d volume claim templates, want one: a volume per replica", len(p.Spec.VolumeClaimTemplates))
	}
	claim := p.Spec.VolumeClaimTemplates[0].Metadata.Name
	ct := p.Spec.Template.Spec.Containers[0]
	if ct.ReadinessProbe == nil || ct.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("projector readiness probe %+v, want GET /readyz", ct.ReadinessProbe)
	}
	mounted := false
	for _, m := range ct.VolumeMounts {
		mounted = mounted || (m.Name == claim && m.MountPath == "/data")
	}
	if !mounted || !slices.Contains(ct.Args, "-data=/data") {
		t.Errorf("projector's read model is not on its claim %q at /data: args %v, mounts %+v", claim, ct.Args, ct.VolumeMounts)
	}
	// As in compose: the URLs carry the password, and Kubernetes expands
	// $(VAR) in args into the process's command line, which every user of
	// the node reads in ps. The binaries take PARLEY_NATS_URL themselves.
	for _, name := range []string{"StatefulSet/parley-projector", "Deployment/parley-ingest"} {
		for _, c := range objs[name].Spec.Template.Spec.Containers {
			for _, a := range c.Args {
				if strings.Contains(a, "$(") || strings.HasPrefix(a, "-nats") {
					t.Errorf("k8s: %s has the NATS URLs (and so a password) in its args: %q", name, a)
				}
			}
		}
	}
	if ing, ok := objs["Deployment/parley-ingest"]; !ok {
		t.Errorf("no Deployment parley-ingest in %v", keys(objs))
	} else if ct := ing.Spec.Template.Spec.Containers[0]; ct.ReadinessProbe == nil || ct.ReadinessProbe.HTTPGet.Path != "/readyz" {
		// /healthz answers while NATS is away; /readyz does not.
		t.Errorf("ingest readiness probe %+v, want GET /readyz", ct.ReadinessProbe)
	}

	var v struct {
		Config struct {
			Cluster struct {
				Enabled  bool `yaml:"enabled"`
				Replicas int  `yaml:"replicas"`
				TLS      struct {
					Enabled bool `yaml:"enabled"`
				} `yaml:"tls"`
			} `yaml:"cluster"`
			NATS struct {
				TLS struct {
					Enabled bool `yaml:"enabled"`
				} `yaml:"tls"`
			} `yaml:"nats"`
			JetStream struct {
				Enabled   bool `yaml:"enabled"`
				FileStore struct {
					Enabled bool `yaml:"enabled"`
				} `yaml:"fileStore"`
				Merge map[string]any `yaml:"merge"`
			} `yaml:"jetstream"`
			Merge map[string]any `yaml:"merge"`
		} `yaml:"config"`
	}
	decodeYAML(t, filepath.Join(deploy, "k8s", "nats-values.yaml"), &v)
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 || !c.Cluster.TLS.Enabled || !c.NATS.TLS.Enabled {
		t.Errorf("helm values: cluster %+v, client TLS %v; want 3 nodes with TLS", c.Cluster, c.NATS.TLS.Enabled)
	}
	if !c.JetStream.Enabled || !c.JetStream.FileStore.Enabled || c.JetStream.Merge["sync_interval"] != "always" {
		t.Errorf("helm values: jetstream %+v, want file storage and sync_interval always", c.JetStream)
	}
	if c.Merge["00$include"] != "accounts.conf" {
		t.Errorf("helm values do not include accounts.conf: %v", c.Merge)
	}
}

func checkDockerfile(t *testing.T, deploy string) {
	b, err := os.ReadFile(filepath.Join(deploy, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/ingest", "./cmd/projector", " AS build", " AS ingest", " AS projector"} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile has no %q", want)
		}
	}
	if n := strings.Count(s, "\nFROM "); n < 3 {
		t.Errorf("Dockerfile has %d stages, want a build stage and one per binary", n)
	}
}

func decodeYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mapAt(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("no %s block", key)
	}
	return v
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
