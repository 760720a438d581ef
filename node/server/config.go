// Package server runs one kvnode: it wires the replication core (node/raft),
// the write-ahead log (node/wal), the state machine (node/kv), the peer
// transport (node/transport) and the injectable clock (node/clock) together
// behind the HTTP client API.
//
// One goroutine, the singular update queue (loop.go), owns the core, the WAL
// and the state machine. HTTP handlers, the transport's receive side and the
// ticker only talk to it through bounded channels, so none of those three
// needs a lock and every state change happens in one well-defined order.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/node/clock"
	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/raft"
)

// ReadMode says how a read is served.
type ReadMode string

const (
	// ReadIndex is linearizable: the leader confirms with a quorum that it is
	// still the leader after the read arrived, then serves once the state
	// machine has applied the commit index it saw at that moment.
	ReadIndex ReadMode = "index"
	// ReadLease is linearizable only under a clock assumption: the leader
	// serves from local state while its lease (counted in ticks since the
	// last quorum acknowledgement, minus a drift margin) is valid. Ticks are
	// counted on the monotonic clock, so a jump or rate change of the wall
	// clock does not matter; it assumes the nodes' monotonic clocks advance
	// at rates that differ by less than the margin (10%).
	ReadLease ReadMode = "lease"
	// ReadLocal serves from whatever this node has applied. It is fast and
	// not linearizable: a follower or deposed leader may answer stale data.
	ReadLocal ReadMode = "local"
)

// ParseReadMode returns the mode named s.
func ParseReadMode(s string) (ReadMode, error) {
	switch m := ReadMode(s); m {
	case ReadIndex, ReadLease, ReadLocal:
		return m, nil
	}
	return "", fmt.Errorf("unknown read mode %q: use index, lease or local", s)
}

// Unsafe switches: each one is a classic distributed-systems bug that can be
// turned on deliberately so the harness can prove it catches it. Every place
// that honours one is marked with a comment `// UNSAFE(name):`.
const (
	// UnsafeStaleRead: any node, a follower or a deposed leader included,
	// answers reads from its local state.
	UnsafeStaleRead = "stale-read"
	// UnsafeAckBeforeQuorum: the leader acknowledges a write once it is in its
	// own durable log, before a quorum has it.
	UnsafeAckBeforeQuorum = "ack-before-quorum"
	// UnsafeNoGenerationCheck: followers accept appends from a leader of an
	// older generation (passed to the replication core).
	UnsafeNoGenerationCheck = "no-generation-check"
	// UnsafeCommitOldGeneration: the leader commits entries of an earlier
	// generation by counting replicas (Raft figure 8; passed to the core).
	UnsafeCommitOldGeneration = "commit-old-generation"
	// UnsafeForgetVote: the vote is persisted as empty, so a restarted node can
	// vote twice in one generation.
	UnsafeForgetVote = "forget-vote"
	// UnsafeLeaseWallclock: lease reads trust the skewable wall clock with no
	// drift margin instead of counting ticks, and a node keeps its lease
	// after its check-quorum round deposes it (on a true clock the lease has
	// ended by then). It turns lease reads on whatever --read-mode says.
	UnsafeLeaseWallclock = "lease-wallclock"
	// UnsafeSkipFsync: the WAL acknowledges without fsync and loses what was
	// not synced when the process is killed.
	UnsafeSkipFsync = "skip-fsync"
)

// UnsafeNames lists every unsafe switch, sorted.
func UnsafeNames() []string {
	names := []string{
		UnsafeStaleRead, UnsafeAckBeforeQuorum, UnsafeNoGenerationCheck,
		UnsafeCommitOldGeneration, UnsafeForgetVote, UnsafeLeaseWallclock, UnsafeSkipFsync,
	}
	sort.Strings(names)
	return names
}

// UnsafeSet is the set of unsafe switches turned on.
type UnsafeSet map[string]bool

// ParseUnsafe parses a comma-separated list of switch names.
func ParseUnsafe(s string) (UnsafeSet, error) {
	names, err := ParseUnsafeList(s)
	if err != nil {
		return nil, err
	}
	set := UnsafeSet{}
	for _, name := range names {
		set[name] = true
	}
	return set, nil
}

// ParseUnsafeList splits a comma-separated list of switch names, keeping
// their order, and refuses a name that is not one of the node's switches.
func ParseUnsafeList(s string) ([]string, error) {
	var names []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(UnsafeNames(), name) {
			return nil, fmt.Errorf("unknown unsafe switch %q: use one of %s", name, strings.Join(UnsafeNames(), ", "))
		}
		names = append(names, name)
	}
	return names, nil
}

// On reports whether the switch name is on.
func (u UnsafeSet) On(name string) bool { return u[name] }

// List returns the switches that are on, sorted (never nil, so it encodes as []).
func (u UnsafeSet) List() []string {
	list := []string{}
	for name, on := range u {
		if on {
			list = append(list, name)
		}
	}
	sort.Strings(list)
	return list
}

// Config is everything one node needs to run.
type Config struct {
	// ID is this node's name; it must be a key of Peers.
	ID string
	// Peers maps every voter, this node included, to its peer (transport) address.
	Peers map[string]string
	// PeerHTTP maps every voter to its client (HTTP) address, used by a
	// follower to forward requests to the leader.
	PeerHTTP map[string]string
	// DataDir holds the WAL segments and snapshots.
	DataDir string
	// FS is the file system DataDir lives on (nil: the real one, disk.OS).
	// The deterministic simulation passes a disk.Sim.
	FS disk.FS
	// ListenClient and ListenPeer are the listen addresses (host:port).
	ListenClient string
	ListenPeer   string

	// Tick is the period of the clock tick that drives the core; the other
	// durations are converted to ticks.
	Tick              time.Duration
	ElectionTimeout   time.Duration
	HeartbeatInterval time.Duration

	ReadMode ReadMode
	// RequestTimeout bounds how long a client request waits to be applied
	// (or a read to be confirmed); then the answer is 504 (outcome unknown).
	RequestTimeout time.Duration

	// Timeouts of the client HTTP server, so a client that sends slowly or
	// holds a connection cannot keep it open for ever. Zero values take the
	// defaults (see setDefaults and the constants below).
	//
	// ClientReadTimeout bounds reading one request, headers and body
	// (http.Server.ReadTimeout and ReadHeaderTimeout): a slower client is
	// cut off (408 if the headers arrived, else the connection is closed).
	ClientReadTimeout time.Duration
	// ClientWriteTimeout bounds the time from the end of a request's
	// headers to the end of its answer (http.Server.WriteTimeout): reading
	// the body, the handler and writing the answer. It must exceed the
	// longest legitimate handler, a follower forwarding to the leader, or
	// an answer the node has is lost and the client sees an unknown outcome
	// instead. Default: ClientReadTimeout + the forward timeout
	// (RequestTimeout + forwardMargin) + responseWriteMargin.
	ClientWriteTimeout time.Duration
	// ClientIdleTimeout bounds how long a keep-alive connection waits for
	// its next request (http.Server.IdleTimeout).
	ClientIdleTimeout time.Duration

	// SegmentBytes is the WAL segment size before rollover.
	SegmentBytes int64
	// SnapshotEntries: take a snapshot every this many applied entries; the
	// snapshot sets the low-water mark below which WAL segments are deleted.
	SnapshotEntries uint64

	// EnableFaultHooks registers POST /admin/clock and /admin/crash-point.
	EnableFaultHooks bool
	Unsafe           UnsafeSet

	// ClusterSecret is the secret every peer must prove it knows before its
	// peer connection is used (node/transport). Empty: the peer port is
	// unauthenticated, which the node warns about at start.
	ClusterSecret []byte
	// MaxPeerFrameBytes bounds one peer frame, sent or received; use the
	// same on every node. Zero: sized for the largest append, and at least
	// 256 MiB for snapshots (see peerFrameBytes).
	MaxPeerFrameBytes int64

	// Tuning. Zero values take the defaults below.
	MaxInflightAppends    int
	MaxEntriesPerAppend   int
	MaxUncommittedEntries int
	// ProposalQueue and ReadQueue bound the channels into the update loop.
	ProposalQueue int
	ReadQueue     int
	// MaxBatch bounds how many queued inputs one loop iteration drains
	// before persisting (the group commit size).
	MaxBatch int

	Logger *slog.Logger
	// Clock is the base clock of all the node's time (nil: the real clock).
	// The node wraps it in a clock.Skewable for the clock fault hooks.
	Clock clock.Clock
}

// Defaults for the tuning knobs. Each bound is a limit on memory or latency.
const (
	// A follower on loopback acknowledges an append in about one fsync
	// (~2 ms); 64 in flight keeps the pipe full at >10k entries/s without
	// letting a slow follower queue unbounded work.
	defaultMaxInflightAppends = 64
	// 256 entries of ~100 bytes keep one append under ~32 KiB.
	defaultMaxEntriesPerAppend = 256
	// Backpressure: beyond this many uncommitted entries proposals get 503
	// (the core's own default, so a node never runs with two bounds).
	defaultMaxUncommittedEntries = raft.DefaultMaxUncommittedEntries
	defaultProposalQueue         = 4096
	defaultReadQueue             = 4096
	// One loop iteration drains at most this many inputs before one fsync.
	defaultMaxBatch = 1024

	// A request is a few hundred bytes, and at most maxRequestBytes (1 MiB):
	// 5 s carries a full 1 MiB body at 2 Mbit/s, and the harness's requests
	// arrive on a LAN in well under a millisecond. The request timeout does
	// not enter into it: reading the body happens before the request is
	// proposed and its timer starts.
	defaultClientReadTimeout = 5 * time.Second
	// Longer than the 90 s IdleConnTimeout of client.Transport and
	// forwardTransport, so the harness and forwarding followers retire an
	// idle connection before the node closes it. The other order races: a
	// write sent just as the node closes the connection is not replayed
	// (forwarded writes carry no idempotency key), and would be reported
	// as an unknown outcome. An idle connection costs a goroutine and its
	// buffers, so two minutes is a bounded cost.
	defaultClientIdleTimeout = 2 * time.Minute
	// forwardMargin: a follower gives the leader its whole request timeout
	// plus this much for the dial, the leader's queueing and the answer's
	// way back.
	forwardMargin = time.Second
	// responseWriteMargin: time left to write an answer (at most a long
	// list, a few MiB) after the longest handler.
	responseWriteMargin = time.Second
)

// forwardTimeout bounds a request a follower forwards to the leader: the
// leader may wait the whole request timeout before answering 504.
func (c *Config) forwardTimeout() time.Duration { return c.RequestTimeout + forwardMargin }

// minClientWriteTimeout is the longest a legitimate request takes from the
// end of its headers to its answer: its body (at most ClientReadTimeout),
// the handler (at most forwardTimeout, on a follower; a leader or a status
// request waits at most RequestTimeout) and writing the answer.
func (c *Config) minClientWriteTimeout() time.Duration {
	return c.ClientReadTimeout + c.forwardTimeout() + responseWriteMargin
}

func (c *Config) setDefaults() {
	if c.MaxInflightAppends == 0 {
		c.MaxInflightAppends = defaultMaxInflightAppends
	}
	if c.MaxEntriesPerAppend == 0 {
		c.MaxEntriesPerAppend = defaultMaxEntriesPerAppend
	}
	if c.MaxUncommittedEntries == 0 {
		c.MaxUncommittedEntries = defaultMaxUncommittedEntries
	}
	if c.ProposalQueue == 0 {
		c.ProposalQueue = defaultProposalQueue
	}
	if c.ReadQueue == 0 {
		c.ReadQueue = defaultReadQueue
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = defaultMaxBatch
	}
	if c.Unsafe == nil {
		c.Unsafe = UnsafeSet{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.ReadMode == "" {
		c.ReadMode = ReadIndex
	}
	if c.ClientReadTimeout == 0 {
		c.ClientReadTimeout = defaultClientReadTimeout
	}
	if c.ClientWriteTimeout == 0 {
		c.ClientWriteTimeout = c.minClientWriteTimeout()
	}
	if c.ClientIdleTimeout == 0 {
		c.ClientIdleTimeout = defaultClientIdleTimeout
	}
}

// Validate checks the configuration; each error says what to change.
func (c *Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("--id is required: give this node's name, e.g. --id n1"))
	}
	if len(c.Peers) == 0 {
		errs = append(errs, errors.New("--peers is required: list every node as id=host:port, e.g. --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002"))
	} else if _, ok := c.Peers[c.ID]; c.ID != "" && !ok {
		errs = append(errs, fmt.Errorf("--id %s is not in --peers: add %s=host:port to --peers", c.ID, c.ID))
	}
	for id := range c.Peers {
		if _, ok := c.PeerHTTP[id]; !ok {
			errs = append(errs, fmt.Errorf("no client address for peer %s: add %s=host:port to --peer-http", id, id))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required: give a writable directory for the WAL"))
	}
	if c.Tick <= 0 {
		errs = append(errs, errors.New("--tick must be positive, e.g. --tick 10ms"))
	} else {
		if c.HeartbeatInterval < c.Tick {
			errs = append(errs, fmt.Errorf("--heartbeat-interval %s is shorter than --tick %s: make it at least one tick", c.HeartbeatInterval, c.Tick))
		}
		if c.ElectionTimeout < 2*c.HeartbeatInterval {
			errs = append(errs, fmt.Errorf("--election-timeout %s must be at least twice --heartbeat-interval %s", c.ElectionTimeout, c.HeartbeatInterval))
		}
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("--request-timeout must be positive, e.g. --request-timeout 2s"))
	}
	if c.ClientReadTimeout < 0 || c.ClientWriteTimeout < 0 || c.ClientIdleTimeout < 0 {
		errs = append(errs, errors.New("client HTTP timeouts must not be negative: leave them zero for the defaults"))
	} else if c.ClientWriteTimeout > 0 && c.RequestTimeout > 0 && c.ClientWriteTimeout < c.minClientWriteTimeout() {
		errs = append(errs, fmt.Errorf("client write timeout %s is shorter than a forwarded request may take (%s = read timeout + request timeout + %s + %s): raise it or leave it zero for the default",
			c.ClientWriteTimeout, c.minClientWriteTimeout(), forwardMargin, responseWriteMargin))
	}
	if c.SegmentBytes <= 0 {
		errs = append(errs, errors.New("--segment-bytes must be positive, e.g. --segment-bytes 67108864"))
	}
	if c.SnapshotEntries == 0 {
		errs = append(errs, errors.New("--snapshot-entries must be positive, e.g. --snapshot-entries 10000"))
	}
	if _, err := ParseReadMode(string(c.ReadMode)); c.ReadMode != "" && err != nil {
		errs = append(errs, fmt.Errorf("--read-mode: %w", err))
	}
	errs = append(errs, c.validatePeers()...)
	return errors.Join(errs...)
}

// electionTicks converts the election timeout to ticks.
func (c *Config) electionTicks() int { return int(c.ElectionTimeout / c.Tick) }

// heartbeatTicks converts the heartbeat interval to ticks.
func (c *Config) heartbeatTicks() int { return int(c.HeartbeatInterval / c.Tick) }

// leaseMarginTicks is the drift margin of lease reads: the lease is the
// election timeout minus this many ticks. A follower does not vote for
// another candidate before ElectionTicks of its own ticks have passed since
// it last heard from the leader; if its monotonic clock runs at most 10%
// faster than the leader's, that takes at least 0.9 x ElectionTicks of the
// leader's ticks, so a lease of that length cannot overlap a newer leader's.
func (c *Config) leaseMarginTicks() int {
	margin := c.electionTicks() / 10
	if margin < 1 {
		margin = 1
	}
	return margin
}
