package log

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestTxnIndexSyncedWithFlushMessages checks that with
// flush.messages=1 the abort marker's append does not return before the
// aborted index is fsynced along with the segment, and that Flush syncs an
// index left dirty before it moves the recovery point.
func TestTxnIndexSyncedWithFlushMessages(t *testing.T) {
	cfg := testConfig()
	cfg.FlushMessages = 1
	l := mustOpen(t, t.TempDir(), cfg)
	txnAppend(t, l, 1, 0, 0, 2)
	if n := l.txnSyncs.Load(); n != 0 {
		t.Fatalf("%d index fsyncs before any abort", n)
	}
	mustMarker(t, l, 1, 0, false)
	if n := l.txnSyncs.Load(); n != 1 {
		t.Fatalf("%d index fsyncs after an fsync'd abort, want 1", n)
	}
	if l.txnDirty.Load() {
		t.Fatal("index still dirty after the marker's fsync returned")
	}
	// A commit adds no entry: no index fsync.
	txnAppend(t, l, 2, 0, 0, 1)
	mustMarker(t, l, 2, 0, true)
	if n := l.txnSyncs.Load(); n != 1 {
		t.Fatalf("%d index fsyncs after a commit, want still 1", n)
	}

	// Without per-append fsync, Flush is what syncs the index.
	cfg2 := testConfig()
	cfg2.FlushMs = 60_000
	l2 := mustOpen(t, t.TempDir(), cfg2)
	txnAppend(t, l2, 1, 0, 0, 1)
	mustMarker(t, l2, 1, 0, false)
	if !l2.txnDirty.Load() || l2.txnSyncs.Load() != 0 {
		t.Fatalf("dirty %v, %d fsyncs before Flush", l2.txnDirty.Load(), l2.txnSyncs.Load())
	}
	if err := l2.Flush(); err != nil {
		t.Fatal(err)
	}
	if l2.txnDirty.Load() || l2.txnSyncs.Load() != 1 {
		t.Fatalf("dirty %v, %d fsyncs after Flush, want clean and 1", l2.txnDirty.Load(), l2.txnSyncs.Load())
	}
}

// buildAbortsThenRoll writes two aborted transactions and then enough plain
// data for the log to roll, so a producer snapshot lies past both markers.
func buildAbortsThenRoll(t *testing.T, l *Log) []AbortedTxn {
	t.Helper()
	a := txnAppend(t, l, 1, 0, 0, 2)
	m1 := mustMarker(t, l, 1, 0, false)
	b := txnAppend(t, l, 2, 0, 0, 1)
	m2 := mustMarker(t, l, 2, 0, false)
	for range 6 {
		mustAppend(t, l, mkBatch(t, 1, 10, 0, baseTs))
	}
	return []AbortedTxn{
		{ProducerID: 1, FirstOffset: a.BaseOffset, LastOffset: m1.BaseOffset},
		{ProducerID: 2, FirstOffset: b.BaseOffset, LastOffset: m2.BaseOffset},
	}
}

// TestTxnIndexRebuiltAfterUncleanShutdown loses the index (deleted, or cut
// after its first entry, as a write that never reached the disk) while the
// markers survive and a producer snapshot past them does too: the unclean
// open must still list both aborts for read_committed fetches.
func TestTxnIndexRebuiltAfterUncleanShutdown(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 300
	dir := t.TempDir()
	l := mustOpen(t, dir, cfg)
	want := buildAbortsThenRoll(t, l)
	wantAborted(t, l, 0, l.EndOffset(), want)
	snaps := snapshots(t, dir)
	if len(snaps) == 0 || snaps[len(snaps)-1] <= want[1].LastOffset {
		t.Fatalf("snapshots %v: the test needs one past the last marker %d", snaps, want[1].LastOffset)
	}

	for _, tc := range []struct {
		name string
		hurt func(path string) error
	}{
		{"deleted", os.Remove},
		{"lagging", func(p string) error { return os.Truncate(p, txnIndexEntrySize) }},
		{"torn", func(p string) error { return os.Truncate(p, txnIndexEntrySize+10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crashed := copyDir(t, dir) // no Close: an unclean shutdown
			if err := tc.hurt(filepath.Join(crashed, txnIndexName)); err != nil {
				t.Fatal(err)
			}
			l2 := mustOpen(t, crashed, cfg)
			wantAborted(t, l2, 0, l2.EndOffset(), want)
			wantAborted(t, l2, want[1].FirstOffset, want[1].LastOffset+1, want[1:])
			// The file was rewritten: a clean restart reads both back.
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
			l3 := mustOpen(t, crashed, cfg)
			wantAborted(t, l3, 0, l3.EndOffset(), want)
		})
	}
}

// TestTxnIndexTrustedBelowRecoveryPoint checks the other side: entries the
// last Flush covered are kept as the file has them, and an unclean open
// with an intact index lists the same aborts as before.
func TestTxnIndexTrustedBelowRecoveryPoint(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 300
	cfg.FlushMs = 60_000
	dir := t.TempDir()
	l := mustOpen(t, dir, cfg)
	want := buildAbortsThenRoll(t, l)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	crashed := copyDir(t, dir)
	l2 := mustOpen(t, crashed, cfg)
	wantAborted(t, l2, 0, l2.EndOffset(), want)
	wantLSO(t, l2, l2.EndOffset())
}

// TestTxnIndexAppendFailureHoldsRecoveryPoint makes the append of an abort
// entry to the index file fail (a directory stands where the file goes):
// the marker's append still succeeds, the recovery point does not move past
// the missing entry while the file cannot be rewritten, and once it can,
// Flush rewrites it from memory so a clean reopen lists the abort.
func TestTxnIndexAppendFailureHoldsRecoveryPoint(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testConfig())
	a := txnAppend(t, l, 1, 0, 0, 2)
	blocker := filepath.Join(dir, txnIndexName)
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	m := mustMarker(t, l, 1, 0, false)
	if !l.txnRewrite.Load() {
		t.Fatal("a failed index append left no mark")
	}
	if err := l.syncTxnIndex(); !errors.Is(err, errTxnIndexBehind) {
		t.Fatalf("syncTxnIndex with an entry missing from the file: %v", err)
	}
	if err := l.Flush(); err == nil {
		t.Fatal("Flush succeeded while the index file cannot be rewritten")
	}
	if rp, ok := readInt64File(filepath.Join(dir, recoveryPointName)); ok && rp > a.BaseOffset {
		t.Fatalf("recovery point %d moved past the abort at %d whose index entry is missing", rp, a.BaseOffset)
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatalf("Flush once the index can be written: %v", err)
	}
	if l.txnRewrite.Load() {
		t.Fatal("index still marked for a rewrite after Flush")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, testConfig())
	wantAborted(t, l, 0, l.EndOffset(), []AbortedTxn{{ProducerID: 1, FirstOffset: a.BaseOffset, LastOffset: m.BaseOffset}})
}
