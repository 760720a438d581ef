// Package sim runs a whole kvnode cluster in one process, single-threaded
// and deterministic: the production code of the node (its update loop,
// replication core, state machine and write-ahead log, driven through
// server.NewDriven) under a simulated world. The world is one event queue
// ordered by simulated time, and one random source seeded from
// Config.Seed makes every choice: message delays, reordering, duplication
// and loss, partitions, kills and restarts, pauses, clock faults, and what
// the clients do. A run is a pure function of its Config: the same seed
// gives the same history, byte for byte, and a failing seed replays
// exactly.
//
// A run has the phases of a container run: clients issue register ops
// while the nemesis injects faults, then every fault is healed, the cluster
// gets a recovery wait, every key is read from every node, and the
// replicas' states are collected. The history (simulated nanoseconds since
// the start) is judged by the register workload's checkers and the leaders
// checker, the same verdicts a container run gets.
package sim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/raft"
	"github.com/faultline/faultline/node/server"
	"github.com/faultline/faultline/workloads"
)

// Config is one simulated run. Zero values take the defaults.
type Config struct {
	Seed int64
	// Nodes is the cluster size (default 5); Clients the number of
	// concurrent workers (default 10).
	Nodes   int
	Clients int
	// Duration is the simulated length of the main phase (default 30 s).
	Duration time.Duration
	// Rate is the clients' total ops per simulated second (default 100).
	Rate float64
	// OpsPerKey bounds each key's ops (default 100, as the harness).
	OpsPerKey int
	// Workload names the clients' workload (workloads.ByName): register
	// (the default) or set.
	Workload string
	// Faults are the fault kinds the nemesis draws from (FaultKinds); none
	// means a run without faults. FaultInterval is the mean time between
	// and during faults (default 3 s).
	Faults        []string
	FaultInterval time.Duration
	// FaultLanes is how many faults (of different kinds) may be active at
	// once (default 2).
	FaultLanes int
	// Unsafe switches every node runs with (server.UnsafeNames).
	Unsafe []string
	// ReadMode is the nodes' read mode (default index).
	ReadMode server.ReadMode
	// RequestTimeout bounds one client request (default 5 s, as the
	// harness); past it the op is info.
	RequestTimeout time.Duration
	// RecoveryWait is the simulated time between healing and the final
	// reads (default 5 s).
	RecoveryWait time.Duration
	// MinDelay and MaxDelay bound one message's delivery time (defaults
	// 100 µs and 5 ms); DuplicateProbability is the chance a peer message
	// is delivered twice (default 0.01; negative: never).
	MinDelay, MaxDelay   time.Duration
	DuplicateProbability float64
	// CheckTimeout bounds the linearizability check (default 60 s).
	CheckTimeout time.Duration

	// The nodes' tuning, as cmd/kvnode takes it (server.Config); zero
	// values take the defaults cmd/kvnode runs with: a 1 s election
	// timeout, 100 ms heartbeats, 256 entries per append, 64 appends in
	// flight, a snapshot every 1000 entries, 1 MiB WAL segments.
	ElectionTimeout     time.Duration
	HeartbeatInterval   time.Duration
	MaxEntriesPerAppend int
	MaxInflightAppends  int
	SnapshotEntries     uint64
	SegmentBytes        int64

	// ClientIDBytes is the length of each client's id, which the node's
	// idempotent receiver keys its sessions on and writes into every
	// command, session table and snapshot (0: "c" and the client's number,
	// 2 or 3 bytes). The id is the client's choice, not the store's: the
	// production client's default is 24 bytes of hex, and clients of other
	// stores send UUIDs, host and process names or tokens. A length at
	// most the short id's keeps the short id, and Explore leaves it set:
	// a seed found before the length was drawn replays with 1.
	ClientIDBytes int

	// Explore draws every field above that a store's operator chooses and
	// the caller left zero (the cluster size, the read mode, the nodes'
	// tuning, the network's speed, how busy the nemesis and the clients
	// are) from the seed, so a sweep of seeds runs the store in many
	// configurations instead of one (see explore). The draw comes from a
	// random stream of its own: the same Config draws the same values, and
	// Result.Config holds them.
	Explore bool

	// Logger receives the nodes' logs; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Explore {
		c.explore()
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Nodes == 0 {
		c.Nodes = 5
	}
	if c.Clients == 0 {
		c.Clients = 10
	}
	if c.FaultLanes == 0 {
		c.FaultLanes = 2
	}
	if c.Rate == 0 {
		c.Rate = 100
	}
	if c.OpsPerKey == 0 {
		c.OpsPerKey = 100
	}
	if c.Workload == "" {
		c.Workload = workloads.Register{}.Name()
	}
	if c.ReadMode == "" {
		c.ReadMode = server.ReadIndex
	}
	if c.DuplicateProbability == 0 {
		c.DuplicateProbability = 0.01
	}
	def(&c.Duration, 30*time.Second)
	def(&c.FaultInterval, 3*time.Second)
	def(&c.RequestTimeout, 5*time.Second)
	def(&c.RecoveryWait, 5*time.Second)
	def(&c.MinDelay, 100*time.Microsecond)
	def(&c.MaxDelay, 5*time.Millisecond)
	def(&c.CheckTimeout, time.Minute)
	def(&c.ElectionTimeout, time.Second)
	def(&c.HeartbeatInterval, 100*time.Millisecond)
	if c.MaxEntriesPerAppend == 0 {
		c.MaxEntriesPerAppend = raft.DefaultMaxEntriesPerAppend
	}
	if c.MaxInflightAppends == 0 {
		c.MaxInflightAppends = raft.DefaultMaxInflightAppends
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = 1000
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 1 << 20
	}
}

// Result is what one run produced.
type Result struct {
	// Config is the run's configuration with every default filled in.
	Config   Config
	History  history.History
	Replicas []checker.ReplicaState
	Leaders  []checker.LeaderSighting
	Results  checker.Results
}

// world is the simulated universe of one run.
type world struct {
	cfg     Config
	rng     *rand.Rand
	now     time.Duration
	seq     uint64
	events  eventQueue
	net     *network
	nodes   []*node
	clients []*simClient
	wl      workloads.Workload
	gen     workloads.Generator
	history history.History
	// nextProcess numbers processes that replace retired ones.
	nextProcess history.Process
	leaders     []checker.LeaderSighting
	seenLeader  map[checker.LeaderSighting]bool
	// activeFaults are the fault kinds the nemesis holds now;
	// faultTargets the nodes each of them hits (stackedTargets).
	activeFaults map[string]bool
	faultTargets map[string][]string
	// leaderWatchers run at the next change of leader (noteLeaderChange),
	// electionWatchers at the next vote request sent (noteElection).
	leaderWatchers   []func()
	electionWatchers []func()
	// catchUps counts the heals waiting for nodes that lost their disk to
	// catch up (awaitCatchUp).
	catchUps int
	err      error
	log      *slog.Logger
}

// finalReadAttempts bounds the attempts of one final read, as the harness.
const finalReadAttempts = 5

// validate checks what the defaults cannot fill in.
func (c *Config) validate() error {
	if _, err := workloads.ByName(c.Workload); err != nil {
		return err
	}
	for _, name := range c.Unsafe {
		if !slices.Contains(server.UnsafeNames(), name) {
			return fmt.Errorf("unknown unsafe switch %q: use one of %v", name, server.UnsafeNames())
		}
	}
	for _, kind := range c.Faults {
		if !slices.Contains(FaultKinds(), kind) {
			return fmt.Errorf("unknown fault kind %q: use one of %v", kind, FaultKinds())
		}
	}
	if c.Nodes < 1 || c.Clients < 1 || c.Rate <= 0 || c.Duration <= 0 {
		return fmt.Errorf("nodes (%d), clients (%d), rate (%v) and duration (%v) must be positive", c.Nodes, c.Clients, c.Rate, c.Duration)
	}
	return nil
}

// Run runs one simulated test and checks its history.
func Run(cfg Config) (Result, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	w := &world{
		cfg:          cfg,
		rng:          rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
		seenLeader:   map[checker.LeaderSighting]bool{},
		activeFaults: map[string]bool{},
		faultTargets: map[string][]string{},
		log:          cfg.Logger,
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	} else {
		w.log = slog.New(simTimeHandler{w.log.Handler(), w})
	}
	w.net = &network{w: w}
	wl, _ := workloads.ByName(cfg.Workload) // checked by validate
	w.wl, w.gen = wl, wl.NewGenerator(w.rand1(), cfg.OpsPerKey)
	for i := range cfg.Nodes {
		n := &node{w: w, id: "n" + strconv.Itoa(i+1), fs: disk.NewSim()}
		w.nodes = append(w.nodes, n)
	}
	for _, n := range w.nodes {
		if err := n.start(); err != nil {
			return Result{}, err
		}
		tick := w.nodeConfig(n.id).Tick
		w.after(w.randDuration(0, tick), func() { n.tickLoop(tick) })
	}
	for i := range cfg.Clients {
		c := &simClient{w: w, id: i, process: history.Process(i)}
		w.clients = append(w.clients, c)
		c.next()
	}
	w.nextProcess = history.Process(cfg.Clients)
	if len(cfg.Faults) > 0 {
		for range cfg.FaultLanes {
			w.nemesisLoop()
		}
	}

	w.runUntil(cfg.Duration)
	// Let the ops in flight finish or time out, then heal and recover.
	w.runUntil(cfg.Duration + cfg.RequestTimeout)
	w.healAll()
	w.runUntil(w.now + cfg.RecoveryWait)
	// A node that lost its disk has the heal's whole catch-up wait, as in a
	// container run, however late in the run it lost it: the final reads
	// begin when no heal is waiting any more.
	for w.catchUps > 0 && len(w.events) > 0 && w.err == nil {
		w.runUntil(w.now + catchUpPoll)
	}
	w.finalReads(wl)
	replicas := w.settle()
	if w.err != nil {
		return Result{}, w.err
	}
	res := Result{Config: cfg, History: w.history, Replicas: replicas, Leaders: w.leaders}
	checkers := append(slices.Clone(wl.Checkers()), checker.Leaders{})
	res.Results = checker.Run(context.Background(), checker.Input{
		History: w.history, Replicas: replicas, Leaders: w.leaders, CheckTimeout: cfg.CheckTimeout,
	}, checkers...)
	return res, nil
}

// finalReads reads every key the clients wrote from every node, each node
// by its own process, retrying a read that did not succeed; it returns when
// all are done.
func (w *world) finalReads(wl workloads.Workload) {
	invokes := wl.FinalReads(w.history)
	remaining := len(w.nodes)
	for _, n := range w.nodes {
		c := &simClient{w: w, id: 1_000_000 + len(w.clients), process: w.newProcess()}
		w.clients = append(w.clients, c)
		var readKey func(i, attempt int)
		readKey = func(i, attempt int) {
			if i == len(invokes) {
				remaining--
				return
			}
			c.invokeOn(n, invokes[i], true, func(done history.Op) {
				if done.Type != history.OK && attempt+1 < finalReadAttempts {
					readKey(i, attempt+1)
					return
				}
				readKey(i+1, 0)
			})
		}
		readKey(0, 0)
	}
	for remaining > 0 && len(w.events) > 0 && w.err == nil {
		w.runUntil(w.now + time.Second)
	}
}

// settle waits (up to a minute of simulated time) for every replica to
// apply the same index, then reports each replica's state.
func (w *world) settle() []checker.ReplicaState {
	var states []checker.ReplicaState
	for range 60 {
		w.runUntil(w.now + time.Second)
		states = w.replicaStates()
		if converged(states) {
			break
		}
	}
	return states
}

func converged(states []checker.ReplicaState) bool {
	for _, s := range states {
		if s.Err != "" || s.AppliedIndex != states[0].AppliedIndex {
			return false
		}
	}
	return true
}

func (w *world) replicaStates() []checker.ReplicaState {
	states := make([]checker.ReplicaState, 0, len(w.nodes))
	for _, n := range w.nodes {
		if !n.up() {
			states = append(states, checker.ReplicaState{Node: n.id, Err: "node is down"})
			continue
		}
		st := n.srv.Status()
		states = append(states, checker.ReplicaState{
			Node: n.id, AppliedIndex: st.AppliedIndex, Digest: st.Digest, Role: st.Role, Leader: st.Leader,
			CommitIndex: st.CommitIndex, LastLogIndex: st.LastLogIndex, Recovering: st.Recovering,
		})
	}
	return states
}

// nodeTick is the nodes' tick, as cmd/kvnode sets it; the drawn election
// timeouts and heartbeat intervals are multiples of it.
const nodeTick = 10 * time.Millisecond

// nodeConfig is the configuration of node id: the run's read mode, tuning
// and unsafe switches, and cmd/kvnode's defaults for the rest.
func (w *world) nodeConfig(id string) server.Config {
	peers := map[string]string{}
	for _, n := range w.nodes {
		peers[n.id] = "sim:" + n.id
	}
	unsafe := server.UnsafeSet{}
	for _, name := range w.cfg.Unsafe {
		unsafe[name] = true
	}
	return server.Config{
		ID: id, Peers: peers, PeerHTTP: peers,
		DataDir:             "/data",
		Tick:                nodeTick,
		ElectionTimeout:     w.cfg.ElectionTimeout,
		HeartbeatInterval:   w.cfg.HeartbeatInterval,
		ReadMode:            w.cfg.ReadMode,
		RequestTimeout:      2 * time.Second,
		SegmentBytes:        w.cfg.SegmentBytes,
		SnapshotEntries:     w.cfg.SnapshotEntries,
		MaxEntriesPerAppend: w.cfg.MaxEntriesPerAppend,
		MaxInflightAppends:  w.cfg.MaxInflightAppends,
		Unsafe:              unsafe,
		Logger:              w.log,
		Clock:               baseClock{w},
	}
}

// record appends op to the history, stamped with the simulated time.
func (w *world) record(op history.Op) history.Op {
	op.Index = len(w.history)
	op.Time = int64(w.now)
	w.history = append(w.history, op)
	return op
}

func (w *world) newProcess() history.Process {
	p := w.nextProcess
	w.nextProcess++
	return p
}

// sawLeader records a (node, generation) leadership the first time it is
// seen: the simulation sees every one, where the harness polls.
func (w *world) sawLeader(id string, gen uint64) {
	key := checker.LeaderSighting{Node: id, Generation: gen}
	if w.seenLeader[key] {
		return
	}
	w.seenLeader[key] = true
	key.FirstSeen = int64(w.now)
	w.leaders = append(w.leaders, key)
	w.noteLeaderChange()
}

// currentLeader is a running node that leads the highest generation, or "".
func (w *world) currentLeader() string {
	leader, best := "", uint64(0)
	for _, n := range w.nodes {
		if !n.up() {
			continue
		}
		if gen, ok := n.srv.Leading(); ok && gen >= best {
			leader, best = n.id, gen
		}
	}
	return leader
}

func (w *world) node(id string) *node {
	for _, n := range w.nodes {
		if n.id == id {
			return n
		}
	}
	panic("sim: unknown node " + id)
}

func (w *world) ids() []string {
	ids := make([]string, len(w.nodes))
	for i, n := range w.nodes {
		ids[i] = n.id
	}
	return ids
}

// thinkTime is a client's mean pause between ops that gives cfg.Rate ops/s
// over all clients.
func (w *world) thinkTime() time.Duration {
	return time.Duration(float64(w.cfg.Clients) / w.cfg.Rate * float64(time.Second))
}

// rand1 derives a math/rand source from the run's random source, for the
// parts of faultline that take one (the workload generator, the core).
func (w *world) rand1() *rand1Rand { return newRand1(w.rng.Int64()) }

func (w *world) logf(format string, args ...any) {
	w.log.Debug(fmt.Sprintf(format, args...), "sim_time", w.now)
}

// fail ends the run with an error of the simulation itself.
func (w *world) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	w.events = nil
}
