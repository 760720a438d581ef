# faultline: build, test, and run the correctness suite.
#
#   make test-jepsen   build what is needed and run the default suite against kvnode in Docker
#   make test          all Go tests (unit, real processes on loopback, real containers)
#
# Overrides for test-jepsen: TIME_LIMIT=30s NEMESIS="partition kill pause clock all"
# WORKLOADS=register,set STORE=store CONCURRENCY=10 NODES=5 SEED=<n>

GO          ?= go
BIN         ?= bin
STORE       ?= store
TIME_LIMIT  ?= 30s
NEMESIS     ?= partition kill pause clock all
WORKLOADS   ?= register,set
CONCURRENCY ?= 10
NODES       ?= 5
SEED        ?=
TEST_FLAGS  ?= -race -timeout 30m

export TESTCONTAINERS_RYUK_DISABLED := true
export CGO_ENABLED := 0

SEED_FLAG := $(if $(SEED),--seed $(SEED),)

.PHONY: build image test test-jepsen bugs vet clean cleanup

build:
	$(GO) build -trimpath -o $(BIN)/faultline ./cmd/faultline
	$(GO) build -trimpath -o $(BIN)/kvnode ./cmd/kvnode
	$(GO) build -trimpath -o $(BIN)/faultline-agent ./cmd/faultline-agent

image: build
	$(BIN)/faultline image

test:
	CGO_ENABLED=1 $(GO) test $(TEST_FLAGS) ./...

test-jepsen: build
	$(BIN)/faultline suite --workloads $(WORKLOADS) --nemeses "$(NEMESIS)" \
		--time-limit $(TIME_LIMIT) --concurrency $(CONCURRENCY) --nodes $(NODES) \
		--store $(STORE) $(SEED_FLAG)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)

cleanup: build
	$(BIN)/faultline cleanup

clean:
	rm -rf $(BIN)
