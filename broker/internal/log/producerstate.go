package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// Producer state is Kafka's ProducerStateManager for idempotent producers:
// per producer id the current epoch and the last [MaxProducerBatches]
// batches (first/last sequence and offsets), so a retried batch is
// recognised and answered with its original offsets instead of being
// appended twice. It lives beside the segments because it is derived from
// them: snapshots (<20-digit offset>.snapshot, the state of every batch
// below that offset) are written on roll and on Close, and Open loads the
// newest usable one and replays the batches after it.
//
// All of it is owned by amu, which the append path holds anyway, so the
// check and the append are one atomic step per partition and partitions
// never contend.

// MaxProducerBatches is how many of a producer's latest batches are kept
// per partition for duplicate detection: Kafka's
// ProducerStateEntry.NUM_BATCHES_TO_RETAIN, which is also the most
// in-flight requests an idempotent producer may have.
const MaxProducerBatches = 5

const snapshotSuffix = ".snapshot"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Sentinel errors of producer state; produce errors also wrap a kerr code.
var (
	// ErrOutOfOrderSequence is a batch whose first sequence does not
	// follow the producer's last one; wrapped with
	// kerr.OutOfOrderSequenceNumber.
	ErrOutOfOrderSequence = errors.New("log: out of order sequence number")
	// ErrStaleProducerEpoch is a batch from an epoch older than the
	// producer's current one (a fenced zombie); wrapped with
	// kerr.InvalidProducerEpoch.
	ErrStaleProducerEpoch = errors.New("log: producer epoch is older than the current one")
	// ErrBadSnapshot is a producer snapshot that does not decode; Open
	// then falls back to an older snapshot or to replaying the log.
	ErrBadSnapshot = errors.New("log: bad producer snapshot")
)

// batchMeta is what identifies one appended batch of a producer.
type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

// producerEntry is one producer's state in this partition.
type producerEntry struct {
	epoch      int16
	batches    []batchMeta // oldest first, at most MaxProducerBatches
	lastTs     int64       // max timestamp of the latest batch, for expiry
	lastOffset int64       // last offset of the latest batch, for eviction below the log start
	// txnFirst is the first offset of the producer's open transaction in
	// this partition, -1 when none is open (txn.go).
	txnFirst int64
	// coordEpoch is the coordinator epoch of the producer's last marker,
	// -1 before any; an older coordinator's marker is fenced.
	coordEpoch int32
}

func newProducerEntry(epoch int16) *producerEntry {
	return &producerEntry{epoch: epoch, txnFirst: -1, coordEpoch: -1}
}

// ProducerInfo describes one producer's state in a partition, as
// DescribeProducers reports it.
type ProducerInfo struct {
	ProducerID     int64
	Epoch          int16
	LastSequence   int32 // last sequence of the latest batch, -1 when none is kept
	LastTimestamp  int64 // max timestamp of the latest batch
	LastOffset     int64 // last offset of the latest batch
	BatchesInCache int   // how many batches are kept for duplicate detection
	// CurrentTxnStartOffset is the first offset of the producer's open
	// transaction in this partition, -1 when none is open.
	CurrentTxnStartOffset int64
	CoordinatorEpoch      int32 // of the producer's last marker, -1 before any
}

// lastSequence is DefaultRecordBatch.incrementSequence: sequences wrap
// from math.MaxInt32 to 0.
func lastSequence(base, delta int32) int32 {
	if base > math.MaxInt32-delta {
		return delta - (math.MaxInt32 - base) - 1
	}
	return base + delta
}

// inSequence is ProducerStateManager's rule for the next batch's first
// sequence: one after the last, or 0 after math.MaxInt32.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// checkProducer applies Kafka's duplicate, epoch and sequence checks to a
// client batch (UnifiedLog.analyzeAndValidateProducerState and
// ProducerAppendInfo). It returns the kept batch that h repeats, or nil
// for a new batch that may be appended; it changes nothing.
func (l *Log) checkProducer(h *batch.Header) (*batchMeta, error) {
	e := l.producers[h.ProducerID]
	if e == nil {
		// Unknown producer (new, expired, or its batches all deleted): any
		// sequence is accepted, as Kafka does since KIP-360.
		return nil, nil
	}
	if e.txnFirst >= 0 && !h.IsTransactional() && h.ProducerEpoch == e.epoch {
		// ProducerAppendInfo: a producer inside a transaction writes only
		// transactional batches until the marker.
		return nil, fmt.Errorf("%w: %w: producer %d sent a non-transactional batch inside its open transaction",
			kerr.InvalidTxnState, ErrInvalidTxnState, h.ProducerID)
	}
	last := lastSequence(h.BaseSequence, h.LastOffsetDelta)
	if h.ProducerEpoch == e.epoch {
		for i := range e.batches {
			if b := &e.batches[i]; b.firstSeq == h.BaseSequence && b.lastSeq == last {
				return b, nil
			}
		}
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return nil, fmt.Errorf("%w: %w: epoch %d of producer %d is older than the current %d",
			kerr.InvalidProducerEpoch, ErrStaleProducerEpoch, h.ProducerEpoch, h.ProducerID, e.epoch)
	case h.ProducerEpoch != e.epoch:
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: %w: producer %d's new epoch %d must start at sequence 0, not %d",
				kerr.OutOfOrderSequenceNumber, ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
	case len(e.batches) > 0:
		if prev := e.batches[len(e.batches)-1].lastSeq; !inSequence(prev, h.BaseSequence) {
			return nil, fmt.Errorf("%w: %w: producer %d at epoch %d sent sequence %d after %d",
				kerr.OutOfOrderSequenceNumber, ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence, prev)
		}
	}
	return nil, nil
}

// noteProducer records an appended batch (h.BaseOffset already assigned).
// A transactional data batch opens the producer's transaction if none is
// open. A control batch (a transaction marker, m decoded from it) moves
// the epoch, as Kafka's appendEndTxnMarker does, and completes the
// transaction; for an abort newly added to the aborted index the entry is
// returned so the append path can write it to the index file.
func (l *Log) noteProducer(h *batch.Header, m endMarker) *abortedEntry {
	if h.ProducerID < 0 {
		return nil
	}
	if l.producers == nil {
		l.producers = map[int64]*producerEntry{}
	}
	e := l.producers[h.ProducerID]
	if e == nil {
		e = newProducerEntry(h.ProducerEpoch)
		l.producers[h.ProducerID] = e
	}
	if h.ProducerEpoch > e.epoch {
		e.epoch, e.batches = h.ProducerEpoch, e.batches[:0]
	}
	e.lastTs, e.lastOffset = h.MaxTimestamp, h.LastOffset()
	if h.IsControl() {
		if m.ctype != markerAbort && m.ctype != markerCommit {
			return nil
		}
		e.coordEpoch = max(e.coordEpoch, m.coordEpoch)
		return l.completeTxn(h.ProducerID, e, h.BaseOffset, m.ctype == markerAbort)
	}
	if h.IsTransactional() && e.txnFirst < 0 {
		l.openTxn(h.ProducerID, e, h.BaseOffset)
	}
	if h.BaseSequence < 0 {
		return nil
	}
	if len(e.batches) == MaxProducerBatches {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:MaxProducerBatches-1]
	}
	e.batches = append(e.batches, batchMeta{
		firstSeq: h.BaseSequence, lastSeq: lastSequence(h.BaseSequence, h.LastOffsetDelta),
		firstOffset: h.BaseOffset, lastOffset: h.LastOffset(),
	})
	return nil
}

// evictProducersBelow drops producers whose latest batch lies below the
// log start offset (ProducerStateManager.truncateHead): their sequences
// are gone from the log, so the next batch is accepted with any sequence.
// An open transaction of such a producer has no data left either and is
// forgotten with it.
func (l *Log) evictProducersBelow(start int64) {
	for id, e := range l.producers {
		if e.lastOffset < start {
			delete(l.producers, id)
			if e.txnFirst >= 0 {
				l.closeTxn(id, nil)
			}
		}
	}
}

// Producer returns the state kept for a producer id in this partition.
func (l *Log) Producer(id int64) (ProducerInfo, bool) {
	l.amu.Lock()
	defer l.amu.Unlock()
	e := l.producers[id]
	if e == nil {
		return ProducerInfo{}, false
	}
	return e.info(id), true
}

// Producers returns the state of every producer kept in this partition,
// sorted by producer id.
func (l *Log) Producers() []ProducerInfo {
	l.amu.Lock()
	defer l.amu.Unlock()
	out := make([]ProducerInfo, 0, len(l.producers))
	for id, e := range l.producers {
		out = append(out, e.info(id))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

func (e *producerEntry) info(id int64) ProducerInfo {
	p := ProducerInfo{ProducerID: id, Epoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTs,
		LastOffset: e.lastOffset, BatchesInCache: len(e.batches),
		CurrentTxnStartOffset: e.txnFirst, CoordinatorEpoch: e.coordEpoch}
	if n := len(e.batches); n > 0 {
		p.LastSequence = e.batches[n-1].lastSeq
	}
	return p
}

// ExpireProducers drops producers whose latest batch's timestamp is
// expirationMs or more before now (producer.id.expiration.ms). It returns
// how many were dropped. [Log.EnforceRetention] calls it with
// Config.ProducerIDExpirationMs. A producer with an open transaction is
// kept, as Kafka keeps it: its transaction still holds the LSO, and only
// the coordinator's marker (or its timeout abort) may end it.
func (l *Log) ExpireProducers(nowMs, expirationMs int64) int {
	l.amu.Lock()
	defer l.amu.Unlock()
	return l.expireProducersLocked(nowMs, expirationMs)
}

func (l *Log) expireProducersLocked(nowMs, expirationMs int64) int {
	n := 0
	for id, e := range l.producers {
		if nowMs-e.lastTs >= expirationMs && e.txnFirst < 0 {
			delete(l.producers, id)
			n++
		}
	}
	return n
}

// Snapshot file: "SLPS", version uint16, count uint32, then per producer
// id int64, epoch int16, lastTs int64, lastOffset int64, (version 2:
// txnFirst int64, coordEpoch int32,) n uint8 and n batches (firstSeq
// int32, lastSeq int32, firstOffset int64, lastOffset int64), then a
// CRC-32C of everything before it. Version 1 (before transactions) is
// still read.
const (
	snapshotMagic   = "SLPS"
	snapshotVersion = 2
)

func snapshotName(dir string, offset int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", offset, snapshotSuffix))
}

func encodeSnapshot(producers map[int64]*producerEntry) []byte {
	ids := make([]int64, 0, len(producers))
	for id := range producers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := append([]byte(snapshotMagic), 0, snapshotVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastTs))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirst))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordEpoch))
		b = append(b, byte(len(e.batches)))
		for _, m := range e.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeSnapshot(b []byte) (map[int64]*producerEntry, error) {
	const head, batchSize = 10, 24
	if len(b) < head+4 || string(b[:4]) != snapshotMagic {
		return nil, fmt.Errorf("%w: bad header", ErrBadSnapshot)
	}
	version := binary.BigEndian.Uint16(b[4:])
	entryFixed := 27
	switch version {
	case 1:
	case 2:
		entryFixed = 39
	default:
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadSnapshot, version)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: CRC mismatch", ErrBadSnapshot)
	}
	n := int(binary.BigEndian.Uint32(body[6:]))
	p := body[head:]
	out := make(map[int64]*producerEntry, n)
	for range n {
		if len(p) < entryFixed {
			return nil, fmt.Errorf("%w: truncated entry", ErrBadSnapshot)
		}
		id := int64(binary.BigEndian.Uint64(p))
		e := newProducerEntry(int16(binary.BigEndian.Uint16(p[8:])))
		e.lastTs = int64(binary.BigEndian.Uint64(p[10:]))
		e.lastOffset = int64(binary.BigEndian.Uint64(p[18:]))
		if version >= 2 {
			e.txnFirst = int64(binary.BigEndian.Uint64(p[26:]))
			e.coordEpoch = int32(binary.BigEndian.Uint32(p[34:]))
		}
		nb := int(p[entryFixed-1])
		p = p[entryFixed:]
		if nb > MaxProducerBatches || len(p) < nb*batchSize {
			return nil, fmt.Errorf("%w: bad batch count %d", ErrBadSnapshot, nb)
		}
		for range nb {
			e.batches = append(e.batches, batchMeta{
				firstSeq:    int32(binary.BigEndian.Uint32(p)),
				lastSeq:     int32(binary.BigEndian.Uint32(p[4:])),
				firstOffset: int64(binary.BigEndian.Uint64(p[8:])),
				lastOffset:  int64(binary.BigEndian.Uint64(p[16:])),
			})
			p = p[batchSize:]
		}
		out[id] = e
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadSnapshot, len(p))
	}
	return out, nil
}

// writeSnapshot stores the producer state as of the end offset. It is
// written to a temporary file and renamed, without fsync: like Kafka's
// snapshots it is a shortcut, and a torn or lost one only means a longer
// replay at the next Open. amu is held.
func (l *Log) writeSnapshot() error {
	path := snapshotName(l.dir, l.end)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, encodeSnapshot(l.producers), 0o644); err != nil {
		return fmt.Errorf("log: writing producer snapshot: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("log: writing producer snapshot: %w", err)
	}
	return nil
}

// listSnapshots returns the offsets of the snapshot files, ascending.
func listSnapshots(dir string) ([]int64, error) { return listOffsetFiles(dir, snapshotSuffix) }

// deleteSnapshots removes the snapshot files whose offset satisfies drop.
func (l *Log) deleteSnapshots(drop func(off int64) bool) error {
	offs, err := listSnapshots(l.dir)
	if err != nil {
		return err
	}
	for _, off := range offs {
		if drop(off) {
			if err := os.Remove(snapshotName(l.dir, off)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("log: removing producer snapshot: %w", err)
			}
		}
	}
	return nil
}

// loadProducers rebuilds the producer state after Open or Truncate:
// snapshots past the end offset describe batches that are gone and are
// removed, and so are those past trusted (the recovery point after an
// unclean shutdown: they may describe a tail that was never synced); the
// newest readable one left is loaded and the batches after it are
// replayed; producers whose batches all lie below the log start offset are
// dropped. The open transactions and the aborted index are rebuilt with it
// (txn.go): index entries from the replay's start on are re-derived from
// the markers. amu is held (or the log is not yet shared), and mu may be;
// the segments are read directly.
func (l *Log) loadProducers(trusted int64) error {
	l.producers = nil
	l.resetTxns()
	idx, err := l.readTxnIndex()
	if err != nil {
		return err
	}
	offs, err := listSnapshots(l.dir)
	if err != nil {
		return err
	}
	from := l.segs[0].base
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		path := snapshotName(l.dir, off)
		if off > l.end || off > trusted {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("log: removing producer snapshot: %w", err)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("log: reading producer snapshot: %w", err)
		}
		ps, err := decodeSnapshot(b)
		if err != nil {
			l.logger.Warn("log recovery: ignoring a bad producer snapshot", "dir", l.dir, "offset", off, "err", err)
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("log: removing producer snapshot: %w", err)
			}
			continue
		}
		l.producers = ps
		from = max(off, from)
		break
	}
	l.keepTxnIndex(idx.entries, l.start, min(from, l.end))
	l.rebuildOngoing()
	if err := l.replayProducers(from); err != nil {
		return err
	}
	l.evictProducersBelow(l.start)
	if l.txnIndexDiffers(idx) {
		return l.writeTxnIndex()
	}
	return nil
}

// replayProducers feeds every batch at or after from to the producer state,
// reading only batch headers, sequentially, and the bodies of control
// batches (the markers, to know commit from abort).
func (l *Log) replayProducers(from int64) error {
	var hb [batch.HeaderSize]byte
	var cb []byte
	for i, s := range l.segs {
		if i+1 < len(l.segs) && l.segs[i+1].base <= from {
			continue
		}
		pos := int64(0)
		if from > s.base {
			pos = s.lookup(from)
		}
		r := bufio.NewReaderSize(io.NewSectionReader(s.log, pos, s.size-pos), 64<<10)
		for {
			if _, err := io.ReadFull(r, hb[:]); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("log: replaying producer state from segment %d: %w", s.base, err)
			}
			h, err := batch.ParseHeader(hb[:])
			if err != nil || h.Size() < batch.HeaderSize {
				return fmt.Errorf("log: replaying producer state from segment %d: bad batch header", s.base)
			}
			m := noMarker
			if h.IsControl() && h.ProducerID >= 0 && h.LastOffset() >= from {
				cb = append(append(cb[:0], hb[:]...), make([]byte, h.Size()-batch.HeaderSize)...)
				if _, err := io.ReadFull(r, cb[batch.HeaderSize:]); err != nil {
					return fmt.Errorf("log: replaying producer state from segment %d: %w", s.base, err)
				}
				m = parseMarker(cb)
			} else if _, err := r.Discard(h.Size() - batch.HeaderSize); err != nil {
				return fmt.Errorf("log: replaying producer state from segment %d: %w", s.base, err)
			}
			if h.LastOffset() >= from {
				l.noteProducer(&h, m)
			}
		}
	}
	return nil
}
