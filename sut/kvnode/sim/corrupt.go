package sim

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/node/disk"
	"github.com/faultline/faultline/node/wal"
)

// The corrupt-sector fault: a machine loses its power, and one 512-byte
// sector of what its newest WAL segment last made durable comes back
// damaged, as media corruption or a misdirected write leaves it. The
// container nemesis has no such fault (it cannot damage a disk under a
// container); the kind is the simulator's own.
//
// What the correct node does about it, and so what the fault expects:
//
//   - Damage with a valid record after it is damage inside the log: the
//     WAL refuses to open (wal.ErrCorrupt, "corrupt write-ahead log ...
//     remove this node's data dir and restart it"), and the node stays
//     down. The cluster must stay correct and available with the others.
//     At the heal the simulation does what the error tells the operator:
//     it removes the data dir and starts the node, which rejoins as after a
//     wipe (Params["refused_start.<node>"], ["operator_wiped.<node>"]).
//   - Damage in the last records, with nothing valid after it, cannot be
//     told from a torn write: the WAL cuts it off and the node starts
//     recovering, as after a disk-loss torn tail.
//
// Either way the node may have lost entries it acknowledged, so the fault
// takes part in disk-loss's budget: a majority always keeps its disks
// intact, and the heal waits for the node to catch up.
const FaultCorruptSector = "corrupt-sector"

// corruptWindowSectors is how far back from the end of the newest segment
// the damaged sector is drawn: one 4 KiB page, the last write-back unit a
// crash can have caught in flight. The last sector alone would always look
// like a torn write; a page back, valid records follow the damage.
const corruptWindowSectors = 8

// startCorruptSector draws and applies a corrupt-sector fault into f; it
// returns the heal, which starts the target (removing its data dir first if
// it refused to start on the damage) and calls done once it caught up, or
// when the wait is over.
func (w *world) startCorruptSector(f *history.Fault) (heal func(done func())) {
	targets := w.diskLossBudget(f, w.targets(f, nemesis.TargetOne, nemesis.TargetLeader, TargetFormerLeader))
	for _, n := range targets {
		n.crash()
		n.freezeArmed = false
		n.diskLost = true
		// A clean power cut: what is on the disk is exactly what was
		// fsynced, and the damage lands in it.
		n.fs.Crash(w.rand1(), disk.CrashOptions{})
		if err := w.corruptNewestSegment(n, f); err != nil {
			w.fail(err)
			return func(done func()) { done() }
		}
		down := w.logDuration(minRestartDelay, maxRestartDelay)
		f.Params["restart_after_ms."+n.id] = strconv.FormatInt(down.Milliseconds(), 10)
		inc := n.incarnation
		w.after(down, func() {
			if n.incarnation == inc {
				w.restart(n)
			}
		})
	}
	return func(done func()) {
		// The start's record shares the map: the stop's parameters go in
		// a copy.
		f.Params = maps.Clone(f.Params)
		for _, n := range targets {
			w.restart(n)
			if n.refusedStart != nil {
				f.Params["refused_start."+n.id] = firstClause(n.refusedStart)
				f.Params["operator_wiped."+n.id] = "true"
				n.fs, n.corruptWAL, n.refusedStart = disk.NewSim(), false, nil
				w.restart(n)
			}
		}
		deadline := w.now + catchUpWait
		w.awaitCatchUp(f, targets, deadline, done)
	}
}

// corruptNewestSegment damages one sector within the last page of n's
// newest WAL segment, durably, and records which in f.
func (w *world) corruptNewestSegment(n *node, f *history.Fault) error {
	dataDir := w.nodeConfig(n.id).DataDir
	path, size, err := newestSegment(n.fs, dataDir)
	if err != nil || size == 0 {
		f.Params["no_log_to_corrupt."+n.id] = "true"
		return err
	}
	last := (size - 1) / disk.SectorBytes
	sector := max(last-w.rng.Int64N(corruptWindowSectors), 0)
	if err := n.fs.CorruptSector(path, sector*disk.SectorBytes); err != nil {
		return fmt.Errorf("corrupt the WAL of %s: %w", n.id, err)
	}
	n.corruptWAL = true
	f.Params["file."+n.id] = filepath.Base(path)
	f.Params["offset."+n.id] = strconv.FormatInt(sector*disk.SectorBytes, 10)
	f.Params["file_bytes."+n.id] = strconv.FormatInt(size, 10)
	return nil
}

// newestSegment returns the path and size of the newest WAL segment in
// dataDir ("" when there is none).
func newestSegment(fsys *disk.Sim, dataDir string) (path string, size int64, err error) {
	entries, err := fsys.ReadDir(dataDir)
	if err != nil {
		return "", 0, fmt.Errorf("list WAL segments in %s: %w", dataDir, err)
	}
	// Segment names sort in log order: the last is the newest.
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.IsDir() || !strings.HasSuffix(e.Name(), walSegmentSuffix) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return "", 0, fmt.Errorf("stat WAL segment %s: %w", e.Name(), err)
		}
		return filepath.Join(dataDir, e.Name()), info.Size(), nil
	}
	return "", 0, nil
}

// refusesCorruptWAL reports whether err is the refusal to start that
// damage this node's disk took on purpose explains: any other failure to
// start, and this one on a disk nobody damaged, is a finding.
func (n *node) refusesCorruptWAL(err error) bool {
	return n.corruptWAL && errors.Is(err, wal.ErrCorrupt)
}

// firstClause shortens an error to what a report's parameter shows: the
// text before the first ';' (the corrupt-WAL error goes on to tell the
// operator what to do).
func firstClause(err error) string {
	s, _, _ := strings.Cut(err.Error(), ";")
	return s
}
