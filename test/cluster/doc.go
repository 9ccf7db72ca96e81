// Package cluster holds the tests that run Parley as it is deployed: a
// three-node NATS cluster built from the pinned nats-server module, the
// ingest and projector binaries built from this repository, all on
// 127.0.0.1, with stream leaders and projector replicas killed with
// SIGKILL in the middle of the work. They also check the files in deploy/.
//
// They are behind the build tag cluster, since they build binaries and run
// for minutes:
//
//	go test -tags cluster -run Cluster -v ./test/cluster/
//
// PARLEY_CLUSTER_EVENTS sets how many events are ingested (default
// 100000); a smaller number makes a quick local run.
package cluster
