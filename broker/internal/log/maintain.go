package log

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// syncState is the group-commit state: one appender at a time runs fsync
// and every appender whose write it covered returns together.
type syncState struct {
	mu      sync.Mutex
	cond    sync.Cond
	done    uint64 // appends (by writeSeq) known to be on disk
	running bool
}

// syncTo returns once the append numbered seq is on disk. If an fsync is
// already running, the caller waits for it and, if it did not cover seq,
// runs the next one itself, covering everybody who arrived meanwhile.
func (l *Log) syncTo(seq uint64) error {
	st := &l.sync
	st.mu.Lock()
	defer st.mu.Unlock()
	for st.done < seq {
		if st.running {
			st.cond.Wait()
			continue
		}
		st.running = true
		st.mu.Unlock()
		target, err := l.syncActive()
		st.mu.Lock()
		st.running = false
		st.cond.Broadcast()
		if err != nil {
			return storageErr(err)
		}
		st.done = max(st.done, target)
	}
	return nil
}

// syncActive fsyncs the active segment and returns the append count it
// covers. Appends to earlier segments were synced when those rolled.
func (l *Log) syncActive() (uint64, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	target := l.writeSeq
	act := l.segs[len(l.segs)-1]
	l.mu.RUnlock()
	if l.syncHook != nil {
		l.syncHook()
	}
	l.syncs.Add(1)
	if err := act.log.Sync(); err != nil {
		return 0, fmt.Errorf("log: fsync segment %d: %w", act.base, err)
	}
	// The aborted index describes the synced data, so it is synced with it:
	// an abort acknowledged after this fsync must not vanish from
	// read_committed fetches after a power failure. An index whose append
	// failed does not fail this fsync: it holds the recovery point back
	// instead (Flush, FlushRolled), so the entry is re-derived from its
	// marker if power fails before the file is rewritten.
	if err := l.syncTxnIndex(); err != nil && !errors.Is(err, errTxnIndexBehind) {
		return 0, err
	}
	return target, nil
}

// Flush writes the sparse indexes, fsyncs every segment written since the
// last flush and advances the recovery point, so the next unclean start
// scans only what came after. The server calls it every FlushMs.
func (l *Log) Flush() error {
	l.amu.Lock()
	defer l.amu.Unlock()
	if l.isClosed() {
		return storageErr(ErrClosed)
	}
	return l.flushLocked()
}

func (l *Log) flushLocked() error {
	l.mu.Lock()
	l.segs[len(l.segs)-1].maybeTimeEntry()
	segs := l.segs
	seq, end := l.writeSeq, l.end
	l.mu.Unlock()
	for _, s := range segs {
		if err := s.writeIndexes(); err != nil {
			return storageErr(err)
		}
		if s.dirty || s.base >= l.recovery || s == segs[len(segs)-1] {
			if err := s.sync(); err != nil {
				return storageErr(err)
			}
		}
	}
	// Before the recovery point moves: entries below it are trusted on
	// the next unclean open and not re-derived.
	if err := l.repairTxnIndexLocked(); err != nil {
		return storageErr(err)
	}
	if err := l.syncTxnIndex(); err != nil {
		return storageErr(err)
	}
	l.sync.mu.Lock()
	l.sync.done = max(l.sync.done, seq)
	l.sync.mu.Unlock()
	l.unflushed = 0
	if end != l.recovery {
		if err := writeInt64File(filepath.Join(l.dir, recoveryPointName), end); err != nil {
			return storageErr(err)
		}
		l.recovery = end
	}
	return nil
}

// EnforceRetention rolls an active segment older than SegmentMs (so it can
// age out), then deletes from the oldest end every segment that lies below
// the log start offset, whose largest timestamp is older than RetentionMs,
// or whose removal keeps the log at or above RetentionBytes. The active
// segment is never deleted. The log start offset moves to the first kept
// segment's base. It returns the number of segments deleted.
func (l *Log) EnforceRetention(now time.Time) (int, error) {
	l.amu.Lock()
	defer l.amu.Unlock()
	if l.isClosed() {
		return 0, storageErr(ErrClosed)
	}
	nowMs := now.UnixMilli()
	if act := l.segs[len(l.segs)-1]; act.size > 0 && act.waitedForRoll(nowMs, nowMs) >= l.cfg.SegmentMs {
		if _, err := l.roll(now); err != nil {
			return 0, err
		}
	}
	deleted := 0
	for len(l.segs) > 1 {
		s, next := l.segs[0], l.segs[1].base
		ts := s.maxTs
		if ts < 0 {
			ts = s.createdMs
		}
		del := next <= l.start || !l.cfg.CompactOnly &&
			(l.cfg.RetentionMs >= 0 && nowMs-ts > l.cfg.RetentionMs ||
				l.cfg.RetentionBytes >= 0 && l.size-s.size >= l.cfg.RetentionBytes)
		if !del {
			break
		}
		if err := l.deleteOldest(); err != nil {
			return deleted, err
		}
		deleted++
	}
	if deleted > 0 {
		if err := l.startMoved(); err != nil {
			return deleted, err
		}
	}
	l.expireProducersLocked(nowMs, l.cfg.ProducerIDExpirationMs)
	return deleted, nil
}

// deleteOldest unlinks the oldest segment. A reader still holding it gets
// an error from the closed file, never other bytes.
func (l *Log) deleteOldest() error {
	l.mu.Lock()
	s := l.segs[0]
	l.segs = l.segs[1:]
	l.size -= s.size
	l.start = max(l.start, l.segs[0].base)
	l.mu.Unlock()
	if err := s.remove(l.dir); err != nil {
		return storageErr(err)
	}
	return nil
}

// startMoved persists the log start offset and trims the epoch cache.
func (l *Log) startMoved() error {
	if err := l.writeStart(); err != nil {
		return storageErr(err)
	}
	// Producers whose batches are all gone are forgotten, and snapshots
	// below the first segment can no longer be replayed from.
	l.evictProducersBelow(l.start)
	if err := l.trimTxnIndex(l.start); err != nil {
		return storageErr(err)
	}
	first := l.segs[0].base
	if err := l.deleteSnapshots(func(off int64) bool { return off < first }); err != nil {
		return storageErr(err)
	}
	l.mu.Lock()
	changed := l.epochs.truncateFromStart(l.start)
	l.mu.Unlock()
	if changed {
		if err := l.epochs.write(); err != nil {
			return storageErr(err)
		}
	}
	return nil
}

// DeleteRecordsBefore moves the log start offset up to offset (the
// DeleteRecords API), persists it, and deletes the segments wholly below
// it. An offset beyond the end offset wraps kerr.OffsetOutOfRange; one at
// or below the start changes nothing. It returns the new start offset.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.amu.Lock()
	defer l.amu.Unlock()
	if l.isClosed() {
		return 0, storageErr(ErrClosed)
	}
	if offset > l.end || offset < 0 {
		return l.start, fmt.Errorf("%w: offset %d is outside [%d, %d]", kerr.OffsetOutOfRange, offset, l.start, l.end)
	}
	if offset <= l.start {
		return l.start, nil
	}
	l.mu.Lock()
	l.start = offset
	l.mu.Unlock()
	for len(l.segs) > 1 && l.segs[1].base <= l.start {
		if err := l.deleteOldest(); err != nil {
			return l.start, err
		}
	}
	return l.start, l.startMoved()
}

// Truncate removes every batch at or after offset, for a follower whose log
// diverged from the leader's. It cuts at a batch boundary: the batch that
// contains offset goes too, so EndOffset afterwards may be below offset.
// An offset at or below the start offset empties the log and restarts it at
// offset.
func (l *Log) Truncate(offset int64) error {
	l.amu.Lock()
	defer l.amu.Unlock()
	if l.isClosed() {
		return storageErr(ErrClosed)
	}
	if offset >= l.end {
		return nil
	}
	l.truncs.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	var err error
	if offset <= l.start || offset <= l.segs[0].base {
		err = l.truncateFully(offset)
	} else {
		err = l.truncateTo(offset)
	}
	if err != nil {
		return storageErr(err)
	}
	l.epochs.truncateFromEnd(l.end)
	err = l.epochs.write()
	if err == nil && l.recovery > l.end {
		l.recovery = l.end
		err = writeInt64File(filepath.Join(l.dir, recoveryPointName), l.end)
	}
	if err == nil {
		err = l.writeStart()
	}
	if err == nil {
		err = l.lowerCleanerCheckpoint(l.end)
	}
	if err == nil {
		err = l.loadProducers(l.end)
	}
	if err != nil {
		return storageErr(err)
	}
	return nil
}

func (l *Log) truncateFully(offset int64) error {
	var err error
	for _, s := range l.segs {
		err = errors.Join(err, s.remove(l.dir))
	}
	l.segs, l.size = nil, 0
	if err != nil {
		return err
	}
	s, err := openSegment(l.dir, offset, l.now())
	if err != nil {
		return err
	}
	l.segs = []*segment{s}
	l.start, l.end = offset, offset
	l.epochs.truncateFromStart(offset)
	return nil
}

// truncateTo cuts inside the segment holding offset; mu is held.
func (l *Log) truncateTo(offset int64) error {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	var err error
	for _, s := range l.segs[i+1:] {
		l.size -= s.size
		err = errors.Join(err, s.remove(l.dir))
	}
	l.segs = l.segs[:i+1]
	if err != nil {
		return err
	}
	s := l.segs[i]
	pos := s.lookup(offset)
	var hb [batch.HeaderSize]byte
	for pos < s.size {
		if _, err := s.log.ReadAt(hb[:], pos); err != nil {
			return fmt.Errorf("log: reading segment %d: %w", s.base, err)
		}
		h, _ := batch.ParseHeader(hb[:])
		if h.LastOffset() >= offset {
			break
		}
		pos += int64(h.Size())
	}
	if err := s.log.Truncate(pos); err != nil {
		return fmt.Errorf("log: truncating segment %d: %w", s.base, err)
	}
	l.size -= s.size
	s.index, s.tindex, s.sinceIndex, s.maxTs, s.maxTsOff, s.next = nil, nil, 0, -1, -1, s.base
	if _, err := s.scan(0, l.cfg.IndexIntervalBytes, false, false); err != nil {
		return err
	}
	s.maybeTimeEntry()
	l.size += s.size
	l.end = s.next
	return s.rewriteIndexes()
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the leader-epoch
// checkpoint, with Kafka's rules: the latest epoch ends at the log end
// offset; an older epoch ends where the next known epoch starts, reported
// with the largest known epoch not above it; an unknown future epoch or -1
// gives (-1, -1).
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.end)
}

// segView is what a timestamp search needs of a segment, taken under mu.
type segView struct {
	s           *segment
	maxTs       int64
	from, limit int64
}

// OffsetForTimestamp finds the first record (at or after the start offset)
// whose timestamp is >= ts, for ListOffsets by timestamp. It decodes the
// records of the one batch that holds the answer. ok is false when no
// record is that late.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool, err error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, 0, false, storageErr(ErrClosed)
	}
	start := l.start
	var views []segView
	for _, s := range l.segs {
		if s.maxTs >= ts {
			views = append(views, segView{s: s, maxTs: s.maxTs, from: s.lookup(max(s.timeLookup(ts), start)), limit: s.size})
		}
	}
	l.mu.RUnlock()
	var hb [batch.HeaderSize]byte
	var buf []byte
	for _, v := range views {
		for pos := v.from; pos+batch.HeaderSize <= v.limit; {
			if _, err := v.s.log.ReadAt(hb[:], pos); err != nil {
				return 0, 0, false, storageErr(err)
			}
			h, _ := batch.ParseHeader(hb[:])
			if h.Length < batch.HeaderSize-batch.LogOverhead {
				return 0, 0, false, storageErr(fmt.Errorf("log: bad batch header in segment %d at %d", v.s.base, pos))
			}
			if h.MaxTimestamp >= ts && h.LastOffset() >= start {
				buf = append(buf[:0], make([]byte, h.Size())...)
				if _, err := v.s.log.ReadAt(buf, pos); err != nil {
					return 0, 0, false, storageErr(err)
				}
				for r, err := range batch.Records(buf) {
					if err != nil {
						return 0, 0, false, err
					}
					if r.Timestamp >= ts && r.Offset >= start {
						return r.Offset, r.Timestamp, true, nil
					}
				}
			}
			pos += int64(h.Size())
		}
	}
	return -1, -1, false, nil
}

// MaxTimestamp returns the largest timestamp in the log and the offset of
// the first record that carries it (ListOffsets -3), or (-1, -1) for a log
// without timestamps. Like Kafka it finds the batch from the time index and
// decodes it to locate the record; if that fails, the batch's base offset
// is returned.
func (l *Log) MaxTimestamp() (ts, offset int64) {
	l.mu.RLock()
	var best *segment
	ts, offset = -1, -1
	for _, s := range l.segs {
		if s.maxTs > ts {
			best, ts, offset = s, s.maxTs, s.maxTsOff
		}
	}
	var pos, limit int64
	if best != nil {
		pos, limit = best.lookup(offset), best.size
	}
	l.mu.RUnlock()
	if best == nil {
		return -1, -1
	}
	var hb [batch.HeaderSize]byte
	for pos+batch.HeaderSize <= limit {
		if _, err := best.log.ReadAt(hb[:], pos); err != nil {
			return ts, offset
		}
		h, _ := batch.ParseHeader(hb[:])
		if h.Length < batch.HeaderSize-batch.LogOverhead || h.BaseOffset > offset {
			return ts, offset
		}
		if h.BaseOffset == offset {
			buf := make([]byte, h.Size())
			if _, err := best.log.ReadAt(buf, pos); err != nil {
				return ts, offset
			}
			for r, err := range batch.Records(buf) {
				if err != nil {
					break
				}
				if r.Timestamp == ts {
					return ts, r.Offset
				}
			}
			return ts, offset
		}
		pos += int64(h.Size())
	}
	return ts, offset
}
