package procstat

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MemoryRoom is how much memory the kernel's page cache could still hold
// for this process without pressing on anything else: the system's
// available memory, or less, what the process's control group (a
// container's memory limit, cgroup v2 or v1) allows beyond the memory of
// its processes that is not page cache. ok is false where it cannot tell
// (no /proc: not Linux).
func MemoryRoom() (room int64, ok bool) { return memoryRoom("/") }

func memoryRoom(root string) (int64, bool) {
	room, ok := field(filepath.Join(root, "proc/meminfo"), "MemAvailable:")
	if !ok {
		return 0, false
	}
	room *= 1024 // kB
	if limit, used, ok := cgroupMemory(root); ok {
		room = min(room, max(limit-used, 0))
	}
	return room, true
}

// cgroupMemory is the process's control group's memory limit and its
// memory that is not page cache, when it has a limit.
func cgroupMemory(root string) (limit, used int64, ok bool) {
	f, err := os.Open(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id:controllers:path
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		v2 := parts[0] == "0" && parts[1] == ""
		v1 := false
		for _, c := range strings.Split(parts[1], ",") {
			v1 = v1 || c == "memory"
		}
		mount := "sys/fs/cgroup"
		if v1 {
			mount = "sys/fs/cgroup/memory"
		} else if !v2 {
			continue
		}
		// In a container the group is usually the root of what it sees
		// mounted, whatever path the host gives it.
		for _, dir := range []string{filepath.Join(root, mount, parts[2]), filepath.Join(root, mount)} {
			if limit, used, ok := groupMemory(dir, v1); ok {
				return limit, used, true
			}
		}
	}
	return 0, 0, false
}

func groupMemory(dir string, v1 bool) (limit, used int64, ok bool) {
	limitFile, statKey := "memory.max", "anon"
	if v1 {
		limitFile, statKey = "memory.limit_in_bytes", "rss"
	}
	b, err := os.ReadFile(filepath.Join(dir, limitFile))
	if err != nil {
		return 0, 0, false
	}
	limit, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	// "max" (v2), or v1's page-rounded largest int64: no limit.
	if err != nil || limit >= 1<<62 {
		return 0, 0, false
	}
	used, _ = field(filepath.Join(dir, "memory.stat"), statKey+" ")
	return limit, used, true
}

// field is the number after the first line's prefix in the file at path.
func field(path, prefix string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), prefix); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
