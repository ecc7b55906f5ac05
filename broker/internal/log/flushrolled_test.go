package log

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// lineBuffer collects a logger's output for assertions; slog handlers may
// write from several goroutines.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

var validatingRe = regexp.MustCompile(`validating segment.* segment=(\d+)`)

// validated returns the bases of the segments the log's recovery scanned.
func (b *lineBuffer) validated() []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int64
	for _, m := range validatingRe.FindAllStringSubmatch(b.buf.String(), -1) {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, v)
	}
	return out
}

func rollConfig() Config {
	c := testConfig()
	c.SegmentBytes = 8 << 10
	return c
}

// appendUntil appends batches until the log has n segments.
func appendUntil(t testing.TB, l *Log, n int) {
	t.Helper()
	b := mkBatch(t, 10, 100, 0, baseTs)
	for segCount(l) < n {
		mustAppend(t, l, bytes.Clone(b))
	}
}

func segCount(l *Log) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}

func activeBase(l *Log) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.segs[len(l.segs)-1].base
}

func recoveryFile(t testing.TB, dir string) int64 {
	t.Helper()
	v, ok := readInt64File(filepath.Join(dir, recoveryPointName))
	if !ok {
		return -1
	}
	return v
}

// reopenCrashed opens a copy of dir as a kill -9 would have left it and
// returns the bases of the segments recovery validated.
func reopenCrashed(t *testing.T, dir string, cfg Config) (*Log, []int64) {
	t.Helper()
	var lb lineBuffer
	l := mustOpen(t, copyDir(t, dir), cfg, WithLogger(slog.New(slog.NewTextHandler(&lb, nil))))
	return l, lb.validated()
}

func TestFlushRolledMovesRecoveryPointToActiveSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := rollConfig()
	l := mustOpen(t, dir, cfg)
	appendUntil(t, l, 20)
	act, end := activeBase(l), l.EndOffset()

	// Without it, a crash re-validates every segment.
	crashed, scanned := reopenCrashed(t, dir, cfg)
	if len(scanned) != 20 {
		t.Fatalf("before FlushRolled an unclean open validated %d segments, want all 20", len(scanned))
	}
	abandon(crashed)

	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
	if got := recoveryFile(t, dir); got != act {
		t.Fatalf("recovery point file %d, want the active segment's base %d", got, act)
	}
	crashed, scanned = reopenCrashed(t, dir, cfg)
	if len(scanned) != 1 || scanned[0] != act {
		t.Fatalf("after FlushRolled an unclean open validated %v, want only [%d]", scanned, act)
	}
	if crashed.EndOffset() != end || segCount(crashed) != 20 {
		t.Fatalf("recovered end %d with %d segments, want %d with 20", crashed.EndOffset(), segCount(crashed), end)
	}
	if buf, err := crashed.Read(0, 1<<20, end, true, nil); err != nil || len(buf) == 0 {
		t.Fatalf("reading the recovered log: %d bytes, %v", len(buf), err)
	}

	// Nothing rolled since: a no-op that does not even reach the fsyncs.
	l.rolledHook = func() { t.Error("FlushRolled synced although nothing rolled") }
	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
}

func TestFlushRolledAfterCleanOpen(t *testing.T) {
	// A clean open forgets the recovery point; the rolled segments are
	// flushed again by the first FlushRolled, without any roll.
	dir := t.TempDir()
	cfg := rollConfig()
	l := mustOpen(t, dir, cfg)
	appendUntil(t, l, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, cfg)
	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
	if got, want := recoveryFile(t, dir), activeBase(l); got != want {
		t.Fatalf("recovery point %d after a clean open and FlushRolled, want %d", got, want)
	}
}

func TestFlushRolledDoesNotBlockAppends(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, rollConfig())
	appendUntil(t, l, 4)
	target := activeBase(l)
	b := mkBatch(t, 10, 100, 0, baseTs)
	// Appends run, and roll, while FlushRolled is between reading the
	// segment list and its fsyncs; with the append lock held they would
	// never finish.
	l.rolledHook = func() {
		done := make(chan error, 1)
		go func() {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				_, err = l.Append(bytes.Clone(b), 0)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("appends blocked while FlushRolled synced")
			<-done
		}
	}
	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
	l.rolledHook = nil
	if got := recoveryFile(t, dir); got != target {
		t.Fatalf("recovery point %d, want %d: not past what was synced", got, target)
	}
	if activeBase(l) <= target {
		t.Fatal("the appends during FlushRolled did not roll")
	}
	// They rolled: the next call flushes those too.
	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
	if got, want := recoveryFile(t, dir), activeBase(l); got != want {
		t.Fatalf("recovery point %d, want %d", got, want)
	}
}

func TestFlushRolledConcurrentWithAppends(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, rollConfig())
	b := mkBatch(t, 10, 100, 0, baseTs)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	wg.Go(func() {
		last := int64(0)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.FlushRolled(); err != nil {
				errs <- err
				return
			}
			l.amu.Lock()
			rp := l.recovery
			l.amu.Unlock()
			if rp < last {
				errs <- fmt.Errorf("recovery point went back from %d to %d", last, rp)
				return
			}
			last = rp
		}
	})
	for range 300 {
		if _, err := l.Append(bytes.Clone(b), 0); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
	if got, want := recoveryFile(t, dir), activeBase(l); got != want {
		t.Fatalf("recovery point %d, want %d", got, want)
	}
}

func TestFlushRolledSegmentDeletedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	cfg := rollConfig()
	cfg.RetentionBytes = 1 // delete every rolled segment
	l := mustOpen(t, dir, cfg)
	appendUntil(t, l, 6)
	target := activeBase(l)
	l.rolledHook = func() {
		n, err := l.EnforceRetention(time.Now())
		if err != nil || n != 5 {
			t.Errorf("retention deleted %d segments, %v; want 5", n, err)
		}
	}
	if err := l.FlushRolled(); err != nil {
		t.Fatalf("FlushRolled with its segments deleted underneath: %v", err)
	}
	if got := recoveryFile(t, dir); got != target {
		t.Fatalf("recovery point %d, want %d", got, target)
	}
}

func TestFlushRolledNeverMovesBack(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, rollConfig())
	appendUntil(t, l, 4)
	mustAppend(t, l, mkBatch(t, 3, 10, 0, baseTs)) // the active segment is not empty
	// A Flush between FlushRolled's list and its write has already moved
	// the recovery point past the active segment's base.
	l.rolledHook = func() {
		if err := l.Flush(); err != nil {
			t.Error(err)
		}
	}
	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
	if got, want := recoveryFile(t, dir), l.EndOffset(); got != want {
		t.Fatalf("recovery point %d after Flush and FlushRolled, want the end %d", got, want)
	}
}

func TestFlushRolledRacingTruncate(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, rollConfig())
	appendUntil(t, l, 4)
	var cut int64
	l.rolledHook = func() {
		l.mu.RLock()
		cut = l.segs[1].base + 1
		l.mu.RUnlock()
		if err := l.Truncate(cut); err != nil {
			t.Error(err)
		}
	}
	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
	l.rolledHook = nil
	if !l.rollPending.Load() {
		t.Fatal("FlushRolled that raced a truncation did not leave the flush pending")
	}
	if got := recoveryFile(t, dir); got > l.EndOffset() {
		t.Fatalf("recovery point %d beyond the end %d after a truncation", got, l.EndOffset())
	}
	// The next call retries and lands on the current active segment.
	appendUntil(t, l, 4)
	if err := l.FlushRolled(); err != nil {
		t.Fatal(err)
	}
	if got, want := recoveryFile(t, dir), activeBase(l); got != want {
		t.Fatalf("recovery point %d, want %d", got, want)
	}
}

func TestFlushRolledClosed(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, rollConfig())
	appendUntil(t, l, 3)
	l.rolledHook = func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}
	if err := l.FlushRolled(); err != nil {
		t.Fatalf("FlushRolled racing Close: %v", err)
	}
	if err := l.FlushRolled(); err != nil {
		t.Fatalf("FlushRolled after Close: %v", err)
	}
}

// BenchmarkUncleanOpen measures an Open after a crash of a log with 20
// rolled 8 MiB segments, with and without FlushRolled before the crash.
func BenchmarkUncleanOpen(b *testing.B) {
	for _, flushed := range []bool{false, true} {
		b.Run("flushRolled="+strconv.FormatBool(flushed), func(b *testing.B) {
			dir := b.TempDir()
			cfg := testConfig()
			cfg.SegmentBytes = 8 << 20
			l := mustOpen(b, dir, cfg)
			bt := mkBatch(b, 16, 1000, 0, baseTs)
			for segCount(l) < 21 {
				mustAppend(b, l, bytes.Clone(bt))
			}
			if flushed {
				if err := l.FlushRolled(); err != nil {
					b.Fatal(err)
				}
			}
			abandon(l)
			b.ResetTimer()
			for b.Loop() {
				l, err := Open(dir, cfg) // stays unclean: abandoned, never closed
				if err != nil {
					b.Fatal(err)
				}
				abandon(l)
			}
		})
	}
}
