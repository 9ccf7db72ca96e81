// Package procstat reads what the process knows of its own memory (Linux
// /proc and its control group): the peak resident set, for the rebuild's
// report and the benchmarks, and the room left for the page cache; and
// writes its CPU and heap profiles.
package procstat

import (
	"bufio"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

// PeakRSSMiB is the process's peak resident memory in MiB since it started
// (or since ResetPeak), or 0 where /proc is not there.
func PeakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// ResetPeak starts a new measurement of the peak (Linux: writing 5 to
// clear_refs resets VmHWM). It reports whether the reset worked.
func ResetPeak() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// CPUProfile starts a CPU profile of the process into the file at path;
// stop ends it and closes the file.
func CPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// HeapProfile writes the process's heap profile to the file at path.
func HeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
