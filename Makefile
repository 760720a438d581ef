# faultline: build, test, and run the correctness suite.
#
#   make test-jepsen   build what is needed and run the default suite against kvnode in Docker
#   make test          all Go tests (unit, real processes on loopback, real containers)
#
# Overrides for test-jepsen: TIME_LIMIT=30s NEMESIS="partition kill pause clock disk-loss all"
# WORKLOADS=register,set STORE=store CONCURRENCY=10 NODES=5 SEED=<n> SUT=kvnode|etcd

GO          ?= go
BIN         ?= bin
STORE       ?= store
TIME_LIMIT  ?= 30s
SUT         ?= kvnode
# etcd has no clock hook (clock faults are refused for it) and is not tested
# with disk-loss by default (a member that lost its data dir must be removed
# and re-added, which the fault does not do).
NEMESIS     ?= $(if $(filter etcd,$(SUT)),partition kill pause loss all,partition kill pause clock disk-loss all)
WORKLOADS   ?= register,set
CONCURRENCY ?= 10
NODES       ?= 5
SEED        ?=
TEST_FLAGS  ?= -race -tags docker -timeout 30m

export TESTCONTAINERS_RYUK_DISABLED := true
export CGO_ENABLED := 0

SEED_FLAG := $(if $(SEED),--seed $(SEED),)

.PHONY: build image test test-jepsen bugs vet clean cleanup sim

build:
	$(GO) build -trimpath -o $(BIN)/faultline ./cmd/faultline
	$(GO) build -trimpath -o $(BIN)/kvnode ./cmd/kvnode
	$(GO) build -trimpath -o $(BIN)/faultline-agent ./cmd/faultline-agent

image: build
	$(BIN)/faultline image

test:
	CGO_ENABLED=1 $(GO) test $(TEST_FLAGS) ./...

test-jepsen: build
	$(BIN)/faultline suite --sut $(SUT) --workloads $(WORKLOADS) --nemeses "$(NEMESIS)" \
		--time-limit $(TIME_LIMIT) --concurrency $(CONCURRENCY) --nodes $(NODES) \
		--store $(STORE) $(SEED_FLAG)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)

cleanup: build
	$(BIN)/faultline cleanup

clean:
	rm -rf $(BIN)

# Nightly exploration: random configurations (workload, faults, cluster size,
# node timeouts, snapshot/segment thresholds, time limit) drawn from SEED (the
# master seed; random when empty) until BUDGET is spent. Writes a JUnit file
# and keeps the newest KEEP_LAST runs (invalid runs are always kept).
BUDGET     ?= 20m
KEEP_LAST  ?= 50
JUNIT      ?= $(STORE)/junit.xml

.PHONY: explore

explore: build
	$(BIN)/faultline suite --explore --sut $(SUT) --budget $(BUDGET) --junit $(JUNIT) --keep-last $(KEEP_LAST) \
		--concurrency $(CONCURRENCY) --store $(STORE) $(SEED_FLAG)

# The bug zoo: every kvnode unsafe switch under the faults that should expose
# it, then the correct kvnode under the same faults (false alarms). Exits 0
# only if every bug is caught in every run and the correct node always passes.
# Overrides: BUGS_RUNS=3 BUGS_TIME=60s BUGS=stale-read,skip-fsync STORE=store
# (BUGS=caught: only the bugs the catalogue claims to catch, as nightly runs it)
BUGS_RUNS  ?= 3
BUGS_TIME  ?= 60s
BUGS       ?=
BUGS_FLAG  := $(if $(BUGS),--bugs $(BUGS),)

bugs: build
	$(BIN)/faultline bugs --runs $(BUGS_RUNS) --time-limit $(BUGS_TIME) --store $(STORE) $(BUGS_FLAG) $(SEED_FLAG)

# A quick subset for CI: bugs the harness catches within seconds, one run
# each, so a change that blinds the harness fails the build. stale-read is
# caught in the first partition; no-generation-check at the first to third
# stale-leader fault (4.6 to 20.5 s in nine runs), and a 45 s run has five or
# six, so a run that misses it means the harness went blind, not bad luck.
# forget-vote: 14 of 25 voter-crash faults in three runs elected two leaders
# in one generation, and a 45 s run has five or six. lease-wallclock: caught
# 3.6 to 7.8 s into the main phase in three runs, each with 80-93 register
# keys flagged, so one run is far from the edge.
BUGS_QUICK      ?= stale-read,no-generation-check,forget-vote,lease-wallclock
BUGS_QUICK_TIME ?= 45s

.PHONY: bugs-quick
bugs-quick: build
	$(BIN)/faultline bugs --bugs $(BUGS_QUICK) --runs 1 --time-limit $(BUGS_QUICK_TIME) --store $(STORE) $(SEED_FLAG)

# Deterministic simulation: kvnode's own code under a simulated network, clock
# and disk, one process, no Docker. Sweeps SIM_SEEDS (empty: random seeds) with
# every fault kind, within SIM_BUDGET of wall time; failing seeds keep a run
# directory and print the line that replays them. SIM_FLAGS adds flags, e.g.
# SIM_FLAGS=--unsafe=skip-fsync.
SIM_SEEDS  ?= 1-10000
SIM_BUDGET ?= 20m
SIM_FLAGS  ?=

sim: build
	$(BIN)/faultline sim $(if $(SIM_SEEDS),--seeds $(SIM_SEEDS),) --budget $(SIM_BUDGET) --store $(STORE) $(SIM_FLAGS)

# The mutation campaign: MUTANTS mutants of node/raft and node/kv (drawn in an
# order seeded by MUTATE_SEED), each built, unit-tested and swept in the
# simulation (MUTATE_SEEDS seeds per workload on one core, beside the unit
# tests on the other); the score is the share the sweeps catch. Exits 1 when
# the score is below MIN_SCORE (the nightly job runs a sample with a new seed
# each night).
MUTANTS       ?= 50
MUTATE_SEED   ?= 1
MUTATE_SEEDS  ?= 300
MUTATE_BUDGET ?= 60s
MIN_SCORE     ?= 0
# BASELINE: an earlier campaign's baseline.json (make mutate fails if a mutant
# it caught survives); empty: none.
BASELINE      ?=

.PHONY: mutate
mutate: build
	$(BIN)/faultline mutate --packages node/raft,node/kv --max-mutants $(MUTANTS) --seed $(MUTATE_SEED) \
		--seeds-per-mutant $(MUTATE_SEEDS) --budget-per-mutant $(MUTATE_BUDGET) --workers 1 \
		--store $(STORE) --min-score $(MIN_SCORE) $(if $(BASELINE),--baseline $(BASELINE))
