package log

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// mkPBatch builds an idempotent producer's batch of n records.
func mkPBatch(t testing.TB, pid int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	rs := make([]batch.Record, n)
	for i := range rs {
		rs[i] = batch.Record{Offset: int64(i), Timestamp: baseTs + int64(i), Key: []byte("k"), Value: []byte("value")}
	}
	b, err := batch.AppendBatch(nil, batch.Header{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produce appends a producer batch and checks the outcome: the base offset
// it must get and whether it must be answered as a duplicate.
func produce(t *testing.T, l *Log, pid int64, epoch int16, seq int32, n int, wantBase int64, wantDup bool) {
	t.Helper()
	end := l.EndOffset()
	r, err := l.Append(mkPBatch(t, pid, epoch, seq, n), 0)
	if err != nil {
		t.Fatalf("producer %d epoch %d seq %d: %v", pid, epoch, seq, err)
	}
	if r.BaseOffset != wantBase || r.Duplicate != wantDup {
		t.Fatalf("producer %d epoch %d seq %d: base %d duplicate %v, want %d %v", pid, epoch, seq, r.BaseOffset, r.Duplicate, wantBase, wantDup)
	}
	if wantDup && l.EndOffset() != end {
		t.Fatalf("a duplicate moved the end offset from %d to %d", end, l.EndOffset())
	}
}

func produceErr(t *testing.T, l *Log, pid int64, epoch int16, seq int32, code *kerr.Error, sentinel error) {
	t.Helper()
	end := l.EndOffset()
	_, err := l.Append(mkPBatch(t, pid, epoch, seq, 1), 0)
	if !isCode(err, code) || !errors.Is(err, sentinel) {
		t.Fatalf("producer %d epoch %d seq %d: got %v, want %v", pid, epoch, seq, err, code)
	}
	if l.EndOffset() != end {
		t.Fatal("a rejected batch was appended")
	}
}

func TestProducerSequenceRules(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	produce(t, l, 7, 0, 0, 3, 0, false)
	produce(t, l, 7, 0, 3, 2, 3, false)
	produce(t, l, 7, 0, 0, 3, 0, true) // retries of both batches
	produce(t, l, 7, 0, 3, 2, 3, true)
	produceErr(t, l, 7, 0, 10, kerr.OutOfOrderSequenceNumber, ErrOutOfOrderSequence) // gap
	produceErr(t, l, 7, 0, 4, kerr.OutOfOrderSequenceNumber, ErrOutOfOrderSequence)  // overlaps, not a retry
	produceErr(t, l, 7, 1, 5, kerr.OutOfOrderSequenceNumber, ErrOutOfOrderSequence)  // new epoch must start at 0
	produce(t, l, 7, 1, 0, 1, 5, false)                                              // epoch bump
	produceErr(t, l, 7, 0, 5, kerr.InvalidProducerEpoch, ErrStaleProducerEpoch)      // fenced
	produceErr(t, l, 7, 0, 0, kerr.InvalidProducerEpoch, ErrStaleProducerEpoch)      // an old epoch's retry too
	produce(t, l, 8, 0, 42, 1, 6, false)                                             // unknown producer: any sequence
	produce(t, l, 8, 0, 43, 1, 7, false)
	if got := len(readAll(t, l, 0)); got != 5 {
		t.Fatalf("%d batches in the log, want 5", got)
	}
	p, ok := l.Producer(7)
	if !ok || p.Epoch != 1 || p.LastSequence != 0 || p.LastOffset != 5 || p.BatchesInCache != 1 {
		t.Fatalf("producer 7: %+v %v", p, ok)
	}
	if ps := l.Producers(); len(ps) != 2 || ps[0].ProducerID != 7 || ps[1].ProducerID != 8 {
		t.Fatalf("producers: %+v", ps)
	}
	// Batches without a producer id are not tracked.
	mustAppend(t, l, mkBatch(t, 1, 5, 0, baseTs))
	if len(l.Producers()) != 2 {
		t.Fatal("a plain batch created producer state")
	}
}

func TestProducerSequenceWrap(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	produce(t, l, 1, 0, math.MaxInt32-1, 3, 0, false) // sequences MaxInt32-1, MaxInt32, 0
	if p, _ := l.Producer(1); p.LastSequence != 0 {
		t.Fatalf("last sequence %d after the wrap, want 0", p.LastSequence)
	}
	produce(t, l, 1, 0, 1, 1, 3, false)
	produce(t, l, 1, 0, math.MaxInt32-1, 3, 0, true)

	produce(t, l, 2, 0, math.MaxInt32, 1, 4, false)
	produce(t, l, 2, 0, 0, 1, 5, false) // 0 follows MaxInt32
	produceErr(t, l, 2, 0, math.MaxInt32-5, kerr.OutOfOrderSequenceNumber, ErrOutOfOrderSequence)
}

func TestProducerWindowOfFive(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	for seq := range int32(7) {
		produce(t, l, 3, 0, seq, 1, int64(seq), false)
	}
	for seq := int32(2); seq < 7; seq++ { // the last five are recognised
		produce(t, l, 3, 0, seq, 1, int64(seq), true)
	}
	// The sixth newest fell out of the window: Kafka answers out of order.
	produceErr(t, l, 3, 0, 1, kerr.OutOfOrderSequenceNumber, ErrOutOfOrderSequence)
	if p, _ := l.Producer(3); p.BatchesInCache != MaxProducerBatches {
		t.Fatalf("%d batches kept", p.BatchesInCache)
	}
}

// copyDir copies a partition directory as a crash would leave it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func snapshots(t *testing.T, dir string) []int64 {
	t.Helper()
	offs, err := listSnapshots(dir)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

func TestProducerStateCleanRestart(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testConfig())
	for seq := range int32(4) {
		produce(t, l, 5, 2, seq*2, 2, int64(seq)*2, false)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := snapshots(t, dir); len(got) != 1 || got[0] != 8 {
		t.Fatalf("snapshots after Close: %v, want [8]", got)
	}
	l = mustOpen(t, dir, testConfig())
	produce(t, l, 5, 2, 2, 2, 2, true)
	produce(t, l, 5, 2, 6, 2, 6, true)
	produceErr(t, l, 5, 1, 8, kerr.InvalidProducerEpoch, ErrStaleProducerEpoch)
	produce(t, l, 5, 2, 8, 1, 8, false)

	// A bad snapshot is dropped and the state replayed from the log.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snapshotName(dir, 9), []byte("SLPS garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, testConfig())
	produce(t, l, 5, 2, 6, 2, 6, true)
	produce(t, l, 5, 2, 8, 1, 8, true)
}

func TestProducerStateCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300 // a few batches per segment: snapshots on roll
	l := mustOpen(t, dir, cfg)
	for seq := range int32(12) {
		produce(t, l, 9, 0, seq, 1, int64(seq), false)
	}
	if len(snapshots(t, dir)) == 0 {
		t.Fatal("no snapshot written on roll")
	}
	// Crash: no Close, so the state after the last roll is only in the log.
	crashed := copyDir(t, dir)
	l2 := mustOpen(t, crashed, cfg)
	for seq := int32(7); seq < 12; seq++ {
		produce(t, l2, 9, 0, seq, 1, int64(seq), true)
	}
	produce(t, l2, 9, 0, 12, 1, 12, false)

	// Torn tail: the last batch is cut in half, so its retry is new again
	// while the one before is still a duplicate.
	crashed = copyDir(t, dir)
	bases, err := listSegments(crashed)
	if err != nil {
		t.Fatal(err)
	}
	last := segName(crashed, bases[len(bases)-1], logSuffix)
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, st.Size()-10); err != nil {
		t.Fatal(err)
	}
	l3 := mustOpen(t, crashed, cfg)
	if l3.EndOffset() != 11 {
		t.Fatalf("end offset %d after the torn tail, want 11", l3.EndOffset())
	}
	produce(t, l3, 9, 0, 10, 1, 10, true)
	produce(t, l3, 9, 0, 11, 1, 11, false)
}

func TestProducerSnapshotPastEndDropped(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testConfig())
	produce(t, l, 4, 0, 0, 1, 0, false)
	produce(t, l, 4, 0, 1, 1, 1, false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The clean shutdown's snapshot is at 2; cut the last batch off the log
	// (as a disk that lost it would) and remove the clean marker.
	seg := segName(dir, 0, logSuffix)
	st, _ := os.Stat(seg)
	if err := os.Truncate(seg, st.Size()-5); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, cleanMarkerName))
	l = mustOpen(t, dir, testConfig())
	if got := snapshots(t, dir); len(got) != 0 {
		t.Fatalf("snapshots past the end kept: %v", got)
	}
	produce(t, l, 4, 0, 0, 1, 0, true)
	produce(t, l, 4, 0, 1, 1, 1, false)
}

func TestProducerStateTruncate(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testConfig())
	for seq := range int32(3) {
		produce(t, l, 6, 0, seq, 1, int64(seq), false)
	}
	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	produce(t, l, 6, 0, 1, 1, 1, true)
	produce(t, l, 6, 0, 2, 1, 2, false) // the cut batch is appended again
	if err := l.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Producer(6); ok {
		t.Fatal("producer state survived truncation of every batch")
	}
}

func TestProducerStateDeleteRecordsAndRetention(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300
	l := mustOpen(t, dir, cfg)
	for seq := range int32(8) {
		produce(t, l, 1, 0, seq, 1, int64(seq), false)
	}
	produce(t, l, 2, 0, 0, 1, 8, false)
	if _, err := l.DeleteRecordsBefore(8); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Producer(1); ok {
		t.Fatal("producer 1, whose batches are all deleted, is still known")
	}
	if _, ok := l.Producer(2); !ok {
		t.Fatal("producer 2 was dropped")
	}
	for _, off := range snapshots(t, dir) {
		if off < l.segs[0].base {
			t.Fatalf("snapshot %d below the first segment %d kept", off, l.segs[0].base)
		}
	}
	produce(t, l, 1, 0, 100, 1, 9, false) // unknown again: any sequence
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, cfg)
	if p, ok := l.Producer(1); !ok || p.LastSequence != 100 {
		t.Fatalf("after restart: %+v %v", p, ok)
	}
}

func TestProducerExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.ProducerIDExpirationMs = 5000
	clk := newClock()
	l := mustOpen(t, t.TempDir(), cfg, WithClock(clk.Now))
	produce(t, l, 1, 0, 0, 1, 0, false)
	if _, err := l.EnforceRetention(clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Producer(1); !ok {
		t.Fatal("producer expired early")
	}
	clk.Add(5 * time.Second)
	if _, err := l.EnforceRetention(clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Producer(1); ok {
		t.Fatal("producer did not expire")
	}
	produce(t, l, 1, 0, 7, 1, 1, false)
	if n := l.ExpireProducers(clk.Now().UnixMilli()+5000, 5000); n != 1 {
		t.Fatalf("ExpireProducers dropped %d, want 1", n)
	}
}

func TestProducerSnapshotRoundTrip(t *testing.T) {
	in := map[int64]*producerEntry{
		1: {epoch: 3, lastTs: 99, lastOffset: 10, batches: []batchMeta{{1, 2, 5, 6}, {3, 3, 10, 10}}},
		2: {epoch: 0, lastTs: -1, lastOffset: 0},
	}
	b := encodeSnapshot(in)
	out, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[1].epoch != 3 || len(out[1].batches) != 2 || out[1].batches[1] != (batchMeta{3, 3, 10, 10}) || out[2].lastTs != -1 {
		t.Fatalf("round trip: %+v", out)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if _, err := decodeSnapshot(c); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	if _, err := decodeSnapshot(b[:len(b)-1]); !errors.Is(err, ErrBadSnapshot) {
		t.Fatal("truncated snapshot accepted")
	}
}
