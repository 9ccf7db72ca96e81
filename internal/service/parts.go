package service

// mounted are the parts Start mounts, in order.
var mounted = []part{}

// partBuckets lists the bbolt buckets the parts keep beside the
// projection's own, created on open and carried over by a rebuild.
func partBuckets() []string { return nil }
