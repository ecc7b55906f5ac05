package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// File name suffixes, as Kafka lays out a partition directory.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"

	indexEntrySize     = 8  // relative offset uint32 + position uint32
	timeIndexEntrySize = 12 // timestamp int64 + relative offset uint32
)

// idxEntry maps the base offset of a batch (relative to the segment's base)
// to its byte position in the segment. Kafka keys its entries by a batch's
// last offset; keying by base offset lets a lookup land on the batch that
// contains the target, which is what Read and recovery want.
type idxEntry struct{ rel, pos uint32 }

// timeEntry records the running maximum timestamp of a segment and the
// relative base offset of the batch that set it. Every batch before that
// batch has a smaller or equal max timestamp, so a timestamp search may
// start there.
type timeEntry struct {
	ts  int64
	rel uint32
}

// segment is one <base>.log file and its two sparse indexes. The index
// slices are the source of truth in memory; the index files are written
// from them at roll, flush and close, and rebuilt from the log after a crash.
//
// size, index, tindex, maxTs and maxTsOff are published under Log.mu (readers
// take its read lock); the other fields belong to the appender (Log.amu).
type segment struct {
	base            int64
	log, idx, tidx  *os.File
	size            int64
	index           []idxEntry
	tindex          []timeEntry
	maxTs, maxTsOff int64 // largest batch MaxTimestamp and that batch's base offset; -1 when none

	idxWritten, tidxWritten int   // entries already in the files
	sinceIndex              int64 // bytes appended since the last index entry
	next                    int64 // offset after the last batch (amu)
	firstTs                 int64 // max timestamp of the first batch, or -1; segment.ms counts from it
	createdMs               int64 // creation (or last modification) time, when there is no firstTs
	dirty                   bool  // written since the last fsync
}

func segName(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// listSegments returns the base offsets of the .log files in dir, sorted.
func listSegments(dir string) ([]int64, error) { return listOffsetFiles(dir, logSuffix) }

// listOffsetFiles returns, sorted, the offsets named by the files of dir
// called <offset><suffix> (segments, producer snapshots).
func listOffsetFiles(dir, suffix string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("log: reading %s: %w", dir, err)
	}
	var bases []int64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, suffix) || e.IsDir() {
			continue
		}
		base, err := strconv.ParseInt(strings.TrimSuffix(name, suffix), 10, 64)
		if err != nil || base < 0 {
			continue // not ours
		}
		bases = append(bases, base)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// openSegment opens (creating when missing) the three files of a segment.
func openSegment(dir string, base int64, now time.Time) (*segment, error) {
	s := &segment{base: base, next: base, maxTs: -1, maxTsOff: -1, firstTs: -1, createdMs: now.UnixMilli()}
	var err error
	open := func(suffix string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(segName(dir, base, suffix), os.O_RDWR|os.O_CREATE, 0o644)
		return f
	}
	s.log, s.idx, s.tidx = open(logSuffix), open(indexSuffix), open(timeIndexSuffix)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("log: opening segment %d: %w", base, err)
	}
	st, err := s.log.Stat()
	if err != nil {
		s.close()
		return nil, fmt.Errorf("log: stat segment %d: %w", base, err)
	}
	s.size = st.Size()
	if s.size > 0 {
		s.createdMs = st.ModTime().UnixMilli()
	}
	var hb [batch.HeaderSize]byte
	if _, err := s.log.ReadAt(hb[:], 0); err == nil {
		h, _ := batch.ParseHeader(hb[:])
		s.firstTs = h.MaxTimestamp
	}
	return s, nil
}

func (s *segment) close() error {
	var errs []error
	for _, f := range []*os.File{s.log, s.idx, s.tidx} {
		if f != nil {
			if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (s *segment) remove(dir string) error {
	err := s.close()
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if e := os.Remove(segName(dir, s.base, suf)); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = errors.Join(err, e)
		}
	}
	return err
}

// waitedForRoll is how long the segment has been open for segment.ms, as
// Kafka's LogSegment.timeWaitedForRoll measures it: by the timestamps of the
// incoming batch and the first batch when both exist (so replaying old data
// does not roll every batch), else by the wall clock since creation.
func (s *segment) waitedForRoll(nowMs, msgTs int64) int64 {
	if s.firstTs >= 0 && msgTs >= 0 {
		return msgTs - s.firstTs
	}
	return nowMs - s.createdMs
}

// lookup returns the position of the last indexed batch whose base offset is
// <= off: a batch at or before the one that contains off.
func (s *segment) lookup(off int64) int64 {
	rel := off - s.base
	i := sort.Search(len(s.index), func(i int) bool { return int64(s.index[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(s.index[i-1].pos)
}

// timeLookup returns the relative offset where a search for the first batch
// with max timestamp >= ts may start.
func (s *segment) timeLookup(ts int64) int64 {
	i := sort.Search(len(s.tindex), func(i int) bool { return s.tindex[i].ts >= ts })
	if i == 0 {
		return s.base
	}
	return s.base + int64(s.tindex[i-1].rel)
}

// noteBatch updates the in-memory indexes for a batch written at pos. The
// caller holds Log.mu for writing (or owns the segment exclusively).
func (s *segment) noteBatch(h *batch.Header, pos int64, interval int64) {
	size := int64(h.Size())
	if len(s.index) == 0 || s.sinceIndex >= interval {
		s.index = append(s.index, idxEntry{rel: uint32(h.BaseOffset - s.base), pos: uint32(pos)})
		s.sinceIndex = 0
		s.noteTime(h)
		s.maybeTimeEntry()
	} else {
		s.noteTime(h)
	}
	s.sinceIndex += size
	s.size = pos + size
	s.next = h.LastOffset() + 1
}

func (s *segment) noteTime(h *batch.Header) {
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.maxTsOff = h.MaxTimestamp, h.BaseOffset
	}
}

// maybeTimeEntry appends a time index entry if the running max moved.
func (s *segment) maybeTimeEntry() {
	if s.maxTs < 0 {
		return
	}
	if n := len(s.tindex); n == 0 || s.tindex[n-1].ts < s.maxTs {
		s.tindex = append(s.tindex, timeEntry{ts: s.maxTs, rel: uint32(s.maxTsOff - s.base)})
	}
}

// writeIndexes appends the index entries not yet in the index files.
func (s *segment) writeIndexes() error {
	if n := len(s.index); s.idxWritten < n {
		buf := make([]byte, 0, (n-s.idxWritten)*indexEntrySize)
		for _, e := range s.index[s.idxWritten:] {
			buf = binary.BigEndian.AppendUint32(buf, e.rel)
			buf = binary.BigEndian.AppendUint32(buf, e.pos)
		}
		if _, err := s.idx.WriteAt(buf, int64(s.idxWritten*indexEntrySize)); err != nil {
			return fmt.Errorf("log: writing index of segment %d: %w", s.base, err)
		}
		s.idxWritten = n
	}
	if n := len(s.tindex); s.tidxWritten < n {
		buf := make([]byte, 0, (n-s.tidxWritten)*timeIndexEntrySize)
		for _, e := range s.tindex[s.tidxWritten:] {
			buf = binary.BigEndian.AppendUint64(buf, uint64(e.ts))
			buf = binary.BigEndian.AppendUint32(buf, e.rel)
		}
		if _, err := s.tidx.WriteAt(buf, int64(s.tidxWritten*timeIndexEntrySize)); err != nil {
			return fmt.Errorf("log: writing time index of segment %d: %w", s.base, err)
		}
		s.tidxWritten = n
	}
	return nil
}

// rewriteIndexes replaces both index files with the in-memory entries.
func (s *segment) rewriteIndexes() error {
	if err := s.idx.Truncate(0); err != nil {
		return fmt.Errorf("log: truncating index of segment %d: %w", s.base, err)
	}
	if err := s.tidx.Truncate(0); err != nil {
		return fmt.Errorf("log: truncating time index of segment %d: %w", s.base, err)
	}
	s.idxWritten, s.tidxWritten = 0, 0
	return s.writeIndexes()
}

func (s *segment) sync() error {
	for _, f := range []*os.File{s.log, s.idx, s.tidx} {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("log: fsync segment %d: %w", s.base, err)
		}
	}
	s.dirty = false
	return nil
}

// loadIndexes reads the index files and checks them against the log file.
// It returns false when they cannot be trusted: the caller then rebuilds
// them with scan. The scan from the last index entry to the end of the
// segment happens in the caller for the active segment.
func (s *segment) loadIndexes() bool {
	ib, err := io.ReadAll(io.NewSectionReader(s.idx, 0, math.MaxInt64))
	if err != nil || len(ib)%indexEntrySize != 0 {
		return false
	}
	tb, err := io.ReadAll(io.NewSectionReader(s.tidx, 0, math.MaxInt64))
	if err != nil || len(tb)%timeIndexEntrySize != 0 {
		return false
	}
	if s.size == 0 {
		return len(ib) == 0 && len(tb) == 0
	}
	if len(ib) == 0 || len(tb) == 0 {
		return false // a non-empty segment always has an entry for its first batch
	}
	idx := make([]idxEntry, len(ib)/indexEntrySize)
	for i := range idx {
		e := idxEntry{rel: binary.BigEndian.Uint32(ib[i*8:]), pos: binary.BigEndian.Uint32(ib[i*8+4:])}
		if i == 0 && e.pos != 0 || i > 0 && (e.rel <= idx[i-1].rel || e.pos <= idx[i-1].pos) || int64(e.pos) >= s.size {
			return false
		}
		idx[i] = e
	}
	tidx := make([]timeEntry, len(tb)/timeIndexEntrySize)
	for i := range tidx {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(tb[i*12:])), rel: binary.BigEndian.Uint32(tb[i*12+8:])}
		if e.ts < 0 || i > 0 && (e.ts <= tidx[i-1].ts || e.rel < tidx[i-1].rel) {
			return false
		}
		tidx[i] = e
	}
	// Index entries must point at the header of the batch they name. Check
	// the first, the last and a spread in between: enough to catch a stale or
	// garbage file without a read per entry.
	var hb [batch.HeaderSize]byte
	step := max(1, len(idx)/16)
	for i := 0; i < len(idx); i += step {
		e := idx[i]
		if i+step >= len(idx) {
			e = idx[len(idx)-1]
		}
		if _, err := s.log.ReadAt(hb[:], int64(e.pos)); err != nil {
			return false
		}
		h, _ := batch.ParseHeader(hb[:])
		if h.BaseOffset != s.base+int64(e.rel) || h.Magic != batch.Magic || int64(e.pos)+int64(h.Size()) > s.size {
			return false
		}
	}
	s.index, s.tindex = idx, tidx
	s.idxWritten, s.tidxWritten = len(idx), len(tidx)
	last := tidx[len(tidx)-1]
	s.maxTs, s.maxTsOff = last.ts, s.base+int64(last.rel)
	return true
}

// scanResult is what scan learned about a segment.
type scanResult struct {
	next      int64        // offset after the last good batch, or -1 if none
	truncated bool         // bad or torn bytes were cut off
	epochs    []epochEntry // leader epoch changes seen, in order
	cause     error        // why the scan stopped early
}

// scan reads the segment batch by batch from position from (which must be a
// batch boundary, with the in-memory state already describing everything
// before it), checking length and CRC when verify is set, and rebuilds the
// in-memory indexes as it goes. With truncate set it cuts the file at the
// first bad or torn batch.
func (s *segment) scan(from int64, interval int64, verify, truncate bool) (scanResult, error) {
	res := scanResult{next: -1}
	st, err := s.log.Stat()
	if err != nil {
		return res, fmt.Errorf("log: stat segment %d: %w", s.base, err)
	}
	fileSize := st.Size()
	var hb [batch.HeaderSize]byte
	var buf []byte
	pos := from
	s.size = from
	for pos < fileSize {
		if fileSize-pos < batch.HeaderSize {
			res.cause = fmt.Errorf("%d bytes of torn header: %w", fileSize-pos, batch.ErrTruncated)
			break
		}
		if _, err := s.log.ReadAt(hb[:], pos); err != nil {
			return res, fmt.Errorf("log: reading segment %d at %d: %w", s.base, pos, err)
		}
		h, err := batch.ParseHeader(hb[:])
		if err != nil {
			res.cause = err
			break
		}
		size := int64(h.Size())
		if h.Length < batch.HeaderSize-batch.LogOverhead || pos+size > fileSize || h.Magic != batch.Magic ||
			h.BaseOffset < s.base || h.LastOffsetDelta < 0 || h.LastOffset()-s.base > math.MaxInt32 ||
			(res.next >= 0 && h.BaseOffset < res.next) || pos+size > math.MaxUint32 {
			res.cause = fmt.Errorf("bad batch header at position %d: %+v", pos, h)
			break
		}
		if verify {
			if int64(cap(buf)) < size {
				buf = make([]byte, size)
			}
			buf = buf[:size]
			if _, err := s.log.ReadAt(buf, pos); err != nil {
				return res, fmt.Errorf("log: reading segment %d at %d: %w", s.base, pos, err)
			}
			if _, _, err := batch.Verify(buf); err != nil {
				res.cause = err
				break
			}
		}
		if pos == 0 {
			s.firstTs = h.MaxTimestamp
		}
		if h.PartitionLeaderEpoch >= 0 && (len(res.epochs) == 0 || res.epochs[len(res.epochs)-1].epoch < h.PartitionLeaderEpoch) {
			res.epochs = append(res.epochs, epochEntry{epoch: h.PartitionLeaderEpoch, start: h.BaseOffset})
		}
		s.noteBatch(&h, pos, interval)
		res.next = h.LastOffset() + 1
		pos += size
	}
	if pos < fileSize && truncate {
		if err := s.log.Truncate(pos); err != nil {
			return res, fmt.Errorf("log: truncating segment %d at %d: %w", s.base, pos, err)
		}
		res.truncated = true
	}
	return res, nil
}
