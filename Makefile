# Parley. `make demo` runs the service with the seed timeline; `make test`
# runs the whole test suite (what .ci/run runs).
GO ?= go
DATA ?= var/demo
HTTP ?= 127.0.0.1:8080
NATS ?= 127.0.0.1:4222

.PHONY: demo build test test-unit test-cluster fuzz bench bench-quick bench-rebuild vet

demo:
	$(GO) run ./cmd/projector -data $(DATA) -http $(HTTP) -nats-listen $(NATS) -seed

build:
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/...

vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above"; exit 1)
	$(GO) vet -tags cluster ./... # every file: none is built only without the tag

test: vet test-unit test-cluster fuzz

test-unit:
	$(GO) test -count=1 -timeout 20m ./...

test-cluster:
	$(GO) test -count=1 -tags cluster -run Cluster -timeout 15m ./test/cluster/

# Each fuzz target for a fixed number of executions, from its committed seed
# corpus. A count, not a duration: go1.26's coordinator can fail a target with
# a bare "context deadline exceeded" when a -fuzztime clock runs out under CPU
# contention (go.dev/issue/75804), and a count has no deadline to race.
FUZZTIME ?= 100000x
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./internal/... | grep '^Fuzz'); do \
		pkg=$$(grep -rl "func $$t(" internal --include='*_test.go' | xargs -n1 dirname | head -1); \
		echo "fuzz $$t in ./$$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

bench:
	$(GO) run ./cmd/parleybench $(BENCHFLAGS)

bench-quick:
	$(GO) run ./cmd/parleybench -quick $(BENCHFLAGS)

bench-rebuild:
	$(GO) run ./cmd/parleybench -only rebuild $(BENCHFLAGS)
