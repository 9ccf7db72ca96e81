// Package procstat reads what the process knows of its own memory (Linux
// /proc/self/status): the peak resident set, for the rebuild's report and
// the benchmarks.
package procstat

import (
	"bufio"
	"os"
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
