package log

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// mkTBatch builds a transactional batch of n records for a producer.
func mkTBatch(t testing.TB, pid int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	rs := make([]batch.Record, n)
	for i := range rs {
		rs[i] = batch.Record{Offset: int64(i), Timestamp: baseTs + int64(i), Key: []byte("k"), Value: []byte("txn")}
	}
	b, err := batch.AppendBatch(nil, batch.Header{Attributes: 0x10, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func txnAppend(t testing.TB, l *Log, pid int64, epoch int16, seq int32, n int) AppendResult {
	t.Helper()
	r, err := l.Append(mkTBatch(t, pid, epoch, seq, n), 0)
	if err != nil {
		t.Fatalf("transactional append of producer %d: %v", pid, err)
	}
	return r
}

func mustMarker(t testing.TB, l *Log, pid int64, epoch int16, commit bool) AppendResult {
	t.Helper()
	r, err := l.AppendMarker(pid, epoch, commit, 0, 0)
	if err != nil {
		t.Fatalf("marker of producer %d: %v", pid, err)
	}
	return r
}

func wantLSO(t testing.TB, l *Log, want int64) {
	t.Helper()
	if got := l.LastStableOffset(); got != want {
		t.Fatalf("LSO %d, want %d (end %d)", got, want, l.EndOffset())
	}
}

func wantAborted(t testing.TB, l *Log, from, to int64, want []AbortedTxn) {
	t.Helper()
	got, err := l.AbortedTxns(from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted in [%d, %d): %+v, want %+v", from, to, got, want)
	}
}

func TestTxnMarkersMoveLSO(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	mustAppend(t, l, mkBatch(t, 2, 10, 0, baseTs)) // 0-1, plain data
	wantLSO(t, l, 2)
	txnAppend(t, l, 1, 0, 0, 3) // 2-4, producer 1 opens at 2
	wantLSO(t, l, 2)
	txnAppend(t, l, 2, 0, 0, 2) // 5-6, producer 2 opens at 5
	txnAppend(t, l, 1, 0, 3, 1) // 7, still producer 1's first txn
	wantLSO(t, l, 2)
	if u, ok := l.FirstUnstableOffset(); !ok || u != 2 {
		t.Fatalf("first unstable %d %v", u, ok)
	}
	if p, _ := l.Producer(1); p.CurrentTxnStartOffset != 2 {
		t.Fatalf("producer 1 txn start %d", p.CurrentTxnStartOffset)
	}

	r := mustMarker(t, l, 1, 0, true) // commit at 8: producer 2 still holds 5
	if r.BaseOffset != 8 || r.LastOffset != 8 {
		t.Fatalf("commit marker at %d-%d", r.BaseOffset, r.LastOffset)
	}
	wantLSO(t, l, 5)
	r = mustMarker(t, l, 2, 0, false) // abort at 9
	wantLSO(t, l, 10)
	if _, ok := l.FirstUnstableOffset(); ok {
		t.Fatal("a transaction is still open")
	}
	wantAborted(t, l, 0, 10, []AbortedTxn{{ProducerID: 2, FirstOffset: 5, LastOffset: 9}})
	wantAborted(t, l, 0, 5, nil)   // the range ends before the txn starts
	wantAborted(t, l, 10, 20, nil) // and starts after its marker
	wantAborted(t, l, 6, 7, []AbortedTxn{{ProducerID: 2, FirstOffset: 5, LastOffset: 9}})

	// The marker batch is Kafka's: control|transactional, key type, value
	// coordinator epoch.
	raw := readAll(t, l, 9)
	h, err := batch.ParseHeader(raw[0])
	if err != nil || !h.IsControl() || !h.IsTransactional() || h.ProducerID != 2 {
		t.Fatalf("marker header %+v %v", h, err)
	}
	if m := parseMarker(raw[0]); m.ctype != markerAbort || m.coordEpoch != 0 {
		t.Fatalf("marker %+v", m)
	}
	if p, _ := l.Producer(2); p.CurrentTxnStartOffset != -1 {
		t.Fatalf("producer 2 txn start %d after abort", p.CurrentTxnStartOffset)
	}
}

func TestTxnMarkerFencing(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	txnAppend(t, l, 1, 3, 0, 1)
	if _, err := l.AppendMarker(1, 2, true, 0, 0); !errors.Is(err, ErrStaleProducerEpoch) || !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("old producer epoch marker: %v", err)
	}
	if _, err := l.AppendMarker(1, 3, true, 5, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendMarker(1, 3, false, 4, 0); !errors.Is(err, ErrCoordinatorFenced) || !errors.Is(err, kerr.TransactionCoordinatorFenced) {
		t.Fatalf("old coordinator epoch marker: %v", err)
	}
	// A client may not write control batches, and a transactional producer
	// writes only transactional batches inside its transaction.
	txnAppend(t, l, 1, 3, 1, 1)
	if _, err := l.Append(mkPBatch(t, 1, 3, 2, 1), 0); !errors.Is(err, ErrInvalidTxnState) || !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("plain batch inside a txn: %v", err)
	}
	b, _ := markerBatch(1, 3, true, 5, baseTs)
	if _, err := l.Append(b, 0); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("client control batch: %v", err)
	}
	// The bumped epoch of KIP-890 markers is accepted and fences the old.
	if _, err := l.AppendMarker(1, 4, false, 5, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(mkTBatch(t, 1, 3, 3, 1), 0); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("fenced producer: %v", err)
	}
}

// buildTxnLog writes, with small segments so snapshots are written on
// roll: a committed txn of producer 1, an aborted txn of producer 2
// interleaved with it, plain data, and an open txn of producer 3.
// Returns the expected LSO and aborted entries.
func buildTxnLog(t *testing.T, l *Log) (int64, []AbortedTxn) {
	t.Helper()
	txnAppend(t, l, 1, 0, 0, 2)                    // 0-1
	txnAppend(t, l, 2, 0, 0, 2)                    // 2-3
	mustMarker(t, l, 1, 0, true)                   // 4
	txnAppend(t, l, 2, 0, 2, 1)                    // 5
	mustMarker(t, l, 2, 0, false)                  // 6
	mustAppend(t, l, mkBatch(t, 2, 10, 0, baseTs)) // 7-8
	open := txnAppend(t, l, 3, 0, 0, 2)            // 9-10
	mustAppend(t, l, mkBatch(t, 1, 10, 0, baseTs)) // 11
	txnAppend(t, l, 1, 0, 2, 1)                    // 12: producer 1's second txn
	mustMarker(t, l, 1, 0, false)                  // 13: aborted
	return open.BaseOffset, []AbortedTxn{{ProducerID: 2, FirstOffset: 2, LastOffset: 6}, {ProducerID: 1, FirstOffset: 12, LastOffset: 13}}
}

func TestTxnStateRebuild(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300
	l := mustOpen(t, dir, cfg)
	lso, aborted := buildTxnLog(t, l)
	wantLSO(t, l, lso)
	wantAborted(t, l, 0, 100, aborted)
	if len(snapshots(t, dir)) == 0 {
		t.Fatal("no snapshot written on roll")
	}

	// kill -9: no Close; the open txn comes back from snapshot + tail.
	crashed := copyDir(t, dir)
	l2 := mustOpen(t, crashed, cfg)
	wantLSO(t, l2, lso)
	wantAborted(t, l2, 0, 100, aborted)
	// Without the index file at all, the tail after the newest snapshot
	// is re-indexed; entries before it are what the file kept.
	noIdx := copyDir(t, dir)
	if err := os.Remove(filepath.Join(noIdx, txnIndexName)); err != nil {
		t.Fatal(err)
	}
	l3 := mustOpen(t, noIdx, cfg)
	wantLSO(t, l3, lso)
	got, _ := l3.AbortedTxns(0, 100)
	if len(got) == 0 || got[len(got)-1] != aborted[len(aborted)-1] {
		t.Fatalf("tail abort not re-indexed: %+v", got)
	}

	// Clean restart; then the marker moves the LSO to the end.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, cfg)
	wantLSO(t, l, lso)
	wantAborted(t, l, 0, 100, aborted)
	mustMarker(t, l, 3, 0, true)
	wantLSO(t, l, l.EndOffset())

	// Torn tail: the commit marker is cut in half, so producer 3's txn is
	// open again after recovery.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	torn := copyDir(t, dir)
	if err := os.Remove(filepath.Join(torn, cleanMarkerName)); err != nil {
		t.Fatal(err)
	}
	bases, _ := listSegments(torn)
	last := segName(torn, bases[len(bases)-1], logSuffix)
	st, _ := os.Stat(last)
	if err := os.Truncate(last, st.Size()-10); err != nil {
		t.Fatal(err)
	}
	l4 := mustOpen(t, torn, cfg)
	wantLSO(t, l4, lso)
	wantAborted(t, l4, 0, 100, aborted)
}

func TestTxnTruncateAndRetention(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300
	l := mustOpen(t, dir, cfg)
	lso, aborted := buildTxnLog(t, l)

	// Truncating below the second abort marker drops its entry and
	// reopens producer 1's second txn (first offset 12).
	if err := l.Truncate(13); err != nil {
		t.Fatal(err)
	}
	wantAborted(t, l, 0, 100, aborted[:1])
	wantLSO(t, l, lso)
	if p, _ := l.Producer(1); p.CurrentTxnStartOffset != 12 {
		t.Fatalf("producer 1 txn start %d after truncation", p.CurrentTxnStartOffset)
	}
	// Below the open txn: it is gone and the LSO is the end.
	if err := l.Truncate(lso); err != nil {
		t.Fatal(err)
	}
	wantLSO(t, l, l.EndOffset())
	if l.EndOffset() != lso {
		t.Fatalf("end %d", l.EndOffset())
	}
	// Index entries below the log start go with DeleteRecords, on disk too.
	if _, err := l.DeleteRecordsBefore(7); err != nil {
		t.Fatal(err)
	}
	wantAborted(t, l, 0, 100, nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, txnIndexName))
	if err != nil || len(b) != 0 {
		t.Fatalf("index file has %d bytes after DeleteRecords, %v", len(b), err)
	}
}

// TestCleanAbortedWithRealIndex: compaction with no Txns given uses the
// log's own index, so aborted data goes and committed data stays, and the
// open transaction bounds the cleanable part.
func TestCleanAbortedWithRealIndex(t *testing.T) {
	clk := newClock()
	cfg := compactCfg()
	cfg.SegmentBytes = 1 << 20
	l := mustOpen(t, t.TempDir(), cfg, WithClock(clk.Now))
	now := clk.Now().UnixMilli()
	txnH := func(pid int64, seq int32) batch.Header {
		return batch.Header{Attributes: 0x10, ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq}
	}
	mustAppend(t, l, kvBatch(t, txnH(1, 0), now, kv{"a", val("aborted")}))
	mustAppend(t, l, kvBatch(t, txnH(2, 0), now, kv{"b", val("committed")}))
	mustMarker(t, l, 1, 0, false)
	mustMarker(t, l, 2, 0, true)
	roll(t, l)
	o := cleanOpts()
	mustClean(t, l, o)
	if got := fold(logRecords(t, l)); !maps_equal(got, map[string]string{"b": "committed"}) {
		t.Fatalf("after cleaning: %v", got)
	}
	open := mustAppend(t, l, kvBatch(t, txnH(3, 0), now, kv{"c", val("open")}))
	roll(t, l)
	if st, _ := l.CleanState(o); st.FirstUncleanable != open.BaseOffset {
		t.Fatalf("first uncleanable %d, want the open txn's %d", st.FirstUncleanable, open.BaseOffset)
	}
}
