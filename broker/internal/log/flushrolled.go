package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FlushRolled fsyncs the segments that rolled since the last flush (data,
// offset index and time index), the aborted-transaction index and the
// partition directory, then moves the recovery point up to the active
// segment's base offset. This is what Kafka's UnifiedLog.roll schedules
// (flushUptoOffsetExclusive of the new segment's base): without it the
// recovery point never moves under the default flush settings, and every
// unclean start re-validates every segment of the partition. With it, an
// unclean start scans only what came after the last roll.
//
// The fsyncs run without the append lock, so appends go on meanwhile:
// rolled segments are immutable, and the lock is taken only to read the
// segment list and to write the recovery point. A segment deleted by
// retention or replaced by the cleaner while it is being synced is skipped
// (the cleaner syncs its replacement itself). A Truncate during the call
// leaves the recovery point alone; the next call retries. The recovery point
// never moves backwards and never past what this call synced.
//
// It is cheap and returns nil when nothing rolled since the last call, and
// returns nil on a closed log (Close flushed it). The server calls it every
// second.
func (l *Log) FlushRolled() error {
	if !l.rollPending.Swap(false) {
		return nil
	}
	done := false
	defer func() {
		if !done { // failed or raced a truncation: the next call tries again
			l.rollPending.Store(true)
		}
	}()

	l.amu.Lock()
	if l.isClosed() {
		l.amu.Unlock()
		done = true
		return nil
	}
	if err := l.repairTxnIndexLocked(); err != nil {
		l.amu.Unlock()
		return storageErr(err)
	}
	n := len(l.segs) - 1
	target := l.segs[n].base
	from := l.recovery
	truncs := l.truncs.Load()
	// The segments holding offsets at or after the recovery point, as
	// load decides which to scan. Copied: truncation may later reuse the
	// slice's array.
	var todo []*segment
	for i, s := range l.segs[:n] {
		if l.segs[i+1].base > from {
			todo = append(todo, s)
		}
	}
	l.amu.Unlock()
	if target <= from {
		done = true
		return nil
	}

	if l.rolledHook != nil {
		l.rolledHook()
	}
	for _, s := range todo {
		if err := syncRolled(s); err != nil {
			return storageErr(err)
		}
	}
	// The new segment's files must be found after a power loss, and the
	// aborted-index entries below target are trusted by the next unclean
	// open: both are synced before the recovery point moves. Every entry
	// for a marker below target was appended before the roll that made
	// target the active base, so before this sync. The producer snapshot
	// roll wrote at target is synced too, as Kafka's flush-on-roll task
	// does, so the next unclean open can start its replay there.
	err := syncSnapshot(l.dir, target)
	if err == nil {
		err = syncDir(l.dir)
	}
	if err == nil {
		err = l.syncTxnIndex()
	}
	if err != nil {
		if l.isClosed() { // Close or Delete raced us; nothing left to do
			done = true
			return nil
		}
		return storageErr(err)
	}

	l.amu.Lock()
	defer l.amu.Unlock()
	if l.isClosed() {
		done = true
		return nil
	}
	if l.truncs.Load() != truncs {
		return nil // bytes below target may have been rewritten after our fsyncs
	}
	if target > l.recovery { // flushLocked may have moved it further meanwhile
		if err := writeInt64File(filepath.Join(l.dir, recoveryPointName), target); err != nil {
			return storageErr(err)
		}
		l.recovery = target
	}
	// What is still in the log is on disk now: Close need not sync it again.
	for _, s := range l.segs {
		for _, d := range todo {
			if s == d {
				s.dirty = false
			}
		}
	}
	done = true
	return nil
}

// syncRolled fsyncs a rolled segment's files. Unlike segment.sync it leaves
// the dirty flag alone, as it runs without the append lock. A file already
// closed means the segment was deleted, swapped out by the cleaner or the
// log closed: nothing to do.
func syncRolled(s *segment) error {
	for _, f := range []*os.File{s.log, s.idx, s.tidx} {
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("log: fsync rolled segment %d: %w", s.base, err)
		}
	}
	return nil
}

// syncSnapshot fsyncs the producer snapshot at offset, if there is one:
// roll writes it without fsync, and retention may have deleted it since.
func syncSnapshot(dir string, offset int64) error {
	if err := syncIfExists(snapshotName(dir, offset)); err != nil {
		return fmt.Errorf("log: fsync producer snapshot %d: %w", offset, err)
	}
	return nil
}

// syncIfExists fsyncs the file at path; a file that is not there (deleted
// or rewritten away meanwhile) has nothing to sync.
func syncIfExists(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
