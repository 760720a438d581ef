package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/clock"
	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/kv"
	"github.com/faultline/faultline/node/raft"
	"github.com/faultline/faultline/node/transport"
	"github.com/faultline/faultline/node/wal"
)

// Server is one running kvnode.
type Server struct {
	cfg    Config
	unsafe []string // cfg.Unsafe.List(), computed once
	log    *slog.Logger
	// baseClock is the monotonic clock the tick debt is measured on; clock
	// is the node's skewable clock over it (its rate and offset can be
	// changed through /admin/clock). All of the node's time comes from them.
	baseClock clock.Clock
	clock     *clock.Skewable
	metrics   *metrics
	// crashAfterVote and crashAfterCommit are the crash points
	// (crashpoint.go).
	crashAfterVote   atomic.Bool
	crashAfterCommit atomic.Bool
	// crashCommitAbove: the after-commit crash point waits for a commit
	// past this index.
	crashCommitAbove atomic.Uint64

	// Owned by the loop goroutine (loop.go) once Run starts.
	raft      *raft.Raft
	wal       *wal.WAL
	kv        *kv.Store
	transport *transport.Transport // nil in a node built by NewDriven
	// peers carries the core's messages: the transport in production, the
	// caller's network in a driven node.
	peers PeerSender
	// rng is the core's only randomness (election timeouts).
	rng *rand.Rand

	// Inputs of the singular update queue; bounded.
	proposals  chan *proposal
	reads      chan *readRequest
	statusReqs chan statusRequest

	// Loop state.
	waiters           map[uint64]*waiter
	readBatch         []*readRequest
	readRounds        map[uint64][]*readRequest
	readyReads        []pendingRead
	nextReadID        uint64
	applied           uint64
	appliedTerm       uint64
	sinceSnapshot     uint64
	persisted         raft.HardState
	lastQuorumAckTerm uint64
	lastQuorumAckTick uint64
	lastQuorumAckWall time.Time
	lastCampaignTerm  uint64
	lastTickAt        time.Time     // base reading at the last tick event
	tickDebt          time.Duration // clock time not yet turned into ticks
	lastLeader        string
	// recovering mirrors the data dir's recovering mark (recovery.go).
	recovering bool

	// view is the loop's latest published state, read by HTTP handlers.
	view atomic.Pointer[statusView]
	// sendNow and sendLater are sendReplication's scratch arrays.
	sendNow, sendLater []raft.Message

	clientListener net.Listener
	httpServer     *http.Server
	forwarder      *http.Client

	closeOnce sync.Once
}

// statusView is what handlers need to route a request without asking the
// loop: who leads, and the figures of GET /status.
type statusView struct {
	status   client.Status
	isLeader bool
	// wallLeaseUntil: the end of the lease-wallclock unsafe mode's lease
	// (zero without one); a node holding it serves reads itself.
	wallLeaseUntil time.Time
}

// New opens the data directory (recovering the WAL), builds the core and the
// state machine from it, and binds both listeners. It does not start
// serving; call Run.
func New(cfg Config) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	// Two nodes started in the same nanosecond still draw different
	// election timeouts: the seed mixes in the node's id.
	s.rng = rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(hashID(s.cfg.ID))))
	if err := s.open(); err != nil {
		s.closeResources()
		return nil, err
	}
	if err := s.listen(); err != nil {
		s.closeResources()
		return nil, err
	}
	s.publish()
	return s, nil
}

// newServer validates cfg and builds a node with nothing opened yet.
func newServer(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		unsafe:     cfg.Unsafe.List(),
		log:        cfg.Logger.With("node", cfg.ID),
		baseClock:  cfg.Clock,
		metrics:    newMetrics(),
		proposals:  make(chan *proposal, cfg.ProposalQueue),
		reads:      make(chan *readRequest, cfg.ReadQueue),
		statusReqs: make(chan statusRequest, 16),
		waiters:    map[uint64]*waiter{},
		readRounds: map[uint64][]*readRequest{},
	}
	s.clock = clock.NewSkewable(s.baseClock)
	return s, nil
}

// open recovers the node's state from its data dir: the WAL, the state
// machine and the replication core.
func (s *Server) open() error {
	cfg := s.cfg
	if err := checkDataDir(disk.Or(cfg.FS), cfg.DataDir); err != nil {
		return err
	}
	w, rec, err := wal.Open(cfg.DataDir, wal.Options{
		SegmentBytes: cfg.SegmentBytes,
		// UNSAFE(skip-fsync): the WAL acknowledges without fsync and, when
		// killed, loses what was not synced.
		UnsafeSkipFsync: cfg.Unsafe.On(UnsafeSkipFsync),
		Logger:          s.log,
		FS:              cfg.FS,
		// The base clock: a simulated one makes skip-fsync's bookkeeping
		// deterministic, and the clock fault hooks do not reach it.
		Now: s.baseClock.Now,
	})
	if err != nil {
		return fmt.Errorf("open wal in %s: %w", cfg.DataDir, err)
	}
	s.wal = w

	s.kv = kv.New(kv.DefaultMaxSessions)
	if rec.Snapshot != nil {
		if err := s.kv.Restore(rec.Snapshot.Data); err != nil {
			return fmt.Errorf("restore snapshot at index %d from %s: %w", rec.Snapshot.Index, cfg.DataDir, err)
		}
		s.applied = rec.Snapshot.Index
		s.appliedTerm = rec.Snapshot.Term
	}
	s.persisted = rec.HardState
	if err := s.startRecovery(rec); err != nil {
		return err
	}

	peers := make([]string, 0, len(cfg.Peers))
	for id := range cfg.Peers {
		peers = append(peers, id)
	}
	slices.Sort(peers)
	r, err := raft.New(raft.Config{
		ID:                    cfg.ID,
		Peers:                 peers,
		ElectionTicks:         cfg.electionTicks(),
		HeartbeatTicks:        cfg.heartbeatTicks(),
		Rand:                  s.rng,
		MaxInflightAppends:    cfg.MaxInflightAppends,
		MaxEntriesPerAppend:   cfg.MaxEntriesPerAppend,
		MaxUncommittedEntries: cfg.MaxUncommittedEntries,
		Unsafe: raft.Unsafe{
			// UNSAFE(no-generation-check): passed to the core, which accepts
			// appends from a leader of an older generation.
			NoGenerationCheck: cfg.Unsafe.On(UnsafeNoGenerationCheck),
			// UNSAFE(commit-old-generation): passed to the core, which
			// commits earlier generations' entries by counting replicas.
			CommitOldGeneration: cfg.Unsafe.On(UnsafeCommitOldGeneration),
		},
	}, raft.Restore{HardState: rec.HardState, Snapshot: rec.Snapshot, Entries: rec.Entries, Recovering: s.recovering})
	if err != nil {
		return fmt.Errorf("start replication core from %s: %w", cfg.DataDir, err)
	}
	s.raft = r
	s.sinceSnapshot = snapshotStagger(peers, cfg.ID, cfg.SnapshotEntries)
	s.log.Info("recovered", "term", rec.HardState.Term, "commit", rec.HardState.Commit,
		"entries", len(rec.Entries), "snapshot_index", s.applied, "low_water_mark", w.LowWaterMark())
	return nil
}

// listen binds the client and peer listeners and builds the HTTP server and
// the peer transport (production only; a driven node has neither).
func (s *Server) listen() error {
	cfg := s.cfg
	ln, err := net.Listen("tcp", cfg.ListenClient)
	if err != nil {
		return fmt.Errorf("listen for clients on %s: %w (stop the process using it or choose another --listen-client)", cfg.ListenClient, err)
	}
	s.clientListener = ln

	t, err := newTransport(cfg, cfg.Logger)
	if err != nil {
		return err
	}
	s.transport = t
	s.peers = t

	s.forwarder = &http.Client{
		Transport: forwardTransport(),
		Timeout:   cfg.forwardTimeout(),
	}
	// Every phase of a client connection is bounded (a client sending its
	// body at 1 byte/s used to hold its connection for ever):
	//   - reading a request, headers and body, takes at most
	//     ClientReadTimeout (the headers alone no longer than that either);
	//   - from the end of the headers to the end of the answer at most
	//     ClientWriteTimeout, by default the body's read timeout plus the
	//     longest handler (a follower forwarding, which waits the leader's
	//     --request-timeout plus forwardMargin) plus responseWriteMargin.
	//     Shorter, and an answer the node has (an applied write included)
	//     would be cut off and reported to the client as unknown;
	//   - between requests a keep-alive connection idles at most
	//     ClientIdleTimeout, longer than the clients' own idle timeout so
	//     that they, not the node, close idle connections.
	// Setting IdleTimeout matters: left zero, net/http would use the read
	// timeout for idle connections too.
	s.httpServer = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: cfg.ClientReadTimeout,
		ReadTimeout:       cfg.ClientReadTimeout,
		WriteTimeout:      cfg.ClientWriteTimeout,
		IdleTimeout:       cfg.ClientIdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return nil
}

// checkDataDir creates the data directory and proves it is writable, so the
// error names the directory instead of a WAL file deep inside it. The
// directories it creates are fsynced into their parents, or a crash soon
// after the first start could take the whole data dir with it.
func checkDataDir(fsys disk.FS, dir string) error {
	if err := disk.MkdirAll(fsys, dir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w (choose a writable --data-dir)", err)
	}
	probe := filepath.Join(dir, ".write-probe")
	f, err := fsys.OpenFile(probe, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("data dir %s is not writable: %w (fix its permissions or choose another --data-dir)", dir, err)
	}
	return fsys.Remove(probe)
}

// snapshotStagger spreads the nodes' snapshots over the interval. A
// snapshot stalls the update loop (encode the state, write and fsync the
// file), and every replica applies the same entries at about the same time:
// without a stagger the whole cluster would stall at once. Node number r of
// n (in id order) starts its count at r/n of the interval.
func snapshotStagger(peers []string, id string, snapshotEntries uint64) uint64 {
	rank := uint64(slices.Index(peers, id))
	return rank * snapshotEntries / uint64(len(peers))
}

// hashID is an FNV-1a hash of a node id, mixed into the seed of the core's
// randomness.
func hashID(id string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

// ClientAddr returns the bound client (HTTP) address.
func (s *Server) ClientAddr() string { return s.clientListener.Addr().String() }

// Run serves until ctx is cancelled (then shuts down gracefully) or the
// update loop fails (a persistence error; the node must stop).
func (s *Server) Run(ctx context.Context) error {
	if len(s.unsafe) > 0 {
		s.log.Warn("!!! UNSAFE SWITCHES ON: this node is deliberately broken and WILL lose or corrupt data !!!",
			"unsafe", s.unsafe)
	}
	s.log.Info("serving", "client", s.ClientAddr(), "peer", s.cfg.ListenPeer, "read_mode", s.cfg.ReadMode,
		"tick", s.cfg.Tick, "election_timeout", s.cfg.ElectionTimeout, "heartbeat_interval", s.cfg.HeartbeatInterval)

	// The transport lives until closeResources, after the loop has stopped
	// (not until ctx ends: in-flight requests still need the peers).
	if err := s.transport.Start(context.Background()); err != nil {
		s.closeResources()
		return fmt.Errorf("start peer transport: %w", err)
	}
	stop := make(chan struct{})
	loopErr := make(chan error, 1)
	go func() { loopErr <- s.run(stop) }()
	httpErr := make(chan error, 1)
	go func() { httpErr <- s.httpServer.Serve(s.clientListener) }()

	var err error
	select {
	case <-ctx.Done():
	case e := <-loopErr:
		loopErr = nil
		if e != nil {
			err = fmt.Errorf("update loop stopped: %w", e)
		}
	case err = <-httpErr:
		err = fmt.Errorf("serve clients: %w", err)
	}

	s.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Stop taking requests first; in-flight ones get their answer or time out.
	if shutdownErr := s.httpServer.Shutdown(shutdownCtx); shutdownErr != nil {
		s.log.Warn("http shutdown", "err", shutdownErr)
	}
	close(stop)
	if loopErr != nil {
		if e := <-loopErr; e != nil && err == nil {
			err = fmt.Errorf("update loop stopped: %w", e)
		}
	}
	s.closeResources()
	return err
}

// closeResources closes the transport and the WAL (after the loop stopped).
func (s *Server) closeResources() {
	s.closeOnce.Do(func() {
		if s.transport != nil {
			if err := s.transport.Close(); err != nil {
				s.log.Warn("close transport", "err", err)
			}
		}
		if s.clientListener != nil {
			_ = s.clientListener.Close()
		}
		if s.wal != nil {
			if err := s.wal.Close(); err != nil {
				s.log.Warn("close wal", "err", err)
			}
		}
	})
}

// publish makes the loop's current state visible to handlers. Most loop
// iterations (a heartbeat, an acknowledgement) change nothing a handler
// sees; those keep the published view instead of allocating a new one.
func (s *Server) publish() {
	v := s.statusLocked(false)
	if old := s.view.Load(); old != nil && old.equal(&v) {
		return
	}
	p := new(statusView)
	*p = v
	s.view.Store(p)
}

// equal reports whether two views show the same: every field of the
// status, the leadership and the wall-clock lease.
func (v *statusView) equal(o *statusView) bool {
	a, b := &v.status, &o.status
	return v.isLeader == o.isLeader && v.wallLeaseUntil.Equal(o.wallLeaseUntil) &&
		a.ID == b.ID && a.Role == b.Role && a.Generation == b.Generation && a.Leader == b.Leader &&
		a.CommitIndex == b.CommitIndex && a.AppliedIndex == b.AppliedIndex &&
		a.LowWaterMark == b.LowWaterMark && a.LastLogIndex == b.LastLogIndex &&
		a.GenerationStartIndex == b.GenerationStartIndex && a.Digest == b.Digest &&
		a.ReadMode == b.ReadMode && slices.Equal(a.Unsafe, b.Unsafe) &&
		a.ClockOffsetMillis == b.ClockOffsetMillis && a.ClockRate == b.ClockRate &&
		slices.Equal(a.CrashPoints, b.CrashPoints) && a.Recovering == b.Recovering
}

// statusLocked builds the status from the loop's state; only the loop (or
// New, before the loop runs) may call it. The digest costs a pass over the
// state machine, so it is computed only for GET /status.
func (s *Server) statusLocked(withDigest bool) statusView {
	st := s.raft.Status()
	v := statusView{
		isLeader:       st.Role == raft.Leader,
		wallLeaseUntil: s.wallLeaseUntil(),
		status: client.Status{
			ID:                   s.cfg.ID,
			Role:                 st.Role.String(),
			Generation:           st.Term,
			Leader:               st.Leader,
			CommitIndex:          st.Commit,
			AppliedIndex:         s.applied,
			LowWaterMark:         s.wal.LowWaterMark(),
			LastLogIndex:         st.LastIndex,
			GenerationStartIndex: st.TermStartIndex,
			ReadMode:             string(s.cfg.ReadMode),
			Unsafe:               s.unsafe,
			ClockOffsetMillis:    s.clock.Offset().Milliseconds(),
			ClockRate:            s.clock.Rate(),
			CrashPoints:          s.crashPoints(),
			Recovering:           st.Recovering,
		},
	}
	if withDigest {
		v.status.Digest = s.kv.Digest()
	}
	return v
}

// currentStatus asks the loop for a status with a digest consistent with the
// applied index.
func (s *Server) currentStatus(ctx context.Context) (client.Status, error) {
	q := statusRequest{done: make(chan statusView, 1)}
	select {
	case s.statusReqs <- q:
	case <-ctx.Done():
		return client.Status{}, ctx.Err()
	}
	select {
	case v := <-q.done:
		return v.status, nil
	case <-ctx.Done():
		return client.Status{}, ctx.Err()
	}
}

// errNoLeader is returned when a request must reach the leader and none is known.
var errNoLeader = errors.New("no leader known; retry later")
