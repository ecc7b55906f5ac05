package log

import (
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// benchBatch is 16 records of 1 KiB: a 16 KiB batch, uncompressed.
func benchBatch(b *testing.B) []byte { return mkBatch(b, 16, 1024, 0, baseTs) }

func benchConfig() Config {
	c := testConfig()
	c.SegmentBytes = 64 << 20
	c.RetentionBytes = 256 << 20 // keep the benchmark's disk use bounded
	return c
}

func BenchmarkAppend(b *testing.B) {
	l := mustOpen(b, b.TempDir(), benchConfig())
	buf := benchBatch(b)
	now := time.Now()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		batch.SetBaseOffset(buf, 0) // Append patched it; a producer sends 0
		if _, err := l.Append(buf, 1); err != nil {
			b.Fatal(err)
		}
		if i%4096 == 4095 {
			if _, err := l.EnforceRetention(now); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkRead(b *testing.B) {
	l := mustOpen(b, b.TempDir(), benchConfig())
	buf := benchBatch(b)
	const batches = 2048 // 32 MiB
	for range batches {
		batch.SetBaseOffset(buf, 0)
		if _, err := l.Append(buf, 1); err != nil {
			b.Fatal(err)
		}
	}
	const maxBytes = 1 << 20 // a typical per-partition fetch size
	dst := make([]byte, 0, maxBytes)
	b.SetBytes(maxBytes)
	b.ReportAllocs()
	off := int64(0)
	for b.Loop() {
		out, err := l.Read(off, maxBytes, math.MaxInt64, true, dst)
		if err != nil || len(out) == 0 {
			b.Fatalf("read at %d: %d bytes, %v", off, len(out), err)
		}
		off += int64(len(out)/len(buf)) * 16
		if off >= l.EndOffset() {
			off = 0
		}
	}
}
