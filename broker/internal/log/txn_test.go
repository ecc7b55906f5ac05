package log

import (
	"errors"
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
