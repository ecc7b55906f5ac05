package perf

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear over microseconds: values below 2*subBuckets
// are exact, larger ones fall in one of subBuckets buckets per power of
// two, so any reported percentile is at most 1/128 (0.8%) above the true
// value. 4352 counters cover up to 2^40 µs (12 days) in 35 KiB, with no
// allocation per recorded value.
const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits // 128
	maxShift      = 32
	numBuckets    = 2*subBuckets + maxShift*subBuckets
	maxMicros     = 1<<40 - 1
)

// Histogram collects latencies for percentiles. It is not safe for
// concurrent use; the zero value is ready.
type Histogram struct {
	counts   [numBuckets]uint64
	n        uint64
	sum      uint64 // µs
	min, max uint64 // µs
}

func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - (subBucketBits + 1)
	top := v >> shift // in [subBuckets, 2*subBuckets)
	return 2*subBuckets + (shift-1)*subBuckets + int(top-subBuckets)
}

// bucketUpper is the largest value that falls in bucket i.
func bucketUpper(i int) uint64 {
	if i < 2*subBuckets {
		return uint64(i)
	}
	k := i - 2*subBuckets
	shift := k/subBuckets + 1
	top := uint64(k%subBuckets + subBuckets)
	return (top+1)<<shift - 1
}

// Record adds one latency. Negative values (clock steps) count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d / time.Microsecond)
	}
	v = min(v, maxMicros)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Merge adds all values of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Percentile returns the smallest bucket bound below which at least q
// (0..1) of the values lie, capped at the largest value seen.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	target := uint64(math.Ceil(q * float64(h.n)))
	target = max(target, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= target {
			v := min(bucketUpper(i), h.max)
			v = max(v, h.min)
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Summary returns the usual statistics of h.
func (h *Histogram) Summary() Latency {
	if h.n == 0 {
		return Latency{}
	}
	return Latency{
		Avg:  time.Duration(h.sum/h.n) * time.Microsecond,
		Min:  time.Duration(h.min) * time.Microsecond,
		Max:  time.Duration(h.max) * time.Microsecond,
		P50:  h.Percentile(0.50),
		P95:  h.Percentile(0.95),
		P99:  h.Percentile(0.99),
		P999: h.Percentile(0.999),
	}
}

// Latency summarises a latency distribution, with microsecond resolution.
type Latency struct {
	Avg  time.Duration `json:"avg_ns"`
	Min  time.Duration `json:"min_ns"`
	Max  time.Duration `json:"max_ns"`
	P50  time.Duration `json:"p50_ns"`
	P95  time.Duration `json:"p95_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
}

// ms formats d in milliseconds with two decimals, as Kafka's tools do.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

// String formats l like the tail of kafka-producer-perf-test's final line.
func (l Latency) String() string {
	return fmt.Sprintf("%s ms avg latency, %s ms max latency, %s ms 50th, %s ms 95th, %s ms 99th, %s ms 99.9th",
		ms(l.Avg), ms(l.Max), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.P999))
}

// mb is Kafka's perf-tool megabyte.
const mb = 1024 * 1024

// rates returns records/s and MB/s over elapsed.
func rates(records, bytes int64, elapsed time.Duration) (float64, float64) {
	s := elapsed.Seconds()
	if s <= 0 {
		return 0, 0
	}
	return float64(records) / s, float64(bytes) / mb / s
}
