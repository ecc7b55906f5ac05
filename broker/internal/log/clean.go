package log

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// Log compaction, after Apache Kafka's LogCleaner (Cleaner, LogCleanerManager,
// CleanedTransactionMetadata and MemoryRecords.filterTo).
//
// A round works on the non-active segments. The dirty part starts at the
// cleaner checkpoint (the first offset not yet cleaned) and ends at the first
// uncleanable offset: the active segment, the first segment with records
// newer than min.compaction.lag.ms, or the first unstable (open transaction)
// offset. The round hashes the keys of the dirty part into a fixed-size map
// (key hash → latest offset), as many batches as the dedupe buffer holds,
// then rewrites every segment from the log start up to where the map ends,
// keeping a record only if it is the latest for its key. Offsets never
// change. A segment group is written to <base>.log.cleaned (+ indexes),
// fsynced, committed by an atomically written swap manifest, then renamed
// over the old files; Open finishes a committed swap and drops an
// uncommitted one.
//
// Tombstones and transaction markers get a delete horizon the first time
// they are cleaned (KIP-534: attribute bit 0x40, the horizon in the batch's
// first-timestamp field, record timestamps kept exact through their deltas)
// and go at the first round after it passes.

// File names of the cleaner's bookkeeping.
const (
	cleanedSuffix         = ".cleaned"
	swapManifestName      = "cleaner-swap"
	cleanerCheckpointName = "cleaner-offset-checkpoint"
)

// Bits of the batch attributes the cleaner reads or writes beyond what
// package batch exposes.
const (
	attrCodecMask     = 0x07
	attrDeleteHorizon = 0x40 // DefaultRecordBatch.DELETE_HORIZON_FLAG_MASK
)

// Kafka's defaults for what CleanOptions leaves at zero.
const (
	// cleanerLoadFactor is log.cleaner.io.buffer.load.factor: how full the
	// dedupe map may get before a round stops adding to it.
	cleanerLoadFactor = 0.9
	// mapSlotSize is the memory of one map slot: a 128-bit key hash and an
	// offset, like Kafka's SkimpyOffsetMap with MD5 (24 bytes).
	mapSlotSize = 24
	// defaultProducerExpirationMs is producer.id.expiration.ms.
	defaultProducerExpirationMs = 24 * 3600 * 1000
)

// ErrDedupeBufferTooSmall is returned by [Log.Clean] when the dedupe buffer
// cannot hold the keys of even one batch of the dirty part.
var ErrDedupeBufferTooSmall = errors.New("log: dedupe buffer too small to hold one batch")

// AbortedTxn is one aborted transaction of the partition: producer id and
// the offsets of its first data record and of its abort marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// Txns is what the cleaner needs to know about transactions, which the
// transaction machinery (issue 4) owns. A nil Txns means no transaction was
// ever aborted and none is open.
type Txns interface {
	// FirstUnstableOffset is the first offset of the oldest open
	// transaction; ok is false when none is open. The cleaner stops there.
	FirstUnstableOffset() (offset int64, ok bool)
	// AbortedTxns lists the aborted transactions whose range overlaps
	// [from, to), in any order.
	AbortedTxns(from, to int64) ([]AbortedTxn, error)
}

// CleanOptions are the topic and broker settings of a cleaning round, with
// Kafka's names.
type CleanOptions struct {
	DeleteRetentionMs      int64   // delete.retention.ms: how long tombstones and markers outlive their first cleaning
	MinCompactionLagMs     int64   // min.compaction.lag.ms: records newer than this stay uncompacted
	MaxCompactionLagMs     int64   // max.compaction.lag.ms: a dirty record older than this forces a round; <= 0 = never
	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio
	DedupeBufferBytes      int64   // log.cleaner.dedupe.buffer.size: bound of the key map (24 bytes a key)
	ProducerExpirationMs   int64   // producer.id.expiration.ms (default 1 day): after it a producer's last batch may go
	Txns                   Txns    // transaction state; nil = the log's own (txn.go)
}

// CleanState is how dirty a log is, from [Log.CleanState].
type CleanState struct {
	FirstDirty       int64   // the cleaner checkpoint: offsets below were cleaned
	FirstUncleanable int64   // the dirty part ends here
	CleanBytes       int64   // bytes of segments wholly below FirstDirty
	DirtyBytes       int64   // bytes of segments overlapping [FirstDirty, FirstUncleanable)
	DirtyRatio       float64 // DirtyBytes / (CleanBytes + DirtyBytes)
	MaxLagExceeded   bool    // a dirty record is older than max.compaction.lag.ms
	HorizonPassed    bool    // a tombstone or marker is past its delete horizon
	Due              bool    // a round should run now
}

// CleanResult reports a round of [Log.Clean].
type CleanResult struct {
	FirstDirty        int64 // checkpoint before the round
	NextDirty         int64 // checkpoint after it
	Done              bool  // the whole dirty part fitted in the map
	SegmentsRewritten int   // old segments replaced
	SegmentsWritten   int   // new segments swapped in
	BatchesRead       int64
	RecordsRemoved    int64
	BytesBefore       int64 // size of the rewritten segments before
	BytesAfter        int64 // and after
}

// cleanerState is the persisted checkpoint (guarded by Log.cpMu).
type cleanerState struct {
	firstDirty int64 // -1: none yet
	horizon    int64 // earliest delete horizon of a removable tombstone or marker; 0 = none
}

func (l *Log) loadCleanerState() {
	l.cp = cleanerState{firstDirty: -1}
	b, err := os.ReadFile(filepath.Join(l.dir, cleanerCheckpointName))
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return // a lost checkpoint only costs a full round
	}
	fd, err1 := strconv.ParseInt(f[0], 10, 64)
	hz, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 == nil && err2 == nil {
		l.cp = cleanerState{firstDirty: fd, horizon: hz}
	}
}

func (l *Log) writeCleanerStateLocked(st cleanerState) error {
	l.cp = st
	return writeFileAtomic(filepath.Join(l.dir, cleanerCheckpointName),
		fmt.Appendf(nil, "%d %d\n", st.firstDirty, st.horizon))
}

// lowerCleanerCheckpoint moves the checkpoint down to end after a
// truncation, so re-appended offsets count as dirty.
func (l *Log) lowerCleanerCheckpoint(end int64) error {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	st := l.cp
	if st.firstDirty <= end {
		return nil
	}
	st.firstDirty = end
	return l.writeCleanerStateLocked(st)
}

// segSnap is a segment as a round saw it.
type segSnap struct {
	s           *segment
	base, next  int64 // offsets: base and the next segment's base (the log end for the active one)
	size        int64
	maxTs       int64 // largest timestamp, or the creation time when there is none
	firstTs     int64
	idxEntries  int
	tidxEntries int
}

type cleanPlan struct {
	segs            []segSnap // all segments; the last is the active one
	start, end      int64
	truncs          uint64
	cfg             Config
	state           CleanState
	earliestDirtyTs int64
}

func (l *Log) plan(now time.Time, o *CleanOptions) (cleanPlan, error) {
	var p cleanPlan
	if o.Txns == nil {
		o.Txns = l // the partition's own transaction state (txn.go)
	}
	l.amu.Lock()
	p.cfg = l.cfg
	p.truncs = l.truncs.Load()
	l.mu.RLock()
	closed := l.closed
	p.start, p.end = l.start, l.end
	for i, s := range l.segs {
		sn := segSnap{s: s, base: s.base, size: s.size, maxTs: s.maxTs, firstTs: s.firstTs, idxEntries: len(s.index), tidxEntries: len(s.tindex)}
		if sn.maxTs < 0 {
			sn.maxTs = s.createdMs
		}
		if i+1 < len(l.segs) {
			sn.next = l.segs[i+1].base
		} else {
			sn.next = l.end
		}
		p.segs = append(p.segs, sn)
	}
	l.mu.RUnlock()
	l.amu.Unlock()
	if closed {
		return p, storageErr(ErrClosed)
	}
	l.cpMu.Lock()
	cp := l.cp
	l.cpMu.Unlock()

	st := &p.state
	st.FirstDirty = cp.firstDirty
	if st.FirstDirty < p.start || st.FirstDirty > p.end {
		st.FirstDirty = p.start // LogCleanerManager resets a checkpoint outside the log
	}
	nowMs := now.UnixMilli()
	act := p.segs[len(p.segs)-1]
	fu := act.base
	if o.Txns != nil {
		if u, ok := o.Txns.FirstUnstableOffset(); ok {
			fu = min(fu, u)
		}
	}
	if o.MinCompactionLagMs > 0 {
		for _, sn := range p.segs[:len(p.segs)-1] {
			if sn.next > st.FirstDirty && sn.maxTs > nowMs-o.MinCompactionLagMs {
				fu = min(fu, sn.base)
				break
			}
		}
	}
	st.FirstUncleanable = max(fu, st.FirstDirty)
	p.earliestDirtyTs = math.MaxInt64
	for _, sn := range p.segs[:len(p.segs)-1] {
		switch {
		case sn.next <= st.FirstDirty:
			st.CleanBytes += sn.size
		case sn.base < st.FirstUncleanable:
			st.DirtyBytes += sn.size
			if sn.firstTs >= 0 {
				p.earliestDirtyTs = min(p.earliestDirtyTs, sn.firstTs)
			}
		}
	}
	if total := st.CleanBytes + st.DirtyBytes; total > 0 {
		st.DirtyRatio = float64(st.DirtyBytes) / float64(total)
	}
	st.MaxLagExceeded = o.MaxCompactionLagMs > 0 && st.DirtyBytes > 0 &&
		p.earliestDirtyTs != math.MaxInt64 && nowMs-p.earliestDirtyTs > o.MaxCompactionLagMs
	st.HorizonPassed = cp.horizon > 0 && nowMs >= cp.horizon && len(p.segs) > 1
	st.Due = st.DirtyBytes > 0 && (st.DirtyRatio > o.MinCleanableDirtyRatio || st.MaxLagExceeded) || st.HorizonPassed
	return p, nil
}

// CleanState reports how dirty the log is and whether a round is due under
// o (LogCleanerManager.grabFilthiestCompactedLog's test, plus tombstones
// whose delete horizon passed).
func (l *Log) CleanState(o CleanOptions) (CleanState, error) {
	p, err := l.plan(l.now(), &o)
	return p.state, err
}

// Clean runs one compaction round (see the comment at the top of clean.go)
// whether or not it is due. Appends and reads continue meanwhile; a reader
// that was inside a replaced segment gets a storage error and retries. ctx
// stops the round between batches. Calls are serialized.
func (l *Log) Clean(ctx context.Context, o CleanOptions) (CleanResult, error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	now := l.now()
	nowMs := now.UnixMilli()
	if o.ProducerExpirationMs <= 0 {
		o.ProducerExpirationMs = defaultProducerExpirationMs
	}
	p, err := l.plan(now, &o)
	if err != nil {
		return CleanResult{}, err
	}
	res := CleanResult{FirstDirty: p.state.FirstDirty, NextDirty: p.state.FirstDirty}
	if len(p.segs) < 2 {
		res.Done = true
		return res, nil
	}
	producers, dirtyRecords, err := l.scanHeaders(ctx, &p, nowMs-o.ProducerExpirationMs)
	if err != nil {
		return res, err
	}
	m, mapEnd, err := l.buildOffsetMap(ctx, &p, &o, dirtyRecords, &res)
	if err != nil {
		return res, err
	}
	res.Done = mapEnd >= p.state.FirstUncleanable

	c := cleaner{l: l, m: m, mapEnd: mapEnd, nowMs: nowMs, retention: o.DeleteRetentionMs, producers: producers, res: &res}
	groups := groupSegments(p.segs[:len(p.segs)-1], p.cfg.SegmentBytes, p.cfg.SegmentIndexBytes, mapEnd)
	if len(groups) > 0 {
		last := groups[len(groups)-1]
		if err := c.txn.addAborted(o.Txns, p.segs[0].base, last[len(last)-1].next); err != nil {
			return res, err
		}
	}
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := c.cleanGroup(ctx, g, p.cfg.IndexIntervalBytes); err != nil {
			return res, err
		}
	}
	// Advance the checkpoint unless the log was truncated or closed
	// meanwhile: then the offsets above may be new, dirty data.
	// Truncate counts itself before it lowers the checkpoint under cpMu,
	// so checking the count under cpMu cannot undo its lowering.
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if l.truncs.Load() == p.truncs {
		next := mapEnd
		if err := l.writeCleanerStateLocked(cleanerState{firstDirty: next, horizon: c.horizon}); err != nil {
			return res, storageErr(err)
		}
		res.NextDirty = next
	}
	return res, nil
}

// producerLast is what the cleaner keeps of a producer so that its last
// batch survives (Kafka's lastRecordsOfActiveProducers): the last offset of
// its last data batch (-1 if none) and its latest epoch.
type producerLast struct {
	lastData int64
	epoch    int16
	ts       int64
}

// scanHeaders reads every batch header of the log to find each producer's
// last batch, dropping producers idle since before expiredMs, and counts
// the records of the dirty part, which sizes the key map.
func (l *Log) scanHeaders(ctx context.Context, p *cleanPlan, expiredMs int64) (map[int64]producerLast, int64, error) {
	out := map[int64]producerLast{}
	var dirty int64
	var hb [batch.HeaderSize]byte
	for _, sn := range p.segs {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		for pos := int64(0); pos+batch.HeaderSize <= sn.size; {
			if _, err := sn.s.log.ReadAt(hb[:], pos); err != nil {
				return nil, 0, storageErr(fmt.Errorf("log: cleaner reading segment %d: %w", sn.base, err))
			}
			h, _ := batch.ParseHeader(hb[:])
			if h.Length < batch.HeaderSize-batch.LogOverhead {
				return nil, 0, storageErr(fmt.Errorf("log: cleaner: bad batch header in segment %d at %d", sn.base, pos))
			}
			if h.LastOffset() >= p.state.FirstDirty && h.BaseOffset < p.state.FirstUncleanable {
				dirty += int64(h.NumRecords)
			}
			if h.HasProducerID() {
				e, ok := out[h.ProducerID]
				if !ok {
					e.lastData = -1
				}
				if !h.IsControl() {
					e.lastData = h.LastOffset()
				}
				e.epoch, e.ts = h.ProducerEpoch, h.MaxTimestamp
				out[h.ProducerID] = e
			}
			pos += int64(h.Size())
		}
	}
	for id, e := range out {
		if e.ts >= 0 && e.ts < expiredMs {
			delete(out, id)
		}
	}
	return out, dirty, nil
}

// eachBatch reads the batches of a segment from position from up to limit
// and calls fn with each; b is reused after fn returns. fn returns false to
// stop.
func eachBatch(sn *segSnap, from int64, fn func(h *batch.Header, b []byte) (bool, error)) error {
	r := bufio.NewReaderSize(io.NewSectionReader(sn.s.log, from, sn.size-from), 256<<10)
	buf := make([]byte, 0, 64<<10)
	for pos := from; pos < sn.size; {
		buf = buf[:batch.HeaderSize]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("log: cleaner reading segment %d at %d: %w", sn.base, pos, err)
		}
		h, _ := batch.ParseHeader(buf)
		size := int64(h.Size())
		if h.Length < batch.HeaderSize-batch.LogOverhead || pos+size > sn.size {
			return fmt.Errorf("log: cleaner: bad batch header in segment %d at %d", sn.base, pos)
		}
		buf = slices.Grow(buf, int(size)-len(buf))[:size]
		if _, err := io.ReadFull(r, buf[batch.HeaderSize:]); err != nil {
			return fmt.Errorf("log: cleaner reading segment %d at %d: %w", sn.base, pos, err)
		}
		more, err := fn(&h, buf)
		if err != nil || !more {
			return err
		}
		pos += size
	}
	return nil
}

// controlType decodes a control batch's first record key: 0 abort, 1 commit,
// -1 for an empty or unreadable batch.
func controlType(b []byte) (int16, error) {
	for r, err := range batch.Records(b) {
		if err != nil {
			return -1, err
		}
		if len(r.Key) < 4 {
			return -1, nil
		}
		return int16(binary.BigEndian.Uint16(r.Key[2:])), nil
	}
	return -1, nil
}

// buildOffsetMap hashes the keys of the dirty part into a map sized for it
// (at most the dedupe buffer) and returns where the mapped part ends.
func (l *Log) buildOffsetMap(ctx context.Context, p *cleanPlan, o *CleanOptions, records int64, res *CleanResult) (*offsetMap, int64, error) {
	from, to := p.state.FirstDirty, p.state.FirstUncleanable
	var dirty []int
	for i := range p.segs[:len(p.segs)-1] {
		sn := &p.segs[i]
		if sn.next > from && sn.base < to {
			dirty = append(dirty, i)
		}
	}
	m := newOffsetMap(o.DedupeBufferBytes, records)
	if len(dirty) == 0 {
		return m, from, nil
	}
	var txn txnMeta
	if err := txn.addAborted(o.Txns, from, to); err != nil {
		return nil, 0, err
	}
	mapEnd := from
	full := false
	for _, i := range dirty {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		sn := &p.segs[i]
		l.mu.RLock()
		pos := sn.s.lookup(from)
		l.mu.RUnlock()
		if sn.base >= from {
			pos = 0
		}
		err := eachBatch(sn, pos, func(h *batch.Header, b []byte) (bool, error) {
			if h.BaseOffset >= to {
				return false, nil
			}
			if h.LastOffset() < from {
				return true, nil
			}
			res.BatchesRead++
			if h.IsControl() {
				ct, err := controlType(b)
				if err != nil {
					return false, err
				}
				txn.onControl(h, ct)
			} else if !txn.onData(h) {
				if m.entries+int(h.NumRecords) > m.maxEntries {
					full = true
					return false, nil
				}
				for r, err := range batch.Records(b) {
					if err != nil {
						return false, err
					}
					if r.Key != nil && r.Offset >= from {
						m.put(r.Key, r.Offset)
					}
				}
			}
			mapEnd = h.LastOffset() + 1
			return true, nil
		})
		if err != nil {
			return nil, 0, storageErr(err)
		}
		if full {
			break
		}
	}
	if !full {
		mapEnd = to
	} else if mapEnd == from {
		return nil, 0, fmt.Errorf("%w: %d bytes", ErrDedupeBufferTooSmall, o.DedupeBufferBytes)
	}
	return m, mapEnd, nil
}

// groupSegments splits the segments below mapEnd into runs that fit one
// segment (Cleaner.groupSegmentsBySize): log and index sizes within the
// limits and relative offsets within 32 bits.
func groupSegments(segs []segSnap, maxSize, maxIndexSize int64, mapEnd int64) [][]segSnap {
	var out [][]segSnap
	for i := 0; i < len(segs) && segs[i].base < mapEnd; {
		g := []segSnap{segs[i]}
		size, idx, tidx := segs[i].size, int64(segs[i].idxEntries)*indexEntrySize, int64(segs[i].tidxEntries)*timeIndexEntrySize
		i++
		for i < len(segs) && segs[i].base < mapEnd &&
			size+segs[i].size <= min(maxSize, math.MaxUint32) &&
			idx+int64(segs[i].idxEntries)*indexEntrySize <= maxIndexSize &&
			tidx+int64(segs[i].tidxEntries)*timeIndexEntrySize <= maxIndexSize &&
			segs[i].next-1-g[0].base <= math.MaxInt32 {
			g = append(g, segs[i])
			size += segs[i].size
			idx += int64(segs[i].idxEntries) * indexEntrySize
			tidx += int64(segs[i].tidxEntries) * timeIndexEntrySize
			i++
		}
		out = append(out, g)
	}
	return out
}

// cleaner carries one round's state across segment groups.
type cleaner struct {
	l         *Log
	m         *offsetMap
	mapEnd    int64
	nowMs     int64
	retention int64
	producers map[int64]producerLast
	txn       txnMeta
	horizon   int64 // earliest horizon after which a retained batch loses something
	res       *CleanResult
}

func (c *cleaner) noteHorizon(h int64) {
	if c.horizon == 0 || h < c.horizon {
		c.horizon = h
	}
}

func (c *cleaner) isLastOfProducer(h *batch.Header) bool {
	e, ok := c.producers[h.ProducerID]
	if !ok {
		return false
	}
	if e.lastData >= 0 {
		return h.LastOffset() == e.lastData
	}
	return h.IsControl() && h.ProducerEpoch == e.epoch
}

// filter decides what becomes of one batch: out is what to write (the
// original bytes when unchanged, nil to drop it).
func (c *cleaner) filter(h *batch.Header, b []byte, scratch []batch.Record) (out []byte, changed bool, err error) {
	var canDiscard bool
	ct := int16(-1)
	if h.IsControl() {
		if ct, err = controlType(b); err != nil {
			return nil, false, err
		}
		canDiscard = c.txn.onControl(h, ct)
	} else {
		canDiscard = c.txn.onData(h)
	}
	hasHorizon := h.Attributes&attrDeleteHorizon != 0
	horizon := h.FirstTimestamp
	discardRecords := canDiscard
	if h.IsControl() {
		discardRecords = canDiscard && hasHorizon && horizon <= c.nowMs
	}
	retainEmpty := h.HasProducerID() && c.isLastOfProducer(h) || h.LastOffset()+1 == c.mapEnd
	if discardRecords && !retainEmpty {
		c.res.RecordsRemoved += int64(h.NumRecords)
		return nil, true, nil
	}
	kept := scratch[:0]
	all := true
	tombstones := false
	removableTombstone := false
	if !discardRecords {
		for r, err := range batch.Records(b) {
			if err != nil {
				return nil, false, err
			}
			if c.retain(h, &r, hasHorizon, horizon) {
				kept = append(kept, r)
				if r.Value == nil && !h.IsControl() {
					tombstones = true
					removableTombstone = removableTombstone || r.Offset < c.mapEnd
				}
			} else {
				all = false
			}
		}
	} else {
		all = h.NumRecords == 0
	}
	c.res.RecordsRemoved += int64(int(h.NumRecords) - len(kept))
	markerForEmptyTxn := canDiscard && h.IsControl()
	switch {
	case len(kept) > 0:
		needHorizon := (tombstones || markerForEmptyTxn) && !hasHorizon
		newHorizon := int64(-1)
		if needHorizon {
			newHorizon = c.nowMs + c.retention
		} else if hasHorizon {
			newHorizon = horizon
		}
		if removableTombstone || markerForEmptyTxn {
			if newHorizon >= 0 {
				c.noteHorizon(max(newHorizon, 1))
			}
		}
		if all && !needHorizon {
			return b, false, nil
		}
		out, err := rebuildBatch(nil, h, kept, newHorizon)
		return out, true, err
	case retainEmpty:
		out := emptyBatch(h)
		return out, string(out) != string(b), nil
	default:
		return nil, true, nil
	}
}

// retain is Cleaner.shouldRetainRecord for a data record.
func (c *cleaner) retain(h *batch.Header, r *batch.Record, hasHorizon bool, horizon int64) bool {
	if h.IsControl() || r.Offset >= c.mapEnd {
		return true
	}
	if r.Key == nil {
		return false // a compacted log keeps only keyed records
	}
	if found, ok := c.m.get(r.Key); ok && r.Offset < found {
		return false
	}
	if r.Value == nil {
		return !hasHorizon || c.nowMs < horizon
	}
	return true
}

// cleanGroup rewrites one group of segments into one cleaned segment and
// swaps it in. A single segment that would come out unchanged is left
// alone.
func (c *cleaner) cleanGroup(ctx context.Context, g []segSnap, interval int64) error {
	l := c.l
	base := g[0].base
	ns := &segment{base: base, next: base, maxTs: -1, maxTsOff: -1, firstTs: -1, createdMs: g[len(g)-1].maxTs}
	var w []byte
	var written int64
	changed := len(g) > 1
	var scratch []batch.Record
	flush := func() error {
		if ns.log == nil {
			if err := ns.createCleaned(l.dir); err != nil {
				return err
			}
		}
		if _, err := ns.log.WriteAt(w, written); err != nil {
			return fmt.Errorf("log: writing cleaned segment %d: %w", base, err)
		}
		written += int64(len(w))
		w = w[:0]
		return nil
	}
	fail := func(err error) error {
		if ns.log != nil {
			ns.removeCleaned(l.dir)
		}
		return err
	}
	for i := range g {
		sn := &g[i]
		c.res.BytesBefore += sn.size
		err := eachBatch(sn, 0, func(h *batch.Header, b []byte) (bool, error) {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			c.res.BatchesRead++
			out, ch, err := c.filter(h, b, scratch)
			if err != nil {
				return false, err
			}
			changed = changed || ch
			if out == nil {
				return true, nil
			}
			oh, _ := batch.ParseHeader(out)
			pos := written + int64(len(w))
			if pos == 0 {
				ns.firstTs = oh.MaxTimestamp
			}
			ns.noteBatch(&oh, pos, interval)
			w = append(w, out...)
			if len(w) >= 1<<20 {
				return true, flush()
			}
			return true, nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			return fail(storageErr(err))
		}
	}
	if !changed {
		c.res.BytesAfter += g[0].size
		if ns.log != nil {
			ns.removeCleaned(l.dir)
		}
		return nil
	}
	if err := flush(); err != nil {
		return fail(storageErr(err))
	}
	ns.maybeTimeEntry()
	if err := ns.writeIndexes(); err != nil {
		return fail(storageErr(err))
	}
	if err := ns.sync(); err != nil {
		return fail(storageErr(err))
	}
	if err := l.hook("cleaned"); err != nil {
		return err
	}
	ok, err := l.swapIn(g, ns)
	if err != nil || !ok {
		return err
	}
	c.res.SegmentsRewritten += len(g)
	c.res.SegmentsWritten++
	c.res.BytesAfter += ns.size
	return nil
}

func (s *segment) createCleaned(dir string) error {
	var err error
	open := func(suffix string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(segName(dir, s.base, suffix)+cleanedSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		return f
	}
	s.log, s.idx, s.tidx = open(logSuffix), open(indexSuffix), open(timeIndexSuffix)
	if err != nil {
		s.close()
		return fmt.Errorf("log: creating cleaned segment %d: %w", s.base, err)
	}
	return nil
}

func (s *segment) removeCleaned(dir string) {
	s.close()
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		_ = os.Remove(segName(dir, s.base, suf) + cleanedSuffix)
	}
}

// hook lets tests stop a round at a named step, as a crash would: the
// round returns the hook's error at once and cleans nothing up.
func (l *Log) hook(step string) error {
	if l.cleanHook == nil {
		return nil
	}
	return l.cleanHook(step)
}

// swapIn replaces the group's segments with ns if they are still the log's
// (retention, truncation or Close may have changed them meanwhile; then ns
// is dropped and ok is false). The swap is committed by the manifest, so a
// crash at any step is finished or undone by Open (recoverCleanerSwap).
func (l *Log) swapIn(g []segSnap, ns *segment) (ok bool, err error) {
	l.amu.Lock()
	defer l.amu.Unlock()
	l.mu.RLock()
	closed := l.closed
	i := slices.Index(l.segs, g[0].s)
	valid := !closed && i >= 0 && i+len(g) < len(l.segs)
	for k := 0; valid && k < len(g); k++ {
		valid = l.segs[i+k] == g[k].s && g[k].s.size == g[k].size
	}
	l.mu.RUnlock()
	if !valid {
		ns.removeCleaned(l.dir)
		return false, nil
	}
	manifest := strconv.AppendInt(nil, ns.base, 10)
	for _, sn := range g[1:] {
		manifest = append(manifest, ' ')
		manifest = strconv.AppendInt(manifest, sn.base, 10)
	}
	manifest = append(manifest, '\n')
	if err := writeFileAtomic(filepath.Join(l.dir, swapManifestName), manifest); err != nil {
		ns.removeCleaned(l.dir)
		return false, storageErr(err)
	}
	if err := syncDir(l.dir); err != nil {
		return false, storageErr(err)
	}
	if err := l.hook("committed"); err != nil {
		return false, err
	}
	// From here on Open would finish the swap, so errors leave it to Open.
	for _, sn := range g[1:] {
		if err := removeSegmentFiles(l.dir, sn.base); err != nil {
			return false, storageErr(err)
		}
	}
	if err := l.hook("removed"); err != nil {
		return false, err
	}
	for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
		name := segName(l.dir, ns.base, suf)
		if err := os.Rename(name+cleanedSuffix, name); err != nil {
			return false, storageErr(fmt.Errorf("log: swapping in cleaned segment %d: %w", ns.base, err))
		}
		if err := l.hook("renamed" + suf); err != nil {
			return false, err
		}
	}
	if err := syncDir(l.dir); err != nil {
		return false, storageErr(err)
	}
	if err := os.Remove(filepath.Join(l.dir, swapManifestName)); err != nil {
		return false, storageErr(fmt.Errorf("log: removing swap manifest: %w", err))
	}
	l.mu.Lock()
	var old int64
	for _, sn := range g {
		old += sn.s.size
	}
	l.segs = slices.Concat(l.segs[:i:i], []*segment{ns}, l.segs[i+len(g):]) // a new array: never rewrite one others may hold
	l.size += ns.size - old
	l.mu.Unlock()
	for _, sn := range g {
		_ = sn.s.close() // readers inside them get os.ErrClosed and retry
	}
	return true, nil
}

func removeSegmentFiles(dir string, base int64) error {
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := os.Remove(segName(dir, base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("log: removing segment %d: %w", base, err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("log: opening %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("log: fsync %s: %w", dir, err)
	}
	return nil
}

// recoverCleanerSwap runs in Open before the segments are listed. A swap
// manifest means a cleaned segment was complete and committed: remove the
// segments it replaces and finish the renames. Any other *.cleaned file is
// from a round that did not commit and is deleted.
func recoverCleanerSwap(dir string) (bool, error) {
	path := filepath.Join(dir, swapManifestName)
	b, err := os.ReadFile(path)
	finished := false
	switch {
	case err == nil:
		f := strings.Fields(string(b))
		var bases []int64
		for _, s := range f {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				return false, fmt.Errorf("log: malformed %s: %q", path, b)
			}
			bases = append(bases, v)
		}
		if len(bases) == 0 {
			return false, fmt.Errorf("log: empty %s", path)
		}
		for _, old := range bases[1:] {
			if err := removeSegmentFiles(dir, old); err != nil {
				return false, err
			}
		}
		for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
			name := segName(dir, bases[0], suf)
			if err := os.Rename(name+cleanedSuffix, name); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, fmt.Errorf("log: finishing cleaner swap: %w", err)
			}
		}
		if err := syncDir(dir); err != nil {
			return false, err
		}
		if err := os.Remove(path); err != nil {
			return false, fmt.Errorf("log: removing swap manifest: %w", err)
		}
		finished = true
	case !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("log: reading %s: %w", path, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return finished, fmt.Errorf("log: reading %s: %w", dir, err)
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, cleanedSuffix) || n == swapManifestName+".tmp" {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return finished, fmt.Errorf("log: removing %s: %w", n, err)
			}
		}
	}
	return finished, nil
}

// txnMeta is Kafka's CleanedTransactionMetadata: which producers are inside
// an aborted transaction (their data goes) or a committed one (its marker
// stays while data of the transaction remains), fed with the aborted
// transactions in offset order.
type txnMeta struct {
	pending   []AbortedTxn         // sorted by FirstOffset, not yet reached
	aborted   map[int64]*abortedAt // producer → ongoing aborted transaction
	committed map[int64]bool       // producers with a data batch seen in an open committed transaction
}

type abortedAt struct{ sawData bool }

func (t *txnMeta) addAborted(src Txns, from, to int64) error {
	if src == nil {
		return nil
	}
	ab, err := src.AbortedTxns(from, to)
	if err != nil {
		return fmt.Errorf("log: cleaner listing aborted transactions: %w", err)
	}
	t.pending = append(t.pending, ab...)
	slices.SortFunc(t.pending, func(a, b AbortedTxn) int { return int(min(max(a.FirstOffset-b.FirstOffset, -1), 1)) })
	return nil
}

func (t *txnMeta) consumeUpTo(off int64) {
	for len(t.pending) > 0 && t.pending[0].FirstOffset <= off {
		a := t.pending[0]
		t.pending = t.pending[1:]
		if t.aborted == nil {
			t.aborted = map[int64]*abortedAt{}
		}
		if _, ok := t.aborted[a.ProducerID]; !ok {
			t.aborted[a.ProducerID] = &abortedAt{}
		}
	}
}

// onControl reports whether a marker may go (once its horizon passed): an
// abort marker when no data of its transaction was seen in this pass, a
// commit marker likewise, an emptied marker always.
func (t *txnMeta) onControl(h *batch.Header, ctype int16) bool {
	t.consumeUpTo(h.LastOffset())
	switch ctype {
	case 0: // abort: kept while data of the transaction remains
		a, ok := t.aborted[h.ProducerID]
		delete(t.aborted, h.ProducerID)
		return !ok || !a.sawData
	case 1: // commit
		seen := t.committed[h.ProducerID]
		delete(t.committed, h.ProducerID)
		return !seen
	case -1:
		return true
	}
	return false
}

// onData reports whether a data batch belongs to an aborted transaction.
func (t *txnMeta) onData(h *batch.Header) bool {
	t.consumeUpTo(h.LastOffset())
	if !h.IsTransactional() {
		return false
	}
	if a, ok := t.aborted[h.ProducerID]; ok {
		a.sawData = true
		return true
	}
	if t.committed == nil {
		t.committed = map[int64]bool{}
	}
	t.committed[h.ProducerID] = true
	return false
}

// offsetMap is a fixed-size open-addressing map from a 128-bit key hash to
// the key's latest offset, Kafka's SkimpyOffsetMap: memory is bounded by
// the dedupe buffer however long the keys are.
type offsetMap struct {
	seed0, seed1 maphash.Seed
	slots        []mapSlot
	entries      int
	maxEntries   int
}

type mapSlot struct {
	h0, h1 uint64
	off    int64 // offset + 1; 0 marks an empty slot
}

// newOffsetMap sizes a map for at most want keys within bufferBytes.
func newOffsetMap(bufferBytes, want int64) *offsetMap {
	n := min(max(bufferBytes/mapSlotSize, 1), int64(float64(want)/cleanerLoadFactor)+2)
	return &offsetMap{
		seed0: maphash.MakeSeed(), seed1: maphash.MakeSeed(),
		slots:      make([]mapSlot, n),
		maxEntries: int(float64(n) * cleanerLoadFactor),
	}
}

func (m *offsetMap) find(key []byte) (*mapSlot, uint64, uint64) {
	h0, h1 := maphash.Bytes(m.seed0, key), maphash.Bytes(m.seed1, key)
	n := uint64(len(m.slots))
	for i := h0 % n; ; i = (i + 1) % n {
		s := &m.slots[i]
		if s.off == 0 || s.h0 == h0 && s.h1 == h1 {
			return s, h0, h1
		}
	}
}

func (m *offsetMap) put(key []byte, off int64) {
	s, h0, h1 := m.find(key)
	if s.off == 0 {
		m.entries++
		s.h0, s.h1 = h0, h1
	}
	s.off = off + 1
}

func (m *offsetMap) get(key []byte) (int64, bool) {
	s, _, _ := m.find(key)
	return s.off - 1, s.off != 0
}

// emptyBatch is DefaultRecordBatch.writeEmptyHeader: the batch's offsets and
// producer fields without records, kept so producer state survives.
func emptyBatch(h *batch.Header) []byte {
	e := *h
	e.Attributes &^= attrCodecMask | attrDeleteHorizon
	e.FirstTimestamp = h.MaxTimestamp
	e.NumRecords = 0
	b := make([]byte, batch.HeaderSize)
	batch.PutHeader(b, &e)
	return b
}

// rebuildBatch encodes the kept records of h with h's codec, base offset,
// last offset delta, producer fields and attributes (MemoryRecords
// .buildRetainedRecordsInto). horizon >= 0 sets the delete horizon, which
// becomes the base timestamp the record deltas are relative to.
func rebuildBatch(dst []byte, h *batch.Header, recs []batch.Record, horizon int64) ([]byte, error) {
	nh := *h
	logAppend := h.TimestampType() == batch.LogAppendTime
	nh.Attributes &^= attrDeleteHorizon
	switch {
	case horizon >= 0:
		nh.Attributes |= attrDeleteHorizon
		nh.FirstTimestamp = horizon
	case logAppend:
		nh.FirstTimestamp = h.FirstTimestamp
	default:
		nh.FirstTimestamp = recs[0].Timestamp
	}
	maxTs := int64(-1)
	var body []byte
	for i := range recs {
		r := &recs[i]
		maxTs = max(maxTs, r.Timestamp)
		tsDelta := r.Timestamp - nh.FirstTimestamp
		if logAppend {
			tsDelta = 0 // readers take LogAppendTime records' time from the batch
		}
		body = batch.AppendRecord(body, r, r.Offset-h.BaseOffset, tsDelta)
	}
	if !logAppend {
		nh.MaxTimestamp = maxTs
	}
	nh.NumRecords = int32(len(recs))
	body, err := batch.Compress(h.Compression(), body)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, make([]byte, batch.HeaderSize)...)
	dst = append(dst, body...)
	batch.PutHeader(dst[start:], &nh)
	return dst, nil
}
