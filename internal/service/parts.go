package service

// mounted are the parts Start mounts, in order: the live feeds first, so
// that alerts and the page find them.
var mounted = []part{mountFeeds, mountAlerts, mountWeb}

// partBuckets lists the bbolt buckets the parts keep beside the
// projection's own, created on open and carried over by a rebuild.
func partBuckets() []string {
	var out []string
	out = append(out, alertBuckets...)
	return out
}
