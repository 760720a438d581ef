package disk

import (
	"fmt"
	"math/rand"
	"path/filepath"
)

// CrashOptions chooses what a crash may do beyond losing what was not
// fsynced. The zero value is a clean power cut: every file and directory
// reverts to exactly its durable state.
type CrashOptions struct {
	// TornWrites: each file keeps a prefix, of a length drawn from the rng
	// (none and all included), of the bytes appended since its last fsync.
	// The cut may fall anywhere, in the middle of a record too. A file
	// changed by more than appending since its last fsync is kept whole or
	// reverted whole, one draw per file.
	TornWrites bool
	// CorruptSector: one 512-byte sector, drawn from those holding kept
	// unsynced bytes, has those bytes replaced with garbage. Nothing
	// happens when the crash kept no unsynced bytes.
	CorruptSector bool
}

// Sector names one SectorBytes-long sector of a file by its first byte.
type Sector struct {
	Path   string
	Offset int64
}

// CrashReport says what a crash did to the files that survived it (files
// whose directory entry was lost are gone whole and not counted).
type CrashReport struct {
	// DroppedBytes counts bytes changed since their file's last fsync that
	// the crash threw away.
	DroppedBytes int64
	// KeptBytes counts bytes changed since their file's last fsync that
	// the crash kept (torn writes).
	KeptBytes int64
	// Corrupted is the sector CrashOptions.CorruptSector damaged, or nil.
	Corrupted *Sector
}

// keptRange is a run of unsynced bytes a crash kept in one file.
type keptRange struct {
	path     string
	file     *inode
	from, to int
}

// Crash simulates a power cut followed by a reboot: every directory
// reverts to the entries it had at its last SyncDir, every surviving file
// to its durable content, except what opts lets the crash keep or damage.
// Handles opened before the crash are dead after it. All random choices
// come from rng, drawn in path order, so one seed gives one result.
func (s *Sim) Crash(rng *rand.Rand, opts CrashOptions) CrashReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation++
	s.opsBeforeFreeze = -1
	var report CrashReport
	var kept []keptRange
	visited := map[*inode]bool{}
	var visit func(dir *inode, path string)
	visit = func(dir *inode, path string) {
		dir.entries = cloneEntries(dir.durableEntries)
		for _, name := range sortedNames(dir.entries) {
			n := dir.entries[name]
			if visited[n] {
				continue // a second name of one inode, left by a rename across directories
			}
			visited[n] = true
			p := filepath.Join(path, name)
			if n.dir {
				visit(n, p)
				continue
			}
			if from, to := n.crash(rng, opts.TornWrites, &report); to > from {
				kept = append(kept, keptRange{path: p, file: n, from: from, to: to})
			}
		}
	}
	visit(s.root, "/")
	if opts.CorruptSector {
		report.Corrupted = corruptKept(rng, kept)
	}
	return report
}

// crash reverts one file to what survives the crash and returns the range
// of unsynced bytes it kept (from == to when none).
func (n *inode) crash(rng *rand.Rand, torn bool, report *CrashReport) (from, to int) {
	defer n.sync() // what is on the disk after the reboot is durable
	if n.durableCopy != nil {
		changed := len(n.data) - commonPrefixBytes(n.data, n.durableCopy)
		if torn && rng.Intn(2) == 0 {
			report.KeptBytes += int64(changed)
			return 0, 0
		}
		report.DroppedBytes += int64(changed)
		n.data = n.durableCopy
		return 0, 0
	}
	appended := len(n.data) - n.syncedBytes
	if appended == 0 {
		return 0, 0
	}
	keep := 0
	if torn {
		keep = rng.Intn(appended + 1)
	}
	report.KeptBytes += int64(keep)
	report.DroppedBytes += int64(appended - keep)
	n.data = n.data[:n.syncedBytes+keep]
	return n.syncedBytes, n.syncedBytes + keep
}

func commonPrefixBytes(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// corruptKept damages the kept unsynced bytes of one sector drawn from
// those that hold any.
func corruptKept(rng *rand.Rand, kept []keptRange) *Sector {
	type candidate struct {
		keptRange
		sector int
	}
	var candidates []candidate
	for _, k := range kept {
		for sector := k.from / SectorBytes * SectorBytes; sector < k.to; sector += SectorBytes {
			candidates = append(candidates, candidate{keptRange: k, sector: sector})
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	c := candidates[rng.Intn(len(candidates))]
	from, to := max(c.sector, c.from), min(c.sector+SectorBytes, c.to)
	for i := from; i < to; i++ {
		// XOR with a non-zero byte: every byte changes.
		c.file.data[i] ^= byte(1 + rng.Intn(255))
	}
	return &Sector{Path: c.path, Offset: int64(c.sector)}
}

// CorruptSector damages, durably, the SectorBytes-long sector of the file
// name that holds byte offset, as media corruption would: every byte of it
// (up to the end of the file) is inverted, in what reads see and in what a
// crash leaves.
func (s *Sim) CorruptSector(name string, offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.lookup("corrupt", name, false)
	if err != nil {
		return err
	}
	if offset < 0 || offset >= int64(len(n.data)) {
		return fmt.Errorf("corrupt %s: offset %d is outside the file's %d bytes", name, offset, len(n.data))
	}
	from := int(offset) / SectorBytes * SectorBytes
	invert(n.data, from)
	if n.durableCopy != nil {
		// Otherwise the durable bytes are data[:syncedBytes], inverted above.
		invert(n.durableCopy, from)
	}
	return nil
}

// invert inverts the bytes of b in [from, from+SectorBytes).
func invert(b []byte, from int) {
	for i := from; i < min(from+SectorBytes, len(b)); i++ {
		b[i] ^= 0xff
	}
}

// TearTail durably replaces the last cutBytes bytes of the file name with
// tail, as a disk that lost writes it had reported durable and was left
// holding part of one: reads, and every later crash, see the file cut there
// and ending in tail. The cut is measured from the end of the file as reads
// see it, unsynced bytes included, and what is left becomes the file's
// durable content. It is damage done to the disk from outside the machine,
// like CorruptSector: it is no operation of the machine, so FreezeAfter
// neither counts nor stops it.
func (s *Sim) TearTail(name string, cutBytes int64, tail []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.lookup("tear", name, false)
	if err != nil {
		return err
	}
	if cutBytes < 0 || cutBytes > int64(len(n.data)) {
		return fmt.Errorf("tear %s: cannot cut %d bytes off its %d bytes", name, cutBytes, len(n.data))
	}
	keep := len(n.data) - int(cutBytes)
	n.truncate(keep)
	n.write(tail, int64(keep))
	n.sync()
	return nil
}
