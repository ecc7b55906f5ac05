package log

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

const baseTs = 1_700_000_000_000

// mkBatch builds a produced batch of n records with values of size bytes,
// timestamps ts, ts+1, ...
func mkBatch(t testing.TB, n, size, codec int, ts int64) []byte {
	t.Helper()
	rs := make([]batch.Record, n)
	for i := range rs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		rs[i] = batch.Record{Offset: int64(i), Timestamp: ts + int64(i), Key: fmt.Appendf(nil, "k%d", i), Value: v}
	}
	b, err := batch.AppendBatch(nil, batch.Header{Attributes: int16(codec), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testConfig() Config {
	c := DefaultConfig()
	c.RetentionMs = -1
	return c
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{now: time.UnixMilli(baseTs + 1000)} }

func mustOpen(t testing.TB, dir string, cfg Config, opts ...Option) *Log {
	t.Helper()
	l, err := Open(dir, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte) AppendResult {
	t.Helper()
	r, err := l.Append(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readAll reads every batch from offset to the end and returns them.
func readAll(t testing.TB, l *Log, from int64) [][]byte {
	t.Helper()
	var out [][]byte
	for off := from; off < l.EndOffset(); {
		b, err := l.Read(off, 1<<20, math.MaxInt64, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatalf("empty read at %d, end %d", off, l.EndOffset())
		}
		for one, err := range batch.Split(b) {
			if err != nil {
				t.Fatal(err)
			}
			h, _, err := batch.Verify(one)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, one)
			off = h.LastOffset() + 1
		}
	}
	return out
}

func isCode(err error, code *kerr.Error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && ke == code
}

func TestRoundTripEveryCodec(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig(), WithClock(newClock().Now))
	var want [][]byte
	for codec := range 5 {
		b := mkBatch(t, 10, 100, codec, baseTs)
		r, err := l.Append(b, 3)
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		if r.BaseOffset != int64(codec*10) || r.LastOffset != r.BaseOffset+9 || r.Records != 10 || r.LogAppendTime != -1 {
			t.Fatalf("codec %d: %+v", codec, r)
		}
		want = append(want, b) // patched in place by Append
	}
	got := readAll(t, l, 0)
	if len(got) != 5 {
		t.Fatalf("read %d batches", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
		h, _ := batch.ParseHeader(got[i])
		if h.BaseOffset != int64(i*10) || h.PartitionLeaderEpoch != 3 {
			t.Fatalf("batch %d header %+v", i, h)
		}
		n := 0
		for r, err := range batch.Records(got[i]) {
			if err != nil || r.Offset != int64(i*10+n) || len(r.Value) != 100 {
				t.Fatalf("batch %d record %d: %+v %v", i, n, r, err)
			}
			n++
		}
	}
}

func TestReadSemantics(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig(), WithClock(newClock().Now))
	var sizes []int
	for range 5 {
		b := mkBatch(t, 10, 50, 0, baseTs)
		sizes = append(sizes, len(b))
		mustAppend(t, l, b)
	}
	// Middle of a batch returns that whole batch.
	b, err := l.Read(15, 1<<20, math.MaxInt64, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := batch.ParseHeader(b); h.BaseOffset != 10 || len(b) != sizes[1]+sizes[2]+sizes[3]+sizes[4] {
		t.Fatalf("read from 15: base %d, %d bytes", h.BaseOffset, len(b))
	}
	// maxOffset: the high watermark 30 excludes batches reaching 30.
	b, _ = l.Read(0, 1<<20, 30, false, nil)
	if len(b) != sizes[0]+sizes[1]+sizes[2] {
		t.Fatalf("maxOffset 30: %d bytes", len(b))
	}
	b, _ = l.Read(0, 1<<20, 29, false, nil)
	if len(b) != sizes[0]+sizes[1] {
		t.Fatalf("maxOffset 29 (mid batch): %d bytes", len(b))
	}
	// maxBytes cuts at whole batches.
	b, _ = l.Read(0, sizes[0]+sizes[1]+10, math.MaxInt64, false, nil)
	if len(b) != sizes[0]+sizes[1] {
		t.Fatalf("maxBytes: %d bytes", len(b))
	}
	// Too small for one batch: nothing, or exactly one with minOneBatch.
	if b, _ = l.Read(0, 10, math.MaxInt64, false, nil); len(b) != 0 {
		t.Fatalf("maxBytes 10 without minOneBatch: %d bytes", len(b))
	}
	dst := make([]byte, 0, 1<<16)
	b, _ = l.Read(0, 10, math.MaxInt64, true, dst)
	if len(b) != sizes[0] || &b[0] != &dst[:1][0] {
		t.Fatalf("minOneBatch: %d bytes (or dst not reused)", len(b))
	}
	// End and out of range.
	if b, err = l.Read(50, 100, math.MaxInt64, true, nil); err != nil || len(b) != 0 {
		t.Fatalf("read at end: %d bytes, %v", len(b), err)
	}
	if _, err = l.Read(51, 100, math.MaxInt64, true, nil); !isCode(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	if _, err = l.Read(-1, 100, math.MaxInt64, true, nil); !isCode(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read before start: %v", err)
	}
}

func TestMinOneBatchLarge(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageBytes = 4 << 20
	l := mustOpen(t, t.TempDir(), cfg, WithClock(newClock().Now))
	big := mkBatch(t, 2, 1<<20, 0, baseTs)
	mustAppend(t, l, mkBatch(t, 1, 10, 0, baseTs))
	mustAppend(t, l, big)
	mustAppend(t, l, mkBatch(t, 1, 10, 0, baseTs))
	b, err := l.Read(1, 1000, math.MaxInt64, true, nil)
	if err != nil || !bytes.Equal(b, big) {
		t.Fatalf("got %d bytes, want the %d-byte batch (%v)", len(b), len(big), err)
	}
}

func TestAppendRejects(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageBytes = 2000
	cfg.TimestampBeforeMaxMs = 60_000
	cfg.TimestampAfterMaxMs = 60_000
	clk := newClock()
	l := mustOpen(t, t.TempDir(), cfg, WithClock(clk.Now))
	now := clk.Now().UnixMilli()
	two := append(mkBatch(t, 1, 10, 0, now), mkBatch(t, 1, 10, 0, now)...)
	bad := mkBatch(t, 1, 10, 0, now)
	bad[len(bad)-1] ^= 0xff
	cases := []struct {
		name string
		b    []byte
		code *kerr.Error
	}{
		{"too large", mkBatch(t, 3, 1000, 0, now), kerr.MessageTooLarge},
		{"two batches", two, kerr.InvalidRecord},
		{"crc", bad, kerr.CorruptMessage},
		{"old timestamp", mkBatch(t, 1, 10, 0, now-120_000), kerr.InvalidTimestamp},
		{"future timestamp", mkBatch(t, 1, 10, 0, now+120_000), kerr.InvalidTimestamp},
	}
	for _, c := range cases {
		if _, err := l.Append(c.b, 0); !isCode(err, c.code) {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
		}
	}
	if l.EndOffset() != 0 {
		t.Fatalf("rejected batches moved the end offset to %d", l.EndOffset())
	}
}

func TestLogAppendTime(t *testing.T) {
	cfg := testConfig()
	cfg.TimestampType = "LogAppendTime"
	clk := newClock()
	l := mustOpen(t, t.TempDir(), cfg, WithClock(clk.Now))
	r := mustAppend(t, l, mkBatch(t, 3, 10, 0, 5))
	if r.LogAppendTime != clk.Now().UnixMilli() {
		t.Fatalf("LogAppendTime %d", r.LogAppendTime)
	}
	got := readAll(t, l, 0)
	h, _ := batch.Validate(append([]byte{}, got[0]...))
	if h.TimestampType() != batch.LogAppendTime || h.MaxTimestamp != r.LogAppendTime {
		t.Fatalf("stored header %+v", h)
	}
	if ts, off := l.MaxTimestamp(); ts != r.LogAppendTime || off != 0 {
		t.Fatalf("MaxTimestamp = %d, %d", ts, off)
	}
}

func TestRollBySizeAndTime(t *testing.T) {
	cfg := testConfig()
	one := len(mkBatch(t, 5, 100, 0, baseTs))
	cfg.SegmentBytes = int64(3 * one)
	cfg.SegmentMs = 60_000
	clk := newClock()
	dir := t.TempDir()
	l := mustOpen(t, dir, cfg, WithClock(clk.Now))
	for range 7 {
		mustAppend(t, l, mkBatch(t, 5, 100, 0, baseTs))
	}
	if n := len(l.segs); n != 3 {
		t.Fatalf("%d segments after 7 batches of 3 per segment", n)
	}
	bases, _ := listSegments(dir)
	if fmt.Sprint(bases) != "[0 15 30]" {
		t.Fatalf("segment files %v", bases)
	}
	// Time: a batch appended after segment.ms rolls even though it fits.
	cfg.SegmentBytes = 1 << 30
	l.SetConfig(cfg)
	clk.Add(61 * time.Second)
	mustAppend(t, l, mkBatch(t, 5, 100, 0, clk.Now().UnixMilli()))
	if n := len(l.segs); n != 4 {
		t.Fatalf("%d segments after segment.ms", n)
	}
	// EnforceRetention rolls an idle active segment too.
	clk.Add(61 * time.Second)
	if _, err := l.EnforceRetention(clk.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(l.segs); n != 5 {
		t.Fatalf("%d segments after idle roll", n)
	}
	if got := len(readAll(t, l, 0)); got != 8 {
		t.Fatalf("read %d batches, want 8", got)
	}
}

func TestRetentionByTimeAndSize(t *testing.T) {
	cfg := testConfig()
	one := len(mkBatch(t, 5, 100, 0, baseTs))
	cfg.SegmentBytes = int64(2 * one)
	clk := newClock()
	l := mustOpen(t, t.TempDir(), cfg, WithClock(clk.Now))
	for i := range 8 { // 4 segments; timestamps 1 minute apart per segment
		mustAppend(t, l, mkBatch(t, 5, 100, 0, baseTs+int64(i/2)*60_000))
	}
	if len(l.segs) != 4 {
		t.Fatalf("%d segments", len(l.segs))
	}
	// Time: at baseTs+3.5min with 2min retention, segments with max ts
	// baseTs+0 and +1min go (older than 2 minutes); +2min stays.
	cfg.RetentionMs = 120_000
	l.SetConfig(cfg)
	n, err := l.EnforceRetention(time.UnixMilli(baseTs + 210_000))
	if err != nil || n != 2 {
		t.Fatalf("time retention deleted %d (%v)", n, err)
	}
	if l.StartOffset() != 20 {
		t.Fatalf("start offset %d after time retention", l.StartOffset())
	}
	if _, err := l.Read(5, 100, math.MaxInt64, true, nil); !isCode(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	// Size: keep at most 1 segment's worth; the active one is never deleted.
	cfg.RetentionMs = -1
	cfg.RetentionBytes = int64(one)
	l.SetConfig(cfg)
	n, err = l.EnforceRetention(clk.Now())
	if err != nil || n != 1 || len(l.segs) != 1 || l.StartOffset() != 30 {
		t.Fatalf("size retention deleted %d, %d segments left, start %d (%v)", n, len(l.segs), l.StartOffset(), err)
	}
	if got := len(readAll(t, l, 30)); got != 2 {
		t.Fatalf("%d batches readable", got)
	}
}

func TestDeleteRecordsAndRestart(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = int64(2 * len(mkBatch(t, 5, 100, 0, baseTs)))
	dir := t.TempDir()
	clk := newClock()
	l := mustOpen(t, dir, cfg, WithClock(clk.Now))
	for range 6 {
		mustAppend(t, l, mkBatch(t, 5, 100, 0, baseTs))
	}
	start, err := l.DeleteRecordsBefore(12)
	if err != nil || start != 12 {
		t.Fatalf("DeleteRecordsBefore: %d %v", start, err)
	}
	if len(l.segs) != 2 {
		t.Fatalf("%d segments; the one below 10 should be gone", len(l.segs))
	}
	if _, err := l.DeleteRecordsBefore(31); !isCode(err, kerr.OffsetOutOfRange) {
		t.Fatalf("past end: %v", err)
	}
	b, err := l.Read(12, 1<<20, math.MaxInt64, true, nil)
	if h, _ := batch.ParseHeader(b); err != nil || h.BaseOffset != 10 {
		t.Fatalf("read at start: base %d, %v", h.BaseOffset, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	l2 := mustOpen(t, dir, cfg, WithClock(clk.Now))
	if l2.StartOffset() != 12 || l2.EndOffset() != 30 {
		t.Fatalf("after restart: start %d end %d", l2.StartOffset(), l2.EndOffset())
	}
	if got := len(readAll(t, l2, 12)); got != 4 {
		t.Fatalf("%d batches after restart", got)
	}
}

// TestRecoveryTornTail cuts or corrupts the last batch at every byte and
// checks the log reopens with exactly the batches before it.
func TestRecoveryTornTail(t *testing.T) {
	src := t.TempDir()
	cfg := testConfig()
	clk := newClock()
	l := mustOpen(t, src, cfg, WithClock(clk.Now))
	var want [][]byte
	for i := range 4 {
		b := mkBatch(t, 3, 20, i%5, baseTs+int64(i))
		mustAppend(t, l, b)
		want = append(want, b)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	logFile := segName(src, 0, logSuffix)
	full, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lastStart := len(full) - len(want[3])
	dir := t.TempDir()
	check := func(what string, data []byte) {
		t.Helper()
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
		for _, name := range []string{"00000000000000000000.index", "00000000000000000000.timeindex"} {
			b, _ := os.ReadFile(filepath.Join(src, name))
			os.WriteFile(filepath.Join(dir, name), b, 0o644) // possibly past the cut: must be dropped
		}
		if err := os.WriteFile(segName(dir, 0, logSuffix), data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, cfg, WithClock(clk.Now))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer l.Close()
		if l.EndOffset() != 9 {
			t.Fatalf("%s: end offset %d, want 9", what, l.EndOffset())
		}
		got := readAll(t, l, 0)
		if len(got) != 3 {
			t.Fatalf("%s: %d batches", what, len(got))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: batch %d differs", what, i)
			}
		}
		// The log must accept appends where the good data ended.
		if r, err := l.Append(mkBatch(t, 1, 5, 0, baseTs), 0); err != nil || r.BaseOffset != 9 {
			t.Fatalf("%s: append after recovery: %+v %v", what, r, err)
		}
	}
	for cut := lastStart; cut < len(full); cut++ {
		check(fmt.Sprintf("cut at %d", cut), full[:cut])
	}
	for i := lastStart; i < len(full); i++ {
		if i >= lastStart+8 && i < lastStart+12 {
			continue // the length field: a larger length is a torn tail, covered above
		}
		if i >= lastStart && i < lastStart+8 || i >= lastStart+12 && i < lastStart+17 {
			continue // base offset and leader epoch lie outside the CRC
		}
		data := bytes.Clone(full)
		data[i] ^= 0x40
		check(fmt.Sprintf("corrupt byte %d", i), data)
	}
}

func TestRecoveryGarbageIndex(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 1 // an entry per batch
	clk := newClock()
	l := mustOpen(t, dir, cfg, WithClock(clk.Now))
	for i := range 20 {
		mustAppend(t, l, mkBatch(t, 2, 30, 0, baseTs+int64(i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1}, 50)
	os.WriteFile(segName(dir, 0, indexSuffix), garbage, 0o644)
	os.WriteFile(segName(dir, 0, timeIndexSuffix), garbage[:48], 0o644)
	l2 := mustOpen(t, dir, cfg, WithClock(clk.Now))
	if l2.EndOffset() != 40 {
		t.Fatalf("end %d", l2.EndOffset())
	}
	for off := int64(0); off < 40; off++ {
		b, err := l2.Read(off, 1, math.MaxInt64, true, nil)
		h, _ := batch.ParseHeader(b)
		if err != nil || h.BaseOffset != off&^1 {
			t.Fatalf("read %d: base %d %v", off, h.BaseOffset, err)
		}
	}
	if off, ts, ok, err := l2.OffsetForTimestamp(baseTs + 7); err != nil || !ok || off != 13 || ts != baseTs+7 {
		t.Fatalf("OffsetForTimestamp after index rebuild: %d %d %v %v", off, ts, ok, err)
	}
}

func TestTimestampsAcrossSegments(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 400
	cfg.IndexIntervalBytes = 100
	clk := newClock()
	dir := t.TempDir()
	l := mustOpen(t, dir, cfg, WithClock(clk.Now))
	// Batch i holds records with timestamps baseTs+10i .. +3, except batch
	// 5 which carries the largest timestamp.
	for i := range 10 {
		ts := baseTs + int64(i)*10
		if i == 5 {
			ts = baseTs + 1000
		}
		mustAppend(t, l, mkBatch(t, 4, 50, i%5, ts))
	}
	cases := []struct{ ts, off, got int64 }{
		{0, 0, baseTs},
		{baseTs + 12, 6, baseTs + 12},
		{baseTs + 33, 15, baseTs + 33},
		{baseTs + 45, 20, baseTs + 1000}, // batch 5's records are all later
		{baseTs + 61, 20, baseTs + 1000}, // offset order, not time order
		{baseTs + 1001, 21, baseTs + 1001},
		{baseTs + 93, 20, baseTs + 1000},
		{baseTs + 1002, 22, baseTs + 1002},
	}
	check := func(l *Log) {
		for _, c := range cases {
			off, ts, ok, err := l.OffsetForTimestamp(c.ts)
			if err != nil || !ok || off != c.off || ts != c.got {
				t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d", c.ts-baseTs, off, ts-baseTs, ok, err, c.off, c.got-baseTs)
			}
		}
		if _, _, ok, err := l.OffsetForTimestamp(baseTs + 2000); ok || err != nil {
			t.Fatalf("timestamp after everything: ok=%v err=%v", ok, err)
		}
		if ts, off := l.MaxTimestamp(); ts != baseTs+1003 || off != 23 {
			t.Fatalf("MaxTimestamp = %d, %d", ts-baseTs, off)
		}
	}
	check(l)
	if len(l.segs) < 3 {
		t.Fatalf("%d segments, the test wants several", len(l.segs))
	}
	l.Close()
	check(mustOpen(t, dir, cfg, WithClock(clk.Now)))
}

func TestTruncateAndEpochs(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = int64(2 * len(mkBatch(t, 5, 10, 0, baseTs)))
	clk := newClock()
	l := mustOpen(t, dir, cfg, WithClock(clk.Now))
	for i := range 6 {
		if _, err := l.Append(mkBatch(t, 5, 10, 0, baseTs), int32(i/2)); err != nil { // epochs 0,0,1,1,2,2
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		epoch, wantEpoch int32
		wantEnd          int64
	}{{0, 0, 10}, {1, 1, 20}, {2, 2, 30}, {3, -1, -1}, {-1, -1, -1}} {
		if e, end := l.EndOffsetForEpoch(c.epoch); e != c.wantEpoch || end != c.wantEnd {
			t.Fatalf("EndOffsetForEpoch(%d) = %d, %d", c.epoch, e, end)
		}
	}
	if err := l.Truncate(17); err != nil { // inside batch [15,19]: cut at 15
		t.Fatal(err)
	}
	if l.EndOffset() != 15 || len(l.segs) != 2 {
		t.Fatalf("after truncate: end %d, %d segments", l.EndOffset(), len(l.segs))
	}
	if e, end := l.EndOffsetForEpoch(1); e != 1 || end != 15 {
		t.Fatalf("epoch 1 after truncate: %d, %d", e, end)
	}
	if r := mustAppend(t, l, mkBatch(t, 5, 10, 0, baseTs)); r.BaseOffset != 15 {
		t.Fatalf("append after truncate at %d", r.BaseOffset)
	}
	l.Close()
	l2 := mustOpen(t, dir, cfg, WithClock(clk.Now))
	if l2.EndOffset() != 20 || len(readAll(t, l2, 0)) != 4 {
		t.Fatalf("after reopen: end %d", l2.EndOffset())
	}
	if e, end := l2.EndOffsetForEpoch(0); e != 0 || end != 10 {
		t.Fatalf("epoch checkpoint after reopen: %d, %d", e, end)
	}
	if err := l2.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Delete left %s: %v", dir, err)
	}
}

// TestGroupCommit holds the first fsync until every appender has written,
// so the second fsync must cover all of them.
func TestGroupCommit(t *testing.T) {
	cfg := testConfig()
	cfg.FlushMessages = 1
	l := mustOpen(t, t.TempDir(), cfg, WithClock(newClock().Now))
	const appenders = 8
	release := make(chan struct{})
	var once sync.Once
	l.syncHook = func() { once.Do(func() { <-release }) }
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	for range appenders {
		wg.Go(func() {
			_, err := l.Append(mkBatch(t, 1, 10, 0, baseTs), 0)
			errs <- err
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.EndOffset() != appenders {
		if time.Now().After(deadline) {
			t.Fatalf("appenders did not all write: end %d", l.EndOffset())
		}
		waitABit()
	}
	select {
	case err := <-errs:
		t.Fatalf("an append returned before its fsync: %v", err)
	default:
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := l.syncs.Load(); n > 2 {
		t.Fatalf("%d fsyncs for %d concurrent appends; group commit should need 2", n, appenders)
	}
}

// waitABit lets the other goroutines run while a test polls.
func waitABit() { runtime.Gosched() }

// TestConcurrentReadAppendRetention runs readers against appends and
// segment deletion; run it with -race.
func TestConcurrentReadAppendRetention(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 4096
	cfg.RetentionBytes = 16384
	l := mustOpen(t, t.TempDir(), cfg, WithClock(newClock().Now))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			var buf []byte
			for {
				select {
				case <-done:
					return
				default:
				}
				off := l.StartOffset()
				b, err := l.Read(off, 8192, math.MaxInt64, true, buf)
				if err != nil {
					continue // out of range or raced a deletion: fine
				}
				for one, err := range batch.Split(b) {
					if err != nil {
						t.Errorf("partial batch returned: %v", err)
						return
					}
					if _, _, err := batch.Verify(one); err != nil {
						t.Errorf("garbage returned: %v", err)
						return
					}
				}
				buf = b
			}
		})
	}
	for i := range 400 {
		mustAppend(t, l, mkBatch(t, 2, 100, 0, baseTs))
		if i%20 == 0 {
			if _, err := l.EnforceRetention(time.UnixMilli(baseTs)); err != nil {
				t.Error(err)
			}
		}
	}
	close(done)
	wg.Wait()
}
