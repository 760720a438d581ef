package server

import (
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"time"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/kv"
	"github.com/faultline/faultline/node/raft"
)

// A node can be driven from outside instead of by its own goroutines: the
// deterministic simulation (package sim) builds it with NewDriven and calls
// the update loop's steps one input at a time, from one goroutine. The
// production loop (run) calls the very same steps, so a driven node runs the
// node's logic, not a copy of it; only the world around it (network, clock,
// disk, clients) differs. The request-handling decisions (route,
// readPath, timeoutResult) are shared with the HTTP handlers the same way.

// PeerSender carries the core's messages to their peers. It may drop
// messages (a lost connection, a full queue): the core retries. The peer
// transport (node/transport) implements it in production. Send copies
// the messages it keeps: the node reuses the slice after Send returns.
type PeerSender interface {
	Send(msgs []raft.Message)
}

// Drive is what a driven node takes from its driver instead of making it
// itself.
type Drive struct {
	// Rand is the core's only randomness (election timeouts); required.
	Rand *rand.Rand
	// Peers carries outgoing messages; required. Incoming ones are handed
	// to Deliver.
	Peers PeerSender
}

// NewDriven builds a node that binds no listener, starts no goroutine and
// reads time only from cfg.Clock: its driver calls Tick, Deliver and Handle
// with the inputs and Process after them, all from one goroutine. It
// recovers its state from the data dir exactly as New does. Close releases
// it; a crash is modelled by dropping it without Close.
func NewDriven(cfg Config, d Drive) (*Server, error) {
	if d.Rand == nil || d.Peers == nil {
		return nil, errors.New("a driven node needs a Rand and a PeerSender")
	}
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	s.rng = d.Rand
	s.peers = d.Peers
	if err := s.open(); err != nil {
		s.closeResources()
		return nil, err
	}
	s.publish()
	return s, nil
}

// Close releases a driven node's WAL (a clean shutdown).
func (s *Server) Close() { s.closeResources() }

// Tick is the ticker's input: the time elapsed on the base clock since the
// last tick becomes core ticks.
func (s *Server) Tick() { s.tick() }

// Deliver is one message received from a peer.
func (s *Server) Deliver(m raft.Message) { s.step(m) }

// Process ends the loop iterations an input starts (see process): call it
// after Tick, Deliver or Handle. As run does, it iterates again, without
// waiting for another input, while the core has something ready: a
// leader's own fsync can complete a commit quorum, and what it committed is
// applied and answered at once, not at the next input. A core that still
// has something ready after maxIdleIterations iterations would keep a real
// node's loop spinning (a core busy for ever, never blocking on its
// inputs); Process then returns an error wrapping ErrBusyLoop. Any other
// error means persisting failed and the node must stop.
func (s *Server) Process() error {
	for range maxIdleIterations {
		if err := s.process(); err != nil {
			return err
		}
		if !s.raft.HasReady() {
			return nil
		}
	}
	return fmt.Errorf("%w: the core still has something ready after %d iterations without an input", ErrBusyLoop, maxIdleIterations)
}

// maxIdleIterations bounds the loop iterations one input may start. A
// correct core needs a few: one per committedEntriesPerReady (at least
// 1024) entries left to apply, one more for what applying and persisting
// released.
const maxIdleIterations = 1000

// ErrBusyLoop is Process's error for an update loop that never goes idle.
var ErrBusyLoop = errors.New("update loop busy")

// Request is one client request, whatever carried it: a write (Op
// kv.OpPut, kv.OpCAS or kv.OpAppend) or a read (Op empty).
type Request struct {
	Op       string
	Key      string
	Value    string
	Expect   string
	ClientID string
	Seq      uint64
	// ForwardedBy names the follower that forwarded the request ("" when a
	// client sent it here).
	ForwardedBy string
}

// Answer is a node's answer to a request: the HTTP status it has in the
// API and the JSON body.
type Answer struct {
	Status int
	Body   client.KVResponse
}

// Admission is what a node does with a request on arrival: exactly one of
// Answer (answered at once), Forward (send it to that node, the leader,
// with ForwardedBy set) and Pending (handed to the update loop) is set.
type Admission struct {
	Answer  *Answer
	Forward string
	Pending *Pending
}

// Pending is a request the update loop holds; Poll returns its answer once
// the loop has one.
type Pending struct {
	done chan writeResult
	what string
	// answer is the answer once taken from done.
	answer *Answer
}

// Poll returns the request's answer, if the loop has given one.
func (p *Pending) Poll() (Answer, bool) {
	if p.answer == nil {
		select {
		case res := <-p.done:
			p.answer = &Answer{Status: res.status, Body: res.body}
		default:
			return Answer{}, false
		}
	}
	return *p.answer, true
}

// Handle admits a request as the HTTP handlers do (the same routing, the
// same checks), except that a request for the loop is handed to it
// directly instead of through its bounded channels: the driver is the loop.
// Call Process afterwards.
func (s *Server) Handle(req Request) Admission {
	if err := checkKey(req.Key); err != nil {
		return Admission{Answer: &Answer{Status: http.StatusBadRequest, Body: client.KVResponse{Error: err.Error()}}}
	}
	view := s.view.Load()
	path := s.readPath()
	local := view.isLeader
	if req.Op == "" {
		local = s.servesReadHere(view, path)
	}
	switch rt := s.route(view, local, req.ForwardedBy); {
	case rt.refuse != nil:
		return Admission{Answer: &Answer{Status: http.StatusServiceUnavailable, Body: client.KVResponse{Error: rt.refuse.Error()}}}
	case rt.leader != "":
		return Admission{Forward: rt.leader}
	}
	if req.Op == "" {
		r := newReadRequest(req.Key, path)
		s.read(r)
		return Admission{Pending: &Pending{done: r.done, what: "read"}}
	}
	p := newProposal(kv.Command{Op: req.Op, Key: req.Key, Value: req.Value, Expect: req.Expect, ClientID: req.ClientID, Seq: req.Seq})
	close(p.replied) // nobody waits to flush an answer to a socket
	s.propose(p)
	return Admission{Pending: &Pending{done: p.done, what: "write"}}
}

// Expire is the answer to a pending request whose request timeout passed
// without an answer from the loop: 504, outcome unknown (as await).
func (s *Server) Expire(p *Pending) Answer {
	res := s.timeoutResult(p.what)
	return Answer{Status: res.status, Body: res.body}
}

// Status is GET /status, with the state digest.
func (s *Server) Status() client.Status { return s.statusLocked(true).status }

// Leading returns the generation this node leads, or false if it does not.
func (s *Server) Leading() (uint64, bool) {
	v := s.view.Load()
	return v.status.Generation, v.isLeader
}

// Timeouts returns how long a request waits for the loop's answer
// (RequestTimeout) and how long a follower waits for the leader's answer to
// a request it forwarded.
func (s *Server) Timeouts() (request, forward time.Duration) {
	return s.cfg.RequestTimeout, s.cfg.forwardTimeout()
}

// route is where a request that arrived at this node is served: here
// (neither field set), forwarded to leader, or refused (503, definitely
// not applied).
type route struct {
	leader string
	refuse error
}

// route decides where a request goes. local says this node serves it itself
// (the leader for a write; see servesReadHere for a read). A request some
// follower already forwarded is never forwarded again, so requests cannot
// loop; without a known leader there is nobody to forward to.
func (s *Server) route(view *statusView, local bool, forwardedBy string) route {
	if local {
		return route{}
	}
	if forwardedBy != "" {
		return route{refuse: fmt.Errorf("request forwarded by %s reached %s, which is not the leader (leader: %q); retry",
			forwardedBy, s.cfg.ID, view.status.Leader)}
	}
	leader := view.status.Leader
	if leader == "" || leader == s.cfg.ID {
		return route{refuse: errNoLeader}
	}
	return route{leader: leader}
}

// readPath is how this node confirms a read, from its read mode and unsafe
// switches.
func (s *Server) readPath() readPath {
	switch {
	case s.cfg.Unsafe.On(UnsafeStaleRead):
		// UNSAFE(stale-read): every node, a follower or a deposed leader
		// included, answers from its local state without asking anyone.
		return readLocalPath
	case s.cfg.ReadMode == ReadLocal:
		return readLocalPath
	case s.cfg.ReadMode == ReadLease, s.cfg.Unsafe.On(UnsafeLeaseWallclock):
		// lease-wallclock implies lease reads, whatever the read mode.
		return readLeasePath
	}
	return readIndexPath
}

// servesReadHere reports whether this node serves a read on path itself:
// a local read, the leader, or a node holding the lease-wallclock lease.
func (s *Server) servesReadHere(view *statusView, path readPath) bool {
	return path == readLocalPath || view.isLeader || s.clock.Now().Before(view.wallLeaseUntil)
}

func newProposal(cmd kv.Command) *proposal {
	return &proposal{cmd: cmd, data: cmd.Encode(), done: make(chan writeResult, 1), replied: make(chan struct{})}
}

func newReadRequest(key string, path readPath) *readRequest {
	return &readRequest{key: key, path: path, done: make(chan writeResult, 1)}
}

// timeoutResult is the answer to a request the loop did not answer within
// the request timeout: a write proposed but not seen applied may still take
// effect, so the outcome is unknown (504).
func (s *Server) timeoutResult(what string) writeResult {
	return errorResult(http.StatusGatewayTimeout,
		fmt.Errorf("%s not confirmed within %s; outcome unknown", what, s.cfg.RequestTimeout))
}
