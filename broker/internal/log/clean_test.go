package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// kv is one record to write; a nil val is a tombstone.
type kv struct {
	key string
	val []byte
}

func val(s string) []byte { return []byte(s) }

// kvBatch encodes records as a produced batch (base offset 0).
func kvBatch(t testing.TB, h batch.Header, ts int64, kvs ...kv) []byte {
	t.Helper()
	rs := make([]batch.Record, len(kvs))
	for i, r := range kvs {
		rs[i] = batch.Record{Offset: int64(i), Timestamp: ts + int64(i), Value: r.val}
		if r.key != "" {
			rs[i].Key = []byte(r.key)
		}
	}
	if h.ProducerID == 0 && h.ProducerEpoch == 0 {
		h.ProducerID, h.ProducerEpoch, h.BaseSequence = -1, -1, -1
	}
	b, err := batch.AppendBatch(nil, h, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rec is a decoded record of the log.
type rec struct {
	off     int64
	key     string
	val     []byte
	ts      int64
	control bool
	codec   int
}

// logRecords reads the whole log, checking CRCs and that offsets only grow.
func logRecords(t testing.TB, l *Log) []rec {
	t.Helper()
	var out []rec
	last := int64(-1)
	for _, b := range readAll(t, l, l.StartOffset()) {
		h, _ := batch.ParseHeader(b)
		if h.BaseOffset <= last {
			t.Fatalf("batch at %d after offset %d", h.BaseOffset, last)
		}
		last = h.LastOffset()
		for r, err := range batch.Records(b) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Offset < h.BaseOffset || r.Offset > h.LastOffset() {
				t.Fatalf("record offset %d outside its batch [%d, %d]", r.Offset, h.BaseOffset, h.LastOffset())
			}
			out = append(out, rec{off: r.Offset, key: string(r.Key), val: r.Value, ts: r.Timestamp, control: h.IsControl(), codec: h.Compression()})
		}
	}
	return out
}

// fold is what a consumer that applies every record ends up with.
func fold(rs []rec) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		if r.control {
			continue
		}
		if r.val == nil {
			delete(m, r.key)
		} else {
			m[r.key] = string(r.val)
		}
	}
	return m
}

func compactCfg() Config {
	c := testConfig()
	c.SegmentBytes = 2048
	c.CompactOnly = true
	return c
}

func cleanOpts() CleanOptions {
	return CleanOptions{DeleteRetentionMs: 60_000, MinCleanableDirtyRatio: 0.5, DedupeBufferBytes: 1 << 20}
}

// fillUpdates writes rounds of updates to keys k0..k(keys-1) over many
// segments, tombstoning every fifth key in the last round, cycling codecs.
func fillUpdates(t testing.TB, l *Log, clk *clock, keys, rounds int) {
	t.Helper()
	n := 0
	for r := range rounds {
		for k := 0; k < keys; k += 4 {
			var kvs []kv
			for j := k; j < min(k+4, keys); j++ {
				v := val(fmt.Sprintf("v%d-%d", j, r))
				if r == rounds-1 && j%5 == 0 {
					v = nil
				}
				kvs = append(kvs, kv{fmt.Sprintf("k%d", j), v})
			}
			mustAppend(t, l, kvBatch(t, batch.Header{Attributes: int16(n % 5)}, clk.Now().UnixMilli(), kvs...))
			n++
		}
	}
}

func mustClean(t testing.TB, l *Log, o CleanOptions) CleanResult {
	t.Helper()
	res, err := l.Clean(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkCompacted checks that below the checkpoint every key appears once
// and, unless tombstones are allowed, no tombstone remains.
func checkCompacted(t testing.TB, rs []rec, upTo int64, tombstones bool) {
	t.Helper()
	seen := map[string]int64{}
	for _, r := range rs {
		if r.off >= upTo || r.control {
			continue
		}
		if prev, ok := seen[r.key]; ok {
			t.Fatalf("key %s at %d and %d below the checkpoint %d", r.key, prev, r.off, upTo)
		}
		seen[r.key] = r.off
		if r.val == nil && !tombstones {
			t.Fatalf("tombstone of %s at %d survived its delete horizon", r.key, r.off)
		}
	}
}

func TestCleanKeepsLatestPerKey(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	l := mustOpen(t, dir, compactCfg(), WithClock(clk.Now))
	fillUpdates(t, l, clk, 40, 6)
	roll(t, l) // the tombstones of the last round must be cleanable
	mustAppend(t, l, kvBatch(t, batch.Header{}, clk.Now().UnixMilli(), kv{"zz", val("active")}))
	before := logRecords(t, l)
	want := fold(before)
	l.mu.RLock()
	nseg := len(l.segs)
	act := l.segs[len(l.segs)-1]
	actBase, actSize := act.base, act.size
	l.mu.RUnlock()
	offsetOf := map[string]int64{} // latest offset of each key outside the active segment
	for _, r := range before {
		if r.off < actBase {
			offsetOf[r.key] = r.off
		}
	}
	if nseg < 4 {
		t.Fatalf("only %d segments", nseg)
	}
	actBytes, _ := os.ReadFile(segName(dir, actBase, logSuffix))
	sizeBefore := l.Size()

	st, err := l.CleanState(cleanOpts())
	if err != nil || !st.Due || st.FirstDirty != 0 || st.FirstUncleanable != actBase {
		t.Fatalf("state before: %+v %v", st, err)
	}
	res := mustClean(t, l, cleanOpts())
	if !res.Done || res.NextDirty != actBase || res.RecordsRemoved == 0 || res.SegmentsRewritten == 0 {
		t.Fatalf("result %+v", res)
	}
	after := logRecords(t, l)
	if got := fold(after); !maps_equal(got, want) {
		t.Fatalf("after clean: %v, want %v", got, want)
	}
	checkCompacted(t, after, res.NextDirty, true)
	// The latest record of each key keeps its offset; tombstones are still there.
	tomb := 0
	for _, r := range after {
		if r.off < actBase {
			if r.off != offsetOf[r.key] {
				t.Fatalf("key %s at %d, it was written at %d", r.key, r.off, offsetOf[r.key])
			}
			if r.val == nil {
				tomb++
			}
		}
	}
	if tomb == 0 {
		t.Fatal("tombstones went before delete.retention.ms")
	}
	if l.Size() >= sizeBefore {
		t.Fatalf("size %d, before %d", l.Size(), sizeBefore)
	}
	l.mu.RLock()
	if a := l.segs[len(l.segs)-1]; a != act || a.size != actSize {
		t.Fatal("the active segment changed")
	}
	l.mu.RUnlock()
	if b, _ := os.ReadFile(segName(dir, actBase, logSuffix)); !bytes.Equal(b, actBytes) {
		t.Fatal("the active segment's bytes changed")
	}
	if st, _ := l.CleanState(cleanOpts()); st.Due {
		t.Fatalf("due right after a round: %+v", st)
	}

	// Past the delete horizon the tombstones go, without new dirty data.
	clk.Add(61 * time.Second)
	if st, _ := l.CleanState(cleanOpts()); !st.HorizonPassed || !st.Due {
		t.Fatalf("horizon not noticed: %+v", st)
	}
	res = mustClean(t, l, cleanOpts())
	final := logRecords(t, l)
	checkCompacted(t, final, res.NextDirty, false)
	if got := fold(final); !maps_equal(got, want) {
		t.Fatalf("after horizon: %v, want %v", got, want)
	}
	// Reopen: data, offsets and the checkpoint survive.
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := mustOpen(t, dir, compactCfg(), WithClock(clk.Now))
	if l2.EndOffset() != end {
		t.Fatalf("end %d after reopen, want %d", l2.EndOffset(), end)
	}
	if got := logRecords(t, l2); !slices.EqualFunc(got, final, recEqual) {
		t.Fatal("records differ after reopen")
	}
	if st, _ := l2.CleanState(cleanOpts()); st.FirstDirty != res.NextDirty || st.Due {
		t.Fatalf("checkpoint after reopen: %+v, want first dirty %d", st, res.NextDirty)
	}
	// Appends continue at the same end offset.
	if r := mustAppend(t, l2, kvBatch(t, batch.Header{}, clk.Now().UnixMilli(), kv{"k1", val("x")})); r.BaseOffset != end {
		t.Fatalf("append at %d, want %d", r.BaseOffset, end)
	}
}

func recEqual(a, b rec) bool {
	return a.off == b.off && a.key == b.key && bytes.Equal(a.val, b.val) && (a.val == nil) == (b.val == nil) && a.ts == b.ts
}

func maps_equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestCleanEveryCodec cleans a log of one codec at a time and checks the
// rebuilt batches keep codec, timestamps and offsets.
func TestCleanEveryCodec(t *testing.T) {
	for codec := range 5 {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			clk := newClock()
			l := mustOpen(t, t.TempDir(), compactCfg(), WithClock(clk.Now))
			var all []rec
			for i := range 30 {
				ts := clk.Now().UnixMilli() + int64(i*10)
				kvs := []kv{{"a", val(fmt.Sprint("a", i))}, {"b", val(fmt.Sprint("b", i))}, {fmt.Sprint("u", i), val("unique")}}
				if i == 29 {
					kvs[1].val = nil
				}
				r := mustAppend(t, l, kvBatch(t, batch.Header{Attributes: int16(codec)}, ts, kvs...))
				for j, x := range kvs {
					all = append(all, rec{off: r.BaseOffset + int64(j), key: x.key, val: x.val, ts: ts + int64(j)})
				}
			}
			mustAppend(t, l, kvBatch(t, batch.Header{Attributes: int16(codec)}, clk.Now().UnixMilli(), kv{"z", val("roll")}))
			res := mustClean(t, l, cleanOpts())
			got := logRecords(t, l)
			latest := map[string]int64{}
			for _, r := range all {
				if r.off < res.NextDirty {
					latest[r.key] = r.off
				}
			}
			byOff := map[int64]rec{}
			for _, r := range all {
				byOff[r.off] = r
			}
			for _, r := range got {
				if r.codec != codec {
					t.Fatalf("record %d has codec %d", r.off, r.codec)
				}
				w, ok := byOff[r.off]
				if !ok {
					continue // the last "z" record
				}
				if r.off < res.NextDirty && latest[r.key] != r.off {
					t.Fatalf("stale record %s@%d kept", r.key, r.off)
				}
				if !recEqual(r, w) {
					t.Fatalf("record %d: got %+v, want %+v", r.off, r, w)
				}
			}
			checkCompacted(t, got, res.NextDirty, true)
		})
	}
}

func TestCleanCompactionLag(t *testing.T) {
	clk := newClock()
	l := mustOpen(t, t.TempDir(), compactCfg(), WithClock(clk.Now))
	fillUpdates(t, l, clk, 20, 4) // old segments
	clk.Add(10 * time.Minute)
	fillUpdates(t, l, clk, 20, 4) // recent segments
	recentFrom := int64(-1)
	for _, r := range logRecords(t, l) {
		if r.ts >= clk.Now().UnixMilli() && recentFrom < 0 {
			recentFrom = r.off
		}
	}
	o := cleanOpts()
	o.DeleteRetentionMs = 3600_000
	o.MinCompactionLagMs = 5 * 60_000
	st, _ := l.CleanState(o)
	if st.FirstUncleanable > recentFrom || st.FirstUncleanable == 0 {
		t.Fatalf("first uncleanable %d, recent data from %d", st.FirstUncleanable, recentFrom)
	}
	before := logRecords(t, l)
	res := mustClean(t, l, o)
	after := logRecords(t, l)
	var recentBefore, recentAfter []rec
	for _, r := range before {
		if r.off >= st.FirstUncleanable {
			recentBefore = append(recentBefore, r)
		}
	}
	for _, r := range after {
		if r.off >= st.FirstUncleanable {
			recentAfter = append(recentAfter, r)
		}
	}
	if !slices.EqualFunc(recentBefore, recentAfter, recEqual) || res.NextDirty != st.FirstUncleanable {
		t.Fatalf("records newer than min.compaction.lag.ms were compacted (next dirty %d)", res.NextDirty)
	}
	checkCompacted(t, after, res.NextDirty, true)

	// max.compaction.lag.ms: a log below the dirty ratio is due once its
	// oldest dirty record is older than the lag.
	o.MinCompactionLagMs = 0
	o.MinCleanableDirtyRatio = 0.99
	mustAppend(t, l, kvBatch(t, batch.Header{}, clk.Now().UnixMilli(), kv{"k1", val("late")}))
	clk.Add(time.Minute)
	roll(t, l)
	st, _ = l.CleanState(o)
	if st.Due || st.DirtyBytes == 0 {
		t.Fatalf("due below the ratio: %+v", st)
	}
	o.MaxCompactionLagMs = 30_000
	if st, _ = l.CleanState(o); !st.Due || !st.MaxLagExceeded {
		t.Fatalf("not due past max.compaction.lag.ms: %+v", st)
	}
}

func TestCleanSmallDedupeBufferConverges(t *testing.T) {
	clk := newClock()
	l := mustOpen(t, t.TempDir(), compactCfg(), WithClock(clk.Now))
	fillUpdates(t, l, clk, 100, 5)
	want := fold(logRecords(t, l))
	o := cleanOpts()
	o.DedupeBufferBytes = 24 * 40 // 36 keys: a fraction of the 100
	rounds := 0
	for {
		res := mustClean(t, l, o)
		rounds++
		if res.Done {
			checkCompacted(t, logRecords(t, l), res.NextDirty, true)
			break
		}
		if rounds > 100 {
			t.Fatal("no convergence")
		}
	}
	if rounds < 3 {
		t.Fatalf("converged in %d rounds: the map was not bounded", rounds)
	}
	if got := fold(logRecords(t, l)); !maps_equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	o.DedupeBufferBytes = 24 // one slot: not even a batch
	mustAppend(t, l, kvBatch(t, batch.Header{}, clk.Now().UnixMilli(), kv{"a", val("1")}, kv{"b", val("2")}))
	roll(t, l)
	if _, err := l.Clean(context.Background(), o); !errors.Is(err, ErrDedupeBufferTooSmall) {
		t.Fatalf("err %v, want ErrDedupeBufferTooSmall", err)
	}
}

// roll makes the active segment cleanable by starting a new one.
func roll(t testing.TB, l *Log) {
	t.Helper()
	l.amu.Lock()
	defer l.amu.Unlock()
	if _, err := l.roll(l.now()); err != nil {
		t.Fatal(err)
	}
}

// abandon drops a log as a crash would: files closed, nothing flushed or
// marked clean.
func abandon(l *Log) {
	l.mu.Lock()
	l.closed = true
	segs := l.segs
	l.mu.Unlock()
	for _, s := range segs {
		s.close()
	}
}

func TestCleanCrashInEachStep(t *testing.T) {
	steps := []string{"cleaned", "committed", "removed", "renamed" + indexSuffix, "renamed" + timeIndexSuffix, "renamed" + logSuffix}
	errCrash := errors.New("crash")
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			clk := newClock()
			cfg := compactCfg()
			cfg.SegmentBytes = 1 << 30 // one group: several segments merged into one
			l, err := Open(dir, compactCfg(), WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			fillUpdates(t, l, clk, 30, 5)
			l.SetConfig(cfg)
			before := logRecords(t, l)
			want := fold(before)
			end := l.EndOffset()
			l.cleanHook = func(s string) error {
				if s == step {
					return errCrash
				}
				return nil
			}
			if _, err := l.Clean(context.Background(), cleanOpts()); !errors.Is(err, errCrash) {
				t.Fatalf("clean: %v", err)
			}
			abandon(l)
			l2 := mustOpen(t, dir, cfg, WithClock(clk.Now))
			if l2.EndOffset() != end {
				t.Fatalf("end %d after recovery, want %d", l2.EndOffset(), end)
			}
			got := logRecords(t, l2) // also checks offsets only grow: no duplicates
			if f := fold(got); !maps_equal(f, want) {
				t.Fatalf("after recovery: %v, want %v", f, want)
			}
			committed := step != "cleaned"
			if compacted := len(got) < len(before); compacted != committed {
				t.Fatalf("compacted=%v after a crash at %s", compacted, step)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if n := e.Name(); bytes.HasSuffix([]byte(n), []byte(cleanedSuffix)) || n == swapManifestName {
					t.Fatalf("%s left after recovery", n)
				}
			}
			res := mustClean(t, l2, cleanOpts())
			final := logRecords(t, l2)
			checkCompacted(t, final, res.NextDirty, true)
			if f := fold(final); !maps_equal(f, want) {
				t.Fatalf("after a new round: %v, want %v", f, want)
			}
		})
	}
}

// TestCleanConcurrentReads reads and appends while rounds run; every read
// returns valid batches or a retriable storage error. Run with -race.
func TestCleanConcurrentReads(t *testing.T) {
	clk := newClock()
	l := mustOpen(t, t.TempDir(), compactCfg(), WithClock(clk.Now))
	fillUpdates(t, l, clk, 30, 4)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var reads, retried int
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			var buf []byte
			for ctx.Err() == nil {
				off := l.StartOffset() + rng.Int64N(max(1, l.EndOffset()-l.StartOffset()))
				b, err := l.Read(off, 4096, math.MaxInt64, true, buf)
				mu.Lock()
				reads++
				if err != nil {
					retried++
				}
				mu.Unlock()
				if err != nil {
					continue
				}
				buf = b
				for one, err := range batch.Split(b) {
					if err != nil {
						t.Errorf("read at %d: %v", off, err)
						return
					}
					if _, _, err := batch.Verify(one); err != nil {
						t.Errorf("read at %d: %v", off, err)
						return
					}
				}
			}
		}()
	}
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		for i := range 300 {
			if _, err := l.Append(kvBatch(t, batch.Header{Attributes: int16(i % 5)}, clk.Now().UnixMilli(), kv{fmt.Sprint("k", i%30), val(fmt.Sprint(i))}), 0); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	rounds := 0
	for done := false; !done; rounds++ {
		select {
		case <-appended:
			done = true
		default:
		}
		if _, err := l.Clean(context.Background(), cleanOpts()); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	want := fold(logRecords(t, l))
	mustClean(t, l, cleanOpts())
	if got := fold(logRecords(t, l)); !maps_equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	t.Logf("%d rounds, %d reads, %d retried", rounds, reads, retried)
}

// fakeTxns lists aborted transactions for the cleaner.
type fakeTxns struct {
	aborted  []AbortedTxn
	unstable int64
}

func (f *fakeTxns) FirstUnstableOffset() (int64, bool) { return f.unstable, f.unstable >= 0 }
func (f *fakeTxns) AbortedTxns(from, to int64) ([]AbortedTxn, error) {
	var out []AbortedTxn
	for _, a := range f.aborted {
		if a.LastOffset >= from && a.FirstOffset < to {
			out = append(out, a)
		}
	}
	return out, nil
}

// marker builds a control batch: abort (0) or commit (1).
func marker(t testing.TB, pid int64, epoch int16, typ int16, ts int64) []byte {
	t.Helper()
	key := []byte{0, 0, 0, byte(typ)}
	b, err := batch.AppendBatch(nil, batch.Header{Attributes: 0x30, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1},
		[]batch.Record{{Timestamp: ts, Key: key, Value: []byte{0, 0, 0, 0, 0, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCleanTransactions(t *testing.T) {
	clk := newClock()
	cfg := compactCfg()
	cfg.SegmentBytes = 1 << 20
	l := mustOpen(t, t.TempDir(), cfg, WithClock(clk.Now))
	now := clk.Now().UnixMilli()
	txnH := func(pid int64) batch.Header {
		return batch.Header{Attributes: 0x10, ProducerID: pid, ProducerEpoch: 0, BaseSequence: 0}
	}
	if _, err := l.Append(marker(t, 1, 0, 0, now), 0); err == nil {
		t.Fatal("Append took a control batch")
	}
	trusted := func(b []byte) AppendResult {
		r, err := l.AppendTrusted(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a1 := trusted(kvBatch(t, txnH(1), now, kv{"x", val("aborted")}, kv{"only-aborted", val("1")})) // offsets 0-1
	c1 := trusted(kvBatch(t, txnH(2), now, kv{"y", val("committed")}))                             // 2
	ab := trusted(marker(t, 1, 0, 0, now))                                                         // 3: abort
	cm := trusted(marker(t, 2, 0, 1, now))                                                         // 4: commit
	trusted(kvBatch(t, batch.Header{ProducerID: 1, ProducerEpoch: 1, BaseSequence: 0}, now, kv{"p1", val("later")}))
	trusted(kvBatch(t, batch.Header{ProducerID: 2, ProducerEpoch: 1, BaseSequence: 0}, now, kv{"p2", val("later")}))
	trusted(kvBatch(t, batch.Header{}, now, kv{"y", val("newer")})) // supersedes the committed y
	roll(t, l)
	txns := &fakeTxns{aborted: []AbortedTxn{{ProducerID: 1, FirstOffset: a1.BaseOffset, LastOffset: ab.BaseOffset}}, unstable: -1}
	o := cleanOpts()
	o.Txns = txns
	offsets := func() map[int64]rec {
		m := map[int64]rec{}
		for _, r := range logRecords(t, l) {
			m[r.off] = r
		}
		return m
	}
	mustClean(t, l, o)
	got := offsets()
	if _, ok := got[a1.BaseOffset]; ok {
		t.Fatal("aborted data survived")
	}
	if _, ok := got[a1.BaseOffset+1]; ok {
		t.Fatal("aborted data survived")
	}
	if _, ok := got[c1.BaseOffset]; ok {
		t.Fatal("superseded committed record survived")
	}
	if !got[ab.BaseOffset].control || !got[cm.BaseOffset].control {
		t.Fatal("markers went before their horizon")
	}
	// Second round: the data is gone, the markers got a horizon; after it
	// they go too.
	mustClean(t, l, o)
	if got := offsets(); !got[ab.BaseOffset].control || !got[cm.BaseOffset].control {
		t.Fatal("markers went before their horizon")
	}
	clk.Add(2 * time.Minute)
	if st, _ := l.CleanState(o); !st.HorizonPassed {
		t.Fatalf("marker horizon not noticed: %+v", st)
	}
	mustClean(t, l, o)
	got = offsets()
	if _, ok := got[ab.BaseOffset]; ok {
		t.Fatal("abort marker kept past its horizon")
	}
	if _, ok := got[cm.BaseOffset]; ok {
		t.Fatal("commit marker kept past its horizon")
	}
	if got := fold(logRecords(t, l)); !maps_equal(got, map[string]string{"p1": "later", "p2": "later", "y": "newer"}) {
		t.Fatalf("got %v", got)
	}
	// The first unstable offset bounds the dirty part.
	trusted(kvBatch(t, batch.Header{}, now, kv{"q", val("1")}))
	txns.unstable = trusted(kvBatch(t, txnH(3), now, kv{"q", val("open")})).BaseOffset
	roll(t, l)
	if st, _ := l.CleanState(o); st.FirstUncleanable != txns.unstable {
		t.Fatalf("first uncleanable %d, want the unstable offset %d", st.FirstUncleanable, txns.unstable)
	}
}

// TestCleanKeepsLastBatchOfProducer: a producer's last batch stays as an
// empty batch when all its records are superseded, so its sequence state
// can be rebuilt; keyless records go.
func TestCleanKeepsLastBatchOfProducer(t *testing.T) {
	clk := newClock()
	cfg := compactCfg()
	cfg.SegmentBytes = 1 << 20
	l := mustOpen(t, t.TempDir(), cfg, WithClock(clk.Now))
	now := clk.Now().UnixMilli()
	mustAppend(t, l, kvBatch(t, batch.Header{ProducerID: 7, ProducerEpoch: 3, BaseSequence: 0}, now, kv{"a", val("1")}, kv{"b", val("1")}))
	last := mustAppend(t, l, kvBatch(t, batch.Header{ProducerID: 7, ProducerEpoch: 3, BaseSequence: 2, Attributes: batch.CompressionZstd}, now, kv{"a", val("2")}, kv{"b", val("2")}))
	mustAppend(t, l, kvBatch(t, batch.Header{}, now, kv{"a", val("3")}, kv{"b", val("3")}, kv{"", val("keyless")}))
	mustAppend(t, l, kvBatch(t, batch.Header{}, now, kv{"c", val("1")}))
	roll(t, l)
	mustClean(t, l, cleanOpts())
	var found bool
	for _, b := range readAll(t, l, 0) {
		h, _ := batch.ParseHeader(b)
		if h.ProducerID == 7 {
			if h.BaseOffset != last.BaseOffset || h.NumRecords != 0 || h.LastOffset() != last.LastOffset || h.BaseSequence != 2 || h.ProducerEpoch != 3 {
				t.Fatalf("producer batch kept as %+v", h)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("the producer's last batch went")
	}
	for _, r := range logRecords(t, l) {
		if r.key == "" {
			t.Fatal("keyless record kept in a compacted log")
		}
	}
	if got := fold(logRecords(t, l)); !maps_equal(got, map[string]string{"a": "3", "b": "3", "c": "1"}) {
		t.Fatalf("got %v", got)
	}
}

func TestCompactOnlySkipsRetention(t *testing.T) {
	clk := newClock()
	cfg := compactCfg()
	cfg.RetentionMs = 1000
	l := mustOpen(t, t.TempDir(), cfg, WithClock(clk.Now))
	fillUpdates(t, l, clk, 40, 6)
	clk.Add(time.Hour)
	if n, err := l.EnforceRetention(clk.Now()); err != nil || n != 0 {
		t.Fatalf("compact-only log lost %d segments to retention (%v)", n, err)
	}
	cfg.CompactOnly = false
	l.SetConfig(cfg)
	if n, err := l.EnforceRetention(clk.Now()); err != nil || n == 0 {
		t.Fatalf("compact,delete log kept old segments (%d, %v)", n, err)
	}
}

func TestCleanCheckpointFollowsTruncation(t *testing.T) {
	clk := newClock()
	l := mustOpen(t, t.TempDir(), compactCfg(), WithClock(clk.Now))
	fillUpdates(t, l, clk, 20, 4)
	res := mustClean(t, l, cleanOpts())
	if res.NextDirty < 10 {
		t.Fatalf("next dirty %d", res.NextDirty)
	}
	if err := l.Truncate(5); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.CleanState(cleanOpts()); st.FirstDirty > l.EndOffset() {
		t.Fatalf("checkpoint %d above the end %d after truncation", st.FirstDirty, l.EndOffset())
	}
}
