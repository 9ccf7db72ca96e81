package procstat

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemoryRoom(t *testing.T) {
	const meminfo = "MemTotal:       24683956 kB\nMemFree:        16533048 kB\nMemAvailable:    8000000 kB\n"
	for _, c := range []struct {
		name  string
		files map[string]string
		room  int64
		ok    bool
	}{
		{"no /proc", map[string]string{}, 0, false},
		{"no control group", map[string]string{"proc/meminfo": meminfo}, 8_192_000_000, true},
		{"cgroup v2 without a limit", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "0::/pod\n",
			"sys/fs/cgroup/pod/memory.max": "max\n", "sys/fs/cgroup/pod/memory.stat": "anon 100\nfile 5000\n",
		}, 8_192_000_000, true},
		{"cgroup v2 with a limit", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "0::/pod\n",
			"sys/fs/cgroup/pod/memory.max": "2147483648\n", "sys/fs/cgroup/pod/memory.stat": "anon 536870912\nfile 1073741824\n",
		}, 1_610_612_736, true},
		{"cgroup v2 seen from inside a container", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "0::/kubepods/pod1/c1\n",
			"sys/fs/cgroup/memory.max": "1073741824\n", "sys/fs/cgroup/memory.stat": "anon 73741824\n",
		}, 1_000_000_000, true},
		{"cgroup v1 with a limit", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "5:devices:/\n4:memory:/job\n0::/\n",
			"sys/fs/cgroup/memory/job/memory.limit_in_bytes": "1073741824\n", "sys/fs/cgroup/memory/job/memory.stat": "cache 5000\nrss 73741824\n",
		}, 1_000_000_000, true},
		{"cgroup v1 without a limit", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "4:memory:/job\n",
			"sys/fs/cgroup/memory/job/memory.limit_in_bytes": "9223372036854771712\n", "sys/fs/cgroup/memory/job/memory.stat": "rss 1\n",
		}, 8_192_000_000, true},
		{"a group using more than its limit", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "0::/\n",
			"sys/fs/cgroup/memory.max": "1000\n", "sys/fs/cgroup/memory.stat": "anon 2000\n",
		}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for name, text := range c.files {
				path := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			room, ok := memoryRoom(root)
			if room != c.room || ok != c.ok {
				t.Errorf("room %d, %v; want %d, %v", room, ok, c.room, c.ok)
			}
		})
	}
}
