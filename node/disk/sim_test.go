package disk

import (
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// create creates name with data, fsyncing the file when sync is set.
func create(t *testing.T, fsys FS, name, data string, sync bool) {
	t.Helper()
	write(t, fsys, name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, data, sync)
}

// appendTo appends data to name, fsyncing the file when sync is set.
func appendTo(t *testing.T, fsys FS, name, data string, sync bool) {
	t.Helper()
	write(t, fsys, name, os.O_WRONLY|os.O_APPEND, data, sync)
}

func write(t *testing.T, fsys FS, name string, flag int, data string, sync bool) {
	t.Helper()
	f, err := fsys.OpenFile(name, flag, 0o640)
	require.NoError(t, err)
	_, err = f.Write([]byte(data))
	require.NoError(t, err)
	if sync {
		require.NoError(t, f.Sync())
	}
	require.NoError(t, f.Close())
}

// contents returns every file under dir, by path relative to dir, with its
// content; a missing dir gives an empty map.
func contents(t *testing.T, fsys FS, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(string)
	walk = func(d string) {
		entries, err := fsys.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		require.NoError(t, err)
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			if e.IsDir() {
				walk(p)
				continue
			}
			b, err := fsys.ReadFile(p)
			require.NoError(t, err)
			rel, err := filepath.Rel(dir, p)
			require.NoError(t, err)
			out[rel] = string(b)
		}
	}
	walk(dir)
	return out
}

// newSimWithDir returns a Sim holding /d durably.
func newSimWithDir(t *testing.T) *Sim {
	t.Helper()
	s := NewSim()
	require.NoError(t, MkdirAll(s, "/d", 0o750))
	return s
}

func TestCleanCrashKeepsOnlyWhatWasSynced(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, s *Sim)
		want map[string]string // files under /d after the crash
	}{
		{"write without fsync is lost, the synced entry stays", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a", "", false)
			require.NoError(t, s.SyncDir("/d"))
			appendTo(t, s, "/d/a", "hello", false)
		}, map[string]string{"a": ""}},
		{"file and directory synced: kept", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a", "hello", true)
			require.NoError(t, s.SyncDir("/d"))
		}, map[string]string{"a": "hello"}},
		{"file synced, directory not: the new file vanishes", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a", "hello", true)
		}, map[string]string{}},
		{"append after a sync loses only the unsynced part", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a", "one,", true)
			require.NoError(t, s.SyncDir("/d"))
			appendTo(t, s, "/d/a", "two,", true)
			appendTo(t, s, "/d/a", "three", false)
		}, map[string]string{"a": "one,two,"}},
		{"rename without directory fsync is undone", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a.tmp", "new", true)
			create(t, s, "/d/a", "old", true)
			require.NoError(t, s.SyncDir("/d"))
			require.NoError(t, s.Rename("/d/a.tmp", "/d/a"))
		}, map[string]string{"a.tmp": "new", "a": "old"}},
		{"rename with directory fsync is kept", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a.tmp", "new", true)
			create(t, s, "/d/a", "old", true)
			require.NoError(t, s.SyncDir("/d"))
			require.NoError(t, s.Rename("/d/a.tmp", "/d/a"))
			require.NoError(t, s.SyncDir("/d"))
		}, map[string]string{"a": "new"}},
		{"remove without directory fsync: the file comes back with its durable content", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a", "kept", true)
			require.NoError(t, s.SyncDir("/d"))
			appendTo(t, s, "/d/a", "-lost", false)
			require.NoError(t, s.Remove("/d/a"))
		}, map[string]string{"a": "kept"}},
		{"remove with directory fsync is kept", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a", "kept", true)
			require.NoError(t, s.SyncDir("/d"))
			require.NoError(t, s.Remove("/d/a"))
			require.NoError(t, s.SyncDir("/d"))
		}, map[string]string{}},
		{"truncate without fsync is undone", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a", "0123456789", true)
			require.NoError(t, s.SyncDir("/d"))
			f, err := s.OpenFile("/d/a", os.O_WRONLY, 0)
			require.NoError(t, err)
			require.NoError(t, f.Truncate(3))
			_, err = f.Write([]byte("xyz"))
			require.NoError(t, err)
		}, map[string]string{"a": "0123456789"}},
		{"overwrite without fsync is undone", func(t *testing.T, s *Sim) {
			create(t, s, "/d/a", "0123456789", true)
			require.NoError(t, s.SyncDir("/d"))
			f, err := s.OpenFile("/d/a", os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte("ab"), 2)
			require.NoError(t, err)
		}, map[string]string{"a": "0123456789"}},
		{"a subdirectory not synced into its parent takes its synced files with it", func(t *testing.T, s *Sim) {
			require.NoError(t, s.Mkdir("/d/sub", 0o750))
			create(t, s, "/d/sub/a", "hello", true)
			require.NoError(t, s.SyncDir("/d/sub"))
		}, map[string]string{}},
		{"MkdirAll makes the directories it creates durable", func(t *testing.T, s *Sim) {
			require.NoError(t, MkdirAll(s, "/d/sub/deeper", 0o750))
			create(t, s, "/d/sub/deeper/a", "hello", true)
			require.NoError(t, s.SyncDir("/d/sub/deeper"))
		}, map[string]string{"sub/deeper/a": "hello"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSimWithDir(t)
			tt.do(t, s)
			report := s.Crash(rand.New(rand.NewSource(1)), CrashOptions{})
			assert.Zero(t, report.KeptBytes, "a clean crash keeps nothing unsynced")
			assert.Nil(t, report.Corrupted)
			assert.Equal(t, tt.want, contents(t, s, "/d"))
		})
	}
}

// tornScript writes 100 durable bytes and 2,000 unsynced ones to /d/log.
func tornScript(t *testing.T, s *Sim) (durable, pending []byte) {
	t.Helper()
	for i := range 2100 {
		pending = append(pending, byte('a'+i%26))
	}
	create(t, s, "/d/log", string(pending[:100]), true)
	require.NoError(t, s.SyncDir("/d"))
	appendTo(t, s, "/d/log", string(pending[100:]), false)
	return pending[:100], pending
}

func TestTornWriteKeepsAPrefixOfTheUnsyncedBytes(t *testing.T) {
	lengths := map[int]bool{}
	for seed := range int64(200) {
		s := newSimWithDir(t)
		durable, pending := tornScript(t, s)
		report := s.Crash(rand.New(rand.NewSource(seed)), CrashOptions{TornWrites: true})
		got, err := s.ReadFile("/d/log")
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(got), len(durable))
		require.Equal(t, pending[:len(got)], got, "seed %d: a prefix of what was written, nothing invented", seed)
		require.Equal(t, int64(len(got)-len(durable)), report.KeptBytes)
		require.Equal(t, int64(len(pending)-len(got)), report.DroppedBytes)
		lengths[len(got)] = true

		// What the crash kept is durable now: a second crash keeps it.
		s.Crash(rand.New(rand.NewSource(seed)), CrashOptions{TornWrites: true})
		again, err := s.ReadFile("/d/log")
		require.NoError(t, err)
		require.Equal(t, got, again)
	}
	assert.Greater(t, len(lengths), 100, "the cut falls at many different places")
}

func TestCrashIsDeterministic(t *testing.T) {
	run := func(seed int64) ([]byte, CrashReport) {
		s := newSimWithDir(t)
		tornScript(t, s)
		create(t, s, "/d/other", "x", false) // unsynced entry: rng draws must not depend on map order
		require.NoError(t, s.SyncDir("/d"))
		appendTo(t, s, "/d/other", "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", false)
		report := s.Crash(rand.New(rand.NewSource(seed)), CrashOptions{TornWrites: true, CorruptSector: true})
		b, err := s.ReadFile("/d/log")
		require.NoError(t, err)
		o, err := s.ReadFile("/d/other")
		require.NoError(t, err)
		return append(b, o...), report
	}
	distinct := map[string]bool{}
	for seed := range int64(50) {
		first, firstReport := run(seed)
		second, secondReport := run(seed)
		require.Equal(t, first, second, "seed %d", seed)
		require.Equal(t, firstReport, secondReport, "seed %d", seed)
		distinct[string(first)] = true
	}
	assert.Greater(t, len(distinct), 40, "different seeds give different crashes")
}

func TestCrashCorruptsOnlyKeptUnsyncedBytes(t *testing.T) {
	corrupted := 0
	for seed := range int64(200) {
		s := newSimWithDir(t)
		durable, pending := tornScript(t, s)
		report := s.Crash(rand.New(rand.NewSource(seed)), CrashOptions{TornWrites: true, CorruptSector: true})
		got, err := s.ReadFile("/d/log")
		require.NoError(t, err)
		require.Equal(t, durable, got[:len(durable)], "seed %d: durable bytes are never damaged", seed)
		if report.KeptBytes == 0 {
			require.Nil(t, report.Corrupted, "nothing unsynced kept, nothing to damage")
			continue
		}
		require.NotNil(t, report.Corrupted)
		corrupted++
		assert.Equal(t, "/d/log", report.Corrupted.Path)
		sector := int(report.Corrupted.Offset)
		assert.Zero(t, sector%SectorBytes)
		from, to := max(sector, len(durable)), min(sector+SectorBytes, len(got))
		require.Less(t, from, to)
		for i := from; i < to; i++ {
			require.NotEqual(t, pending[i], got[i], "seed %d: byte %d of the damaged sector", seed, i)
		}
		require.Equal(t, pending[len(durable):from], got[len(durable):from], "bytes before the sector are intact")
		require.Equal(t, pending[to:len(got)], got[to:], "bytes after the sector are intact")
	}
	assert.Greater(t, corrupted, 150)
}

func TestCorruptSectorIsDurable(t *testing.T) {
	s := newSimWithDir(t)
	data := make([]byte, 2*SectorBytes+10)
	create(t, s, "/d/a", string(data), true)
	require.NoError(t, s.SyncDir("/d"))

	require.NoError(t, s.CorruptSector("/d/a", SectorBytes+7))
	got, err := s.ReadFile("/d/a")
	require.NoError(t, err)
	want := append([]byte(nil), data...)
	for i := SectorBytes; i < 2*SectorBytes; i++ {
		want[i] = 0xff
	}
	assert.Equal(t, want, got, "the whole sector holding the offset, nothing else")

	s.Crash(rand.New(rand.NewSource(1)), CrashOptions{})
	got, err = s.ReadFile("/d/a")
	require.NoError(t, err)
	assert.Equal(t, want, got, "media damage survives a crash")

	assert.Error(t, s.CorruptSector("/d/a", int64(len(data))))
	assert.ErrorIs(t, s.CorruptSector("/d/missing", 0), fs.ErrNotExist)
}

// TestTearTailIsDurable: the tail a lost write leaves replaces the end of
// the file as reads see it, and a crash keeps it (no earlier durable bytes
// come back), whether or not the cut bytes were synced.
func TestTearTailIsDurable(t *testing.T) {
	tests := []struct {
		name     string
		synced   string
		unsynced string
		cutBytes int64
		tail     string
		want     string
	}{
		{"cut into durable bytes", "0123456789", "", 4, "##", "012345##"},
		{"cut into unsynced bytes", "0123456789", "abc", 2, "#", "0123456789a#"},
		{"cut across the last fsync", "0123456789", "abc", 5, "#", "01234567#"},
		{"cut the whole file", "0123", "45", 6, "#", "#"},
		{"nothing cut, tail appended", "0123", "", 0, "##", "0123##"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSimWithDir(t)
			create(t, s, "/d/a", tt.synced, true)
			require.NoError(t, s.SyncDir("/d"))
			if tt.unsynced != "" {
				appendTo(t, s, "/d/a", tt.unsynced, false)
			}
			require.NoError(t, s.TearTail("/d/a", tt.cutBytes, []byte(tt.tail)))
			got, err := s.ReadFile("/d/a")
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))

			s.Crash(rand.New(rand.NewSource(1)), CrashOptions{TornWrites: true})
			got, err = s.ReadFile("/d/a")
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got), "the torn tail is what the disk holds")
		})
	}
}

func TestTearTailErrors(t *testing.T) {
	s := newSimWithDir(t)
	create(t, s, "/d/a", "0123", true)
	require.NoError(t, s.SyncDir("/d"))
	assert.Error(t, s.TearTail("/d/a", 5, nil), "more than the file holds")
	assert.Error(t, s.TearTail("/d/a", -1, nil))
	assert.ErrorIs(t, s.TearTail("/d/missing", 0, nil), fs.ErrNotExist)
	assert.ErrorIs(t, s.TearTail("/d", 0, nil), syscall.EISDIR)

	s.FreezeAfter(0)
	require.NoError(t, s.TearTail("/d/a", 1, []byte("#")), "damage from outside needs no running machine")
	s.Crash(rand.New(rand.NewSource(1)), CrashOptions{})
	got, err := s.ReadFile("/d/a")
	require.NoError(t, err)
	assert.Equal(t, "012#", string(got))
}

func TestHandlesDieInACrash(t *testing.T) {
	s := newSimWithDir(t)
	f, err := s.OpenFile("/d/a", os.O_CREATE|os.O_WRONLY, 0o640)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, s.SyncDir("/d"))
	s.Crash(rand.New(rand.NewSource(1)), CrashOptions{})

	_, err = f.Write([]byte("after"))
	assert.Error(t, err, "a dead process writes nothing")
	assert.Error(t, f.Sync())
	got, err := s.ReadFile("/d/a")
	require.NoError(t, err)
	assert.Empty(t, got)
}

// TestSimAgreesWithOS runs one script of operations, without crashes, on
// the real file system and on Sim, and compares every result.
func TestSimAgreesWithOS(t *testing.T) {
	script := func(t *testing.T, fsys FS, dir string) []string {
		var log []string
		note := func(what string, err error) {
			switch {
			case err == nil:
				log = append(log, what+": ok")
			case errors.Is(err, fs.ErrNotExist):
				log = append(log, what+": not exist")
			case errors.Is(err, fs.ErrExist):
				log = append(log, what+": exist")
			default:
				log = append(log, what+": error")
			}
		}
		p := func(name string) string { return filepath.Join(dir, name) }
		_, err := fsys.OpenFile(p("missing"), os.O_RDONLY, 0)
		note("open missing", err)
		create(t, fsys, p("a"), "hello", true)
		_, err = fsys.OpenFile(p("a"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		note("create existing exclusively", err)

		f, err := fsys.OpenFile(p("a"), os.O_RDWR|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte(" world"))
		note("append", err)
		_, err = f.WriteAt([]byte("x"), 0)
		note("write at on an append-only file", err)
		require.NoError(t, f.Close())
		_, err = f.Write([]byte("x"))
		note("write after close", err)

		f, err = fsys.OpenFile(p("a"), os.O_RDONLY, 0)
		require.NoError(t, err)
		b, err := io.ReadAll(f)
		require.NoError(t, err)
		log = append(log, "read: "+string(b))
		_, err = f.Write([]byte("x"))
		note("write on a read-only file", err)
		info, err := f.Stat()
		require.NoError(t, err)
		log = append(log, "stat: "+info.Name(), "size: "+strconv.FormatInt(info.Size(), 10))
		require.NoError(t, f.Close())

		f, err = fsys.OpenFile(p("a"), os.O_WRONLY, 0)
		require.NoError(t, err)
		note("truncate", f.Truncate(2))
		_, err = f.WriteAt([]byte("LLO"), 4)
		note("write at past the end", err)
		require.NoError(t, f.Close())
		b, err = fsys.ReadFile(p("a"))
		require.NoError(t, err)
		log = append(log, "after truncate and write at: "+string(b))

		note("mkdir", fsys.Mkdir(p("sub"), 0o750))
		note("mkdir again", fsys.Mkdir(p("sub"), 0o750))
		note("rename into sub", fsys.Rename(p("a"), p("sub/b")))
		note("remove non-empty dir", fsys.Remove(p("sub")))
		note("remove missing", fsys.Remove(p("a")))
		_, err = fsys.Stat(p("sub/b"))
		note("stat renamed", err)
		entries, err := fsys.ReadDir(p("sub"))
		require.NoError(t, err)
		for _, e := range entries {
			log = append(log, "entry: "+e.Name())
		}
		_, err = fsys.ReadDir(p("sub/b"))
		note("read dir of a file", err)
		note("sync dir", fsys.SyncDir(p("sub")))
		note("remove file", fsys.Remove(p("sub/b")))
		note("remove empty dir", fsys.Remove(p("sub")))
		_, err = fsys.ReadFile(p("sub/b"))
		note("read removed", err)
		return log
	}
	real := script(t, OS{}, t.TempDir())
	sim := newSimWithDir(t)
	assert.Equal(t, real, script(t, sim, "/d"))
}

func TestFreezeStopsTheMachineUntilTheCrash(t *testing.T) {
	s := newSimWithDir(t)
	f, err := s.OpenFile("/d/a", os.O_CREATE|os.O_WRONLY, 0o640)
	require.NoError(t, err)
	require.NoError(t, s.SyncDir("/d"))

	s.FreezeAfter(1)
	_, err = f.Write([]byte("written, never synced"))
	require.NoError(t, err, "one more operation is allowed")
	assert.ErrorIs(t, f.Sync(), ErrFrozen)
	_, err = s.OpenFile("/d/b", os.O_CREATE|os.O_WRONLY, 0o640)
	assert.ErrorIs(t, err, ErrFrozen)
	_, err = s.Stat("/d/a")
	assert.ErrorIs(t, err, ErrFrozen, "reads count too")

	s.Crash(rand.New(rand.NewSource(1)), CrashOptions{})
	assert.Equal(t, map[string]string{"a": ""}, contents(t, s, "/d"), "the frozen sync made nothing durable")
	require.NoError(t, s.Mkdir("/d/sub", 0o750), "the crash ends the freeze")
}
