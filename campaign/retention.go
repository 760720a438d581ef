package campaign

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/faultline/faultline/checker"
	"github.com/faultline/faultline/rundir"
)

// RetentionInProgressGrace is how long a run directory without results.json
// is presumed to belong to a run still going (another faultline process on
// the same store) and kept. Older ones are runs the harness gave up on and are
// deleted like any other.
const RetentionInProgressGrace = 6 * time.Hour

// StoredRun is one run directory found in a store.
type StoredRun struct {
	Dir   string
	Start time.Time
	// Verdict is results.json's verdict, empty when there is none.
	Verdict checker.Verdict
}

// ListRuns finds every run directory (store/<test>/<run>/ holding test.json),
// newest first. Symbolic links (store/latest) and loose files are skipped.
func ListRuns(store string) ([]StoredRun, error) {
	dirs, err := rundir.List(store)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs := make([]StoredRun, 0, len(dirs))
	for _, dir := range dirs {
		runs = append(runs, readStoredRun(dir))
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].Start.Equal(runs[j].Start) {
			return runs[i].Start.After(runs[j].Start)
		}
		return runs[i].Dir > runs[j].Dir
	})
	return runs, nil
}

// readStoredRun reads what retention needs from a run directory.
func readStoredRun(dir string) StoredRun {
	run := StoredRun{Dir: dir}
	if rec, err := rundir.ReadTest(dir); err == nil && !rec.Start.IsZero() {
		run.Start = rec.Start
	} else {
		// Unreadable test.json: fall back to the directory name, then its mtime.
		if t, ok := rundir.StartFromName(filepath.Base(dir)); ok {
			run.Start = t
		} else if info, ierr := os.Stat(dir); ierr == nil {
			run.Start = info.ModTime()
		}
	}
	var res struct {
		Verdict checker.Verdict `json:"verdict"`
	}
	if rundir.ReadJSON(filepath.Join(dir, rundir.ResultsFile), &res) == nil {
		run.Verdict = res.Verdict
	}
	return run
}

// RetentionResult says what ApplyRetention kept and deleted.
type RetentionResult struct {
	Kept    int
	Deleted []string
	// KeptInvalid counts invalid runs kept beyond the newest keepLast.
	KeptInvalid int
	// KeptInProgress counts runs kept beyond keepLast because they have no
	// results.json yet and started less than RetentionInProgressGrace ago.
	KeptInProgress int
	FreedBytes     int64
}

// ApplyRetention keeps the newest keepLast run directories of store and
// deletes older ones, except that it never deletes an invalid run (its
// history is a finding), the newest run (keepLast below 1 counts as 1), or a
// run that may still be going (see RetentionInProgressGrace). A test
// directory left empty is removed too. now is the current time.
func ApplyRetention(store string, keepLast int, now time.Time) (RetentionResult, error) {
	var res RetentionResult
	runs, err := ListRuns(store)
	if err != nil {
		return res, err
	}
	keepLast = max(keepLast, 1)
	var errs []error
	for i, run := range runs {
		switch {
		case i < keepLast:
			res.Kept++
			continue
		case run.Verdict == checker.Invalid:
			res.Kept++
			res.KeptInvalid++
			continue
		case run.Verdict == "" && now.Sub(run.Start) < RetentionInProgressGrace:
			res.Kept++
			res.KeptInProgress++
			continue
		}
		size, _ := DiskUsage(run.Dir)
		if err := os.RemoveAll(run.Dir); err != nil {
			errs = append(errs, fmt.Errorf("delete old run %s: %w", run.Dir, err))
			continue
		}
		res.Deleted = append(res.Deleted, run.Dir)
		res.FreedBytes += size
		// Remove the test directory if that was its last run; a non-empty
		// directory makes Remove fail, which is the point.
		_ = os.Remove(filepath.Dir(run.Dir))
	}
	return res, errors.Join(errs...)
}

// DiskUsage is the total size in bytes of the regular files under dir.
func DiskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	return total, nil
}

// FormatBytes renders a byte count for people: 812 B, 3.4 KiB, 12.0 MiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
