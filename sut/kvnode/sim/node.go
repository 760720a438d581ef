package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/faultline/faultline/node/clock"
	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/raft"
	"github.com/faultline/faultline/node/server"
)

// node is one simulated kvnode process: the production server driven one
// input at a time, its disk, and what the world does to it (down, paused).
type node struct {
	w  *world
	id string
	// fs is the node's disk; it outlives the process.
	fs *disk.Sim
	// srv is the running process, nil while it is down.
	srv *server.Server
	// incarnation counts restarts: an input meant for an earlier process
	// (an answer it awaited, a timeout it set) is dropped.
	incarnation int
	// startedAt is when the process last started (a disk loss's recovery
	// time runs from there).
	startedAt time.Duration
	// paused: the process is stopped (SIGSTOP); its inputs wait in backlog.
	paused  bool
	backlog []func()
	// pending are the requests the update loop holds, in arrival order.
	pending []*pendingRequest
	// freezeArmed: a step-crash fault armed the disk to stop the machine
	// within its next operations (disk.Sim.FreezeAfter); the next crash of
	// any kind is then a power cut, which disarms it.
	freezeArmed bool
	// corruptWAL: a corrupt-sector fault damaged the WAL on the node's
	// disk, so a start may be refused with wal.ErrCorrupt; refusedStart
	// is that refusal, and the node stays down until the fault's heal
	// removes its data dir.
	corruptWAL   bool
	refusedStart error
	// diskLost: a disk-loss or corrupt-sector fault took what the node
	// had made durable, and the node has not been seen caught up since.
	diskLost bool
	// downRecovering: the process went down recovering, so its data dir
	// holds the recovering mark and it restarts recovering.
	downRecovering bool
}

// pendingRequest is a request handed to the node's update loop; reply gets
// its answer (or the request-timeout answer) exactly once.
type pendingRequest struct {
	p     *server.Pending
	reply func(server.Answer)
	done  bool
}

// baseClock is a node's monotonic clock: the world's simulated time. Clock
// faults skew the node's Skewable clock over it, as /admin/clock does.
type baseClock struct{ w *world }

func (c baseClock) Now() time.Time                  { return simEpoch.Add(c.w.now) }
func (c baseClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c baseClock) NewTicker(time.Duration) clock.Ticker {
	panic("sim: a driven node makes no ticker; the world ticks it")
}

// simEpoch is the wall-clock reading of every node at simulated time 0.
var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// peerSender hands one node's messages to the simulated network.
type peerSender struct{ n *node }

func (p peerSender) Send(msgs []raft.Message) {
	for _, m := range msgs {
		p.n.w.net.send(m)
	}
}

// start builds the process from the node's disk through the production
// recovery path (server.NewDriven opens the WAL and replays it).
func (n *node) start() error {
	cfg := n.w.nodeConfig(n.id)
	cfg.FS = n.fs
	srv, err := server.NewDriven(cfg, server.Drive{
		Rand:  n.w.rand1(),
		Peers: peerSender{n},
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", n.id, err)
	}
	n.srv = srv
	n.startedAt = n.w.now
	// The WAL opened: whatever damage it found, it cut off as a torn tail.
	n.corruptWAL = false
	n.incarnation++
	n.paused = false
	n.backlog = nil
	n.srv.Tick()
	n.process()
	return nil
}

// crash kills the process: everything in memory is gone, the disk stays as
// a killed process leaves it.
func (n *node) crash() {
	if n.srv != nil {
		n.downRecovering = n.srv.Status().Recovering
	}
	n.srv = nil
	n.incarnation++
	n.paused = false
	n.backlog = nil
	n.pending = nil
}

// powerCut crashes the process and the machine: the disk loses what was
// not fsynced, and the last writes may be torn (see mayTearWrites). It
// returns the bytes lost.
func (n *node) powerCut() int64 {
	torn := n.w.mayTearWrites(n)
	n.crash()
	n.freezeArmed = false
	return n.fs.Crash(n.w.rand1(), disk.CrashOptions{TornWrites: torn}).DroppedBytes
}

// up reports whether the process runs (paused or not).
func (n *node) up() bool { return n.srv != nil }

// input runs fn on the process of incarnation inc, then ends the loop
// iteration: at once if it runs, later if it is paused, never if that
// process is gone.
func (n *node) input(inc int, fn func(*server.Server)) {
	if n.srv == nil || n.incarnation != inc {
		return
	}
	if n.paused {
		n.backlog = append(n.backlog, func() { n.input(inc, fn) })
		return
	}
	fn(n.srv)
	n.process()
}

// deliver is input for a message from a peer, without a closure per
// message unless the process is paused.
func (n *node) deliver(inc int, m raft.Message) {
	if n.srv == nil || n.incarnation != inc {
		return
	}
	if n.paused {
		n.backlog = append(n.backlog, func() { n.deliver(inc, m) })
		return
	}
	n.srv.Deliver(m)
	n.process()
}

// resume continues a paused process with the inputs it missed, in order.
func (n *node) resume() {
	if !n.paused {
		return
	}
	n.paused = false
	backlog := n.backlog
	n.backlog = nil
	for _, fn := range backlog {
		fn()
	}
	if n.srv != nil {
		n.srv.Tick()
		n.process()
	}
}

// process runs the end of the update loop's iterations and hands every
// answer the loop gave to its requester. A persistence error stops the
// node, as it stops a real one; a loop that never goes idle ends the run.
func (n *node) process() {
	if err := n.srv.Process(); err != nil {
		if errors.Is(err, server.ErrBusyLoop) {
			// A real node's loop would never block again and keep a core
			// busy for ever (taking its inputs between iterations); the
			// simulation runs an input's iterations at one instant of
			// simulated time, so the run cannot go on.
			n.w.fail(fmt.Errorf("%s at %v: %w", n.id, n.w.now, err))
			return
		}
		n.w.logf("%s stopped: %v", n.id, err)
		if errors.Is(err, disk.ErrFrozen) {
			// The machine stopped inside a step (a step-crash fault): the
			// power goes, and it comes back after a short while. Answers
			// the loop gave before it stopped were already on their way
			// (a handler answers as soon as the loop hands it a result).
			n.answer()
			n.powerCut()
			n.w.restartSoon(n)
			return
		}
		n.crash()
		return
	}
	if gen, ok := n.srv.Leading(); ok {
		n.w.sawLeader(n.id, gen)
	}
	n.answer()
}

// answer hands every answer the loop gave to its requester.
func (n *node) answer() {
	kept := n.pending[:0]
	for _, pr := range n.pending {
		if pr.done {
			continue
		}
		if a, ok := pr.p.Poll(); ok {
			pr.done = true
			pr.reply(a)
			continue
		}
		kept = append(kept, pr)
	}
	clear(n.pending[len(kept):])
	n.pending = kept
}

// hold tracks a request the loop took; after the node's request timeout it
// gets the timeout answer (504) unless the loop answered first.
func (n *node) hold(p *server.Pending, reply func(server.Answer)) {
	pr := &pendingRequest{p: p, reply: reply}
	n.pending = append(n.pending, pr)
	request, _ := n.srv.Timeouts()
	inc := n.incarnation
	n.w.after(request, func() {
		n.input(inc, func(srv *server.Server) {
			if !pr.done {
				pr.done = true
				pr.reply(srv.Expire(p))
			}
		})
	})
}

// tickLoop ticks the node every tick of simulated time while it runs.
func (n *node) tickLoop(tick time.Duration) {
	n.w.after(tick, func() {
		n.input(n.incarnation, func(srv *server.Server) { srv.Tick() })
		n.tickLoop(tick)
	})
}

// newLogger is the nodes' logger: silent unless the run is verbose.
func newLogger(verbose bool) *slog.Logger {
	if verbose {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}
