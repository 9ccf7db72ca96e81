package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// resetPeakRSS starts a new measurement of the process's peak resident
// memory (Linux: writing 5 to clear_refs resets VmHWM). It reports whether
// the reset worked; if not, the peak is the process's whole life.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSMiB is the process's peak resident memory since the last reset.
func peakRSSMiB() float64 {
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
