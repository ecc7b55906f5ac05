package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// Transactions inside a partition, as Kafka's ProducerStateManager and
// TransactionIndex keep them:
//
//   - A transactional data batch opens its producer's transaction in this
//     partition (if none is open) at the batch's base offset. The oldest
//     open transaction's first offset is the first unstable offset; the
//     last stable offset (LSO) is the smaller of it and the end offset, and
//     read_committed consumers read only below it.
//   - A control batch (an end-transaction marker, written by
//     [Log.AppendMarker] for the transaction coordinator) closes it. An
//     abort also adds an entry to the aborted-transaction index: producer
//     id, first offset, the marker's offset and the LSO once it completed.
//     read_committed fetches list the entries that overlap their range so
//     the client drops the aborted records; the cleaner removes them.
//
// The open transactions are part of the producer state (its snapshot keeps
// each producer's open transaction's first offset, as Kafka's does), so
// they rebuild on Open and Truncate with the rest of it. The aborted index
// is one file per partition (aborted.txnindex, Kafka's 34-byte entries)
// instead of one per segment: aborts are rare, the entries are few, and a
// single file survives the cleaner's segment swaps untouched. It is derived
// state too: on load, the entries from the replay's start on are dropped
// and re-derived from the markers in the replayed tail. With fsync
// configured the index is synced with the log (group commit and Flush),
// before the recovery point moves past its entries; after an unclean
// shutdown the replay starts at or below the recovery point (snapshots past
// it are not trusted), so an index that lags the log, as Kafka's
// per-segment indexes of recovered segments, is rebuilt from it.

const (
	txnIndexName      = "aborted.txnindex"
	txnIndexEntrySize = 34 // version int16, pid int64, first, last, lso int64

	// Control record types of an end-transaction marker's key.
	markerAbort  = 0
	markerCommit = 1
)

// Sentinel errors of the transaction path; produce and marker errors also
// wrap a kerr code.
var (
	// ErrCoordinatorFenced is a marker from a transaction coordinator whose
	// epoch is older than the one that last wrote a marker for the
	// producer; wrapped with kerr.TransactionCoordinatorFenced.
	ErrCoordinatorFenced = errors.New("log: transaction coordinator epoch is older than the last marker's")
	// ErrInvalidTxnState is a non-transactional batch from a producer whose
	// transaction is open in this partition; wrapped with
	// kerr.InvalidTxnState.
	ErrInvalidTxnState = errors.New("log: invalid transaction state")
)

// marker is a decoded end-transaction marker; ctype -1 means "not a
// marker" (a data batch, or a control batch that does not decode).
type endMarker struct {
	ctype      int16
	coordEpoch int32
}

var noMarker = endMarker{ctype: -1, coordEpoch: -1}

// parseMarker decodes the EndTransactionMarker of a control batch b: key
// version int16 + type int16, value version int16 + coordinator epoch int32.
func parseMarker(b []byte) endMarker {
	m := noMarker
	for r, err := range batch.Records(b) {
		if err != nil || len(r.Key) < 4 {
			return m
		}
		m.ctype = int16(binary.BigEndian.Uint16(r.Key[2:]))
		if len(r.Value) >= 6 {
			m.coordEpoch = int32(binary.BigEndian.Uint32(r.Value[2:]))
		}
		return m
	}
	return m
}

// markerBatch builds the control batch of one end-transaction marker.
func markerBatch(producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32, nowMs int64) ([]byte, error) {
	ctype := int16(markerAbort)
	if commit {
		ctype = markerCommit
	}
	key := binary.BigEndian.AppendUint16([]byte{0, 0}, uint16(ctype))
	val := binary.BigEndian.AppendUint32([]byte{0, 0}, uint32(coordinatorEpoch))
	h := batch.Header{
		Attributes:    0x10 | 0x20, // transactional | control
		ProducerID:    producerID,
		ProducerEpoch: producerEpoch,
		BaseSequence:  -1,
	}
	return batch.AppendBatch(nil, h, []batch.Record{{Timestamp: nowMs, Key: key, Value: val}})
}

// AppendMarker writes one end-transaction marker for a producer (Kafka's
// control batch with an EndTransactionMarker record: abort or commit plus
// the coordinator epoch, attributes transactional|control) and completes
// the producer's open transaction in this partition: the last stable
// offset moves past it, and an abort is added to the aborted-transaction
// index. It is what the transaction coordinator calls, directly or through
// WriteTxnMarkers, once a transaction's outcome is decided; a marker for a
// producer with no open transaction here is still written, as Kafka does.
//
// As Kafka's appendEndTxnMarker it rejects a producer epoch older than the
// partition's (kerr.InvalidProducerEpoch, [ErrStaleProducerEpoch]) and a
// coordinator epoch older than the last marker's
// (kerr.TransactionCoordinatorFenced, [ErrCoordinatorFenced]). The endMarker
// carries leaderEpoch like any append.
func (l *Log) AppendMarker(producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32, leaderEpoch int32) (AppendResult, error) {
	if producerID < 0 {
		return AppendResult{LogAppendTime: -1}, fmt.Errorf("%w: marker without a producer id", kerr.InvalidRecord)
	}
	b, err := markerBatch(producerID, producerEpoch, commit, coordinatorEpoch, l.now().UnixMilli())
	if err != nil {
		return AppendResult{LogAppendTime: -1}, fmt.Errorf("log: building marker: %w", err)
	}
	return l.append(b, leaderEpoch, true, func() error {
		e := l.producers[producerID]
		switch {
		case e == nil:
			return nil
		case producerEpoch < e.epoch:
			return fmt.Errorf("%w: %w: marker epoch %d of producer %d is older than the current %d",
				kerr.InvalidProducerEpoch, ErrStaleProducerEpoch, producerEpoch, producerID, e.epoch)
		case coordinatorEpoch < e.coordEpoch:
			return fmt.Errorf("%w: %w: coordinator epoch %d of producer %d's marker is older than %d",
				kerr.TransactionCoordinatorFenced, ErrCoordinatorFenced, coordinatorEpoch, producerID, e.coordEpoch)
		}
		return nil
	})
}

// LastStableOffset returns the partition's last stable offset as far as
// the log knows it: the first offset of the oldest open transaction, or
// the end offset when none is open. read_committed consumers read only
// below it. A replicated partition's LSO is further capped by the high
// watermark, which the log does not know: use min(LastStableOffset(), hw).
func (l *Log) LastStableOffset() int64 {
	end := l.EndOffset() // before unstable: an append publishes unstable first
	if u := l.unstable.Load(); u >= 0 && u < end {
		// As Kafka: an open transaction whose start was deleted
		// (DeleteRecords, retention) holds the LSO at the log start,
		// never below it.
		return max(u, l.StartOffset())
	}
	return end
}

// FirstUnstableOffset is the first offset of the oldest open transaction;
// ok is false when none is open. It makes *Log the cleaner's [Txns].
func (l *Log) FirstUnstableOffset() (int64, bool) {
	u := l.unstable.Load()
	return u, u >= 0
}

// AbortedTxns lists the aborted transactions whose range overlaps [from,
// to), ordered by their marker offset: what a read_committed fetch returns
// for the batches it serves from..to-1 (Kafka's
// collectAbortedTransactions), and what the cleaner removes.
func (l *Log) AbortedTxns(from, to int64) ([]AbortedTxn, error) {
	l.tmu.RLock()
	defer l.tmu.RUnlock()
	i := sort.Search(len(l.aborted), func(i int) bool { return l.aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for _, a := range l.aborted[i:] {
		if a.FirstOffset < to {
			out = append(out, a.AbortedTxn)
		}
		// Every transaction aborted after this one was still open or not
		// yet begun when it completed, so it starts at or after its LSO.
		if a.lso >= to {
			break
		}
	}
	return out, nil
}

// abortedEntry is one entry of the aborted-transaction index.
type abortedEntry struct {
	AbortedTxn
	lso int64 // the last stable offset right after the abort completed
}

// openTxn starts producer id's transaction at offset (amu held).
func (l *Log) openTxn(id int64, e *producerEntry, offset int64) {
	e.txnFirst = offset
	if l.ongoing == nil {
		l.ongoing = map[int64]int64{}
	}
	l.ongoing[id] = offset
	if u := l.unstable.Load(); u < 0 || offset < u {
		l.unstable.Store(offset)
	}
}

// closeTxn forgets producer id's open transaction (amu held) and returns
// the new first unstable offset, -1 when none is open.
func (l *Log) closeTxn(id int64, e *producerEntry) int64 {
	if e != nil {
		e.txnFirst = -1
	}
	delete(l.ongoing, id)
	u := int64(-1)
	for _, off := range l.ongoing {
		if u < 0 || off < u {
			u = off
		}
	}
	l.unstable.Store(u)
	return u
}

// completeTxn closes the producer's transaction with a marker at offset;
// for an abort it adds the index entry (in memory) and returns it.
// Replayed markers already in the index are not added twice.
func (l *Log) completeTxn(id int64, e *producerEntry, offset int64, abort bool) *abortedEntry {
	first := offset
	if e.txnFirst >= 0 {
		first = e.txnFirst
	}
	if !abort {
		l.closeTxn(id, e)
		return nil
	}
	e.txnFirst = -1
	delete(l.ongoing, id)
	lso := offset + 1
	for _, off := range l.ongoing {
		lso = min(lso, off)
	}
	ent := abortedEntry{AbortedTxn: AbortedTxn{ProducerID: id, FirstOffset: first, LastOffset: offset}, lso: lso}
	// The entry is visible before the LSO moves past the aborted data, so a
	// read_committed fetch never sees the data without its abort.
	l.tmu.Lock()
	i := sort.Search(len(l.aborted), func(i int) bool { return l.aborted[i].LastOffset >= offset })
	dup := i < len(l.aborted) && l.aborted[i].LastOffset == offset
	if !dup {
		l.aborted = append(l.aborted, abortedEntry{})
		copy(l.aborted[i+1:], l.aborted[i:])
		l.aborted[i] = ent
	}
	l.tmu.Unlock()
	l.closeTxn(id, e)
	if dup {
		return nil
	}
	return &ent
}

// resetTxns clears the open transactions before the producer state is
// rebuilt (amu held).
func (l *Log) resetTxns() {
	l.ongoing = nil
	l.unstable.Store(-1)
}

// rebuildOngoing derives the open transactions from loaded producer state.
func (l *Log) rebuildOngoing() {
	l.resetTxns()
	for id, e := range l.producers {
		if e.txnFirst >= 0 {
			l.openTxn(id, e, e.txnFirst)
		}
	}
}

func encodeAborted(b []byte, a *abortedEntry) []byte {
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(a.ProducerID))
	b = binary.BigEndian.AppendUint64(b, uint64(a.FirstOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(a.LastOffset))
	return binary.BigEndian.AppendUint64(b, uint64(a.lso))
}

// txnIndexFile is the aborted-transaction index as read from disk.
type txnIndexFile struct {
	entries []abortedEntry // every whole entry, in file order
	torn    bool           // a partial final entry
}

// readTxnIndex reads the aborted-transaction index file; a missing file is
// an empty index.
func (l *Log) readTxnIndex() (txnIndexFile, error) {
	b, err := os.ReadFile(filepath.Join(l.dir, txnIndexName))
	if errors.Is(err, os.ErrNotExist) {
		return txnIndexFile{}, nil
	}
	if err != nil {
		return txnIndexFile{}, fmt.Errorf("log: reading the transaction index: %w", err)
	}
	f := txnIndexFile{torn: len(b)%txnIndexEntrySize != 0}
	for p := b; len(p) >= txnIndexEntrySize; p = p[txnIndexEntrySize:] {
		f.entries = append(f.entries, abortedEntry{
			AbortedTxn: AbortedTxn{
				ProducerID:  int64(binary.BigEndian.Uint64(p[2:])),
				FirstOffset: int64(binary.BigEndian.Uint64(p[10:])),
				LastOffset:  int64(binary.BigEndian.Uint64(p[18:])),
			},
			lso: int64(binary.BigEndian.Uint64(p[26:])),
		})
	}
	return f, nil
}

// keepTxnIndex installs the entries whose marker lies in [start, upTo) as
// the in-memory index: those below the log start are gone, and those from
// upTo on are re-derived by the replay of the log from upTo, so an index
// that lags the log (appended but not synced before a power failure) or
// holds entries past a truncation is corrected rather than trusted.
// Entries out of order are dropped.
func (l *Log) keepTxnIndex(entries []abortedEntry, start, upTo int64) {
	var out []abortedEntry
	for _, a := range entries {
		if a.LastOffset < start || a.LastOffset >= upTo || (len(out) > 0 && a.LastOffset <= out[len(out)-1].LastOffset) {
			continue
		}
		out = append(out, a)
	}
	l.tmu.Lock()
	l.aborted = out
	l.tmu.Unlock()
}

// txnIndexDiffers reports whether the in-memory index, once rebuilt,
// differs from the file it was loaded from, so the file must be
// rewritten.
func (l *Log) txnIndexDiffers(f txnIndexFile) bool {
	l.tmu.RLock()
	defer l.tmu.RUnlock()
	return f.torn || !slices.Equal(f.entries, l.aborted)
}

// writeTxnIndex rewrites the whole index from memory (temporary file and
// rename), after a load that dropped or added entries or after the log
// start moved.
func (l *Log) writeTxnIndex() error {
	l.tmu.RLock()
	b := make([]byte, 0, len(l.aborted)*txnIndexEntrySize)
	for i := range l.aborted {
		b = encodeAborted(b, &l.aborted[i])
	}
	l.tmu.RUnlock()
	if err := writeFileAtomic(filepath.Join(l.dir, txnIndexName), b); err != nil {
		return fmt.Errorf("log: writing the transaction index: %w", err)
	}
	return nil
}

// appendTxnIndex adds one entry at the end of the index file. Like the
// segments it is not fsynced here but marked dirty: the group-commit fsync
// and Flush sync it with the log it describes when the flush settings ask
// for fsync ([Log.syncTxnIndex]); otherwise it survives a kill -9 in the
// page cache, and an unclean Open re-derives the entries past the recovery
// point from the log's markers.
func (l *Log) appendTxnIndex(a *abortedEntry) error {
	l.txnDirty.Store(true)
	f, err := os.OpenFile(filepath.Join(l.dir, txnIndexName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		l.txnRewrite.Store(true)
		return fmt.Errorf("log: opening the transaction index: %w", err)
	}
	_, err = f.Write(encodeAborted(nil, a))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		l.txnRewrite.Store(true)
		return fmt.Errorf("log: appending to the transaction index: %w", err)
	}
	return nil
}

// syncTxnIndex fsyncs the aborted-transaction index if an append left it
// dirty. Callers read the append count they cover before calling it: an
// append marks the index dirty before it is published, so every append
// counted is either synced here or by the fsync that cleared the flag. A
// failed fsync leaves the flag set for the next one.
//
// Calls are serialised, so a caller that finds nothing left to sync knows
// an fsync already in flight has finished. While an append to the index
// has failed and the file is not yet rewritten ([Log.repairTxnIndexLocked])
// it fails, so the recovery point stays below the missing entry and the
// next unclean open re-derives it from the marker.
func (l *Log) syncTxnIndex() error {
	l.txnSyncMu.Lock()
	defer l.txnSyncMu.Unlock()
	if l.txnRewrite.Load() {
		return errTxnIndexBehind
	}
	if !l.txnDirty.Swap(false) {
		return nil
	}
	l.txnSyncs.Add(1)
	// A missing file was never created (no abort yet): nothing to sync.
	if err := syncIfExists(filepath.Join(l.dir, txnIndexName)); err != nil {
		l.txnDirty.Store(true)
		return fmt.Errorf("log: fsync the transaction index: %w", err)
	}
	return nil
}

// errTxnIndexBehind is syncTxnIndex's answer while an entry that failed to
// append is missing from the index file.
var errTxnIndexBehind = errors.New("log: an aborted-transaction index append failed; the file is rewritten on the next flush")

// repairTxnIndexLocked rewrites the index file from memory after an append
// to it failed (writeTxnIndex replaces it atomically and fsyncs it). The
// caller holds amu, so no append races the rewrite.
func (l *Log) repairTxnIndexLocked() error {
	if !l.txnRewrite.Load() {
		return nil
	}
	if err := l.writeTxnIndex(); err != nil {
		return err
	}
	l.txnRewrite.Store(false)
	return nil
}

// trimTxnIndex drops index entries whose marker lies below the log start
// offset (retention, DeleteRecords) and rewrites the file when any went.
func (l *Log) trimTxnIndex(start int64) error {
	l.tmu.Lock()
	i := sort.Search(len(l.aborted), func(i int) bool { return l.aborted[i].LastOffset >= start })
	if i > 0 {
		l.aborted = append(l.aborted[:0:0], l.aborted[i:]...)
	}
	l.tmu.Unlock()
	if i == 0 {
		return nil
	}
	return l.writeTxnIndex()
}

var _ Txns = (*Log)(nil)
