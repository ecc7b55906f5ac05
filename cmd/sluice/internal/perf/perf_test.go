package perf

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// startBroker starts a single in-process Sluice broker for one test and
// returns its address. It is the one place to switch the tests' broker.
func startBroker(t *testing.T) string {
	t.Helper()
	return brokertest.Start(t).Addr()
}

// startKfake starts franz-go's fake broker, for what the Sluice broker does
// not serve yet (consumer groups).
func startKfake(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestHistogramPercentiles(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100_000)
	for i := range vals {
		// Log-uniform from 1µs to ~10s covers every bucket range.
		vals[i] = time.Duration(float64(time.Microsecond) * pow10(r.Float64()*7))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.95, 0.99, 0.999, 1} {
		idx := int(float64(len(vals))*q+0.999999) - 1
		exact := vals[max(idx, 0)].Truncate(time.Microsecond)
		got := h.Percentile(q)
		if got < exact || float64(got-exact) > float64(exact)/128+float64(time.Microsecond) {
			t.Errorf("p%v = %v, exact %v: off by more than 1/128", q*100, got, exact)
		}
	}
	s := h.Summary()
	if s.Max != vals[len(vals)-1].Truncate(time.Microsecond) || s.Min != vals[0].Truncate(time.Microsecond) {
		t.Errorf("min/max %v/%v, want %v/%v", s.Min, s.Max, vals[0], vals[len(vals)-1])
	}
	for i := range numBuckets {
		if bucketOf(bucketUpper(i)) != i || i > 0 && bucketOf(bucketUpper(i-1)+1) != i {
			t.Fatalf("bucket %d bounds inconsistent", i)
		}
	}
	var m Histogram
	m.Merge(&h)
	if m.Count() != h.Count() || m.Percentile(0.99) != h.Percentile(0.99) {
		t.Errorf("merge changed the distribution")
	}
}

func pow10(x float64) float64 {
	v := 1.0
	for ; x >= 1; x-- {
		v *= 10
	}
	// 10^frac ≈ via exp; good enough for spreading test values.
	return v * (1 + 9*x)
}

func TestProduceConsumeEndToEnd(t *testing.T) {
	addr := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var progress []string
	report := func(s string) { mu.Lock(); progress = append(progress, s); mu.Unlock() }

	const n = 5000
	pres, err := Produce(ctx, ProduceConfig{
		Brokers: []string{addr}, Topic: "bench", NumRecords: n, RecordSize: 100,
		Partitions: 3, Compression: "lz4", ReportingInterval: time.Millisecond, Progress: report,
	})
	if err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if pres.Records != n || pres.Bytes != n*100 || pres.RecordsPerSec <= 0 || pres.MBPerSec <= 0 {
		t.Errorf("produce result %+v", pres)
	}
	if l := pres.Latency; l.Max <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max || l.Avg > l.Max {
		t.Errorf("produce latency not ordered: %+v", l)
	}
	if !strings.Contains(pres.String(), "5000 records sent") {
		t.Errorf("summary %q", pres)
	}
	mu.Lock()
	if len(progress) == 0 {
		t.Errorf("no progress lines with a 1ms interval")
	}
	mu.Unlock()

	// Throttled: 500 records at 2500/s take at least 0.2s.
	tres, err := Produce(ctx, ProduceConfig{Brokers: []string{addr}, Topic: "bench", NumRecords: 500, RecordSize: 10, Throughput: 2500, Acks: "1"})
	if err != nil || tres.Records != 500 || tres.Elapsed < 190*time.Millisecond {
		t.Errorf("throttled produce: %v %+v", err, tres)
	}

	cres, err := Consume(ctx, ConsumeConfig{Brokers: []string{addr}, Topic: "bench", IdleTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if cres.Records != n+500 || cres.Bytes != n*100+500*10 || cres.FetchTime > cres.Elapsed || cres.StartupTime > cres.Elapsed {
		t.Errorf("consume result %+v", cres)
	}
	_, err = Consume(ctx, ConsumeConfig{Brokers: []string{addr}, Topic: "bench", Messages: n + 501, IdleTimeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("consuming more than there is: %v, want ErrIncomplete", err)
	}

	eres, err := EndToEnd(ctx, E2EConfig{
		Brokers: []string{addr}, Topic: "e2e", Rate: 2000, Duration: 500 * time.Millisecond,
		RecordSize: 64, Partitions: 2, ReportingInterval: 50 * time.Millisecond, Progress: report,
	})
	if err != nil {
		t.Fatalf("EndToEnd: %v", err)
	}
	if eres.Sent != 1000 || eres.Records != eres.Sent || eres.Bytes != 64*1000 {
		t.Errorf("e2e result %+v", eres)
	}
	if l := eres.Latency; l.Max <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Max > 30*time.Second {
		t.Errorf("e2e latency implausible: %+v", l)
	}

	if _, err := Produce(ctx, ProduceConfig{Brokers: []string{addr}, Topic: "x"}); !errors.Is(err, ErrConfig) {
		t.Errorf("NumRecords 0: %v", err)
	}
	if _, err := EndToEnd(ctx, E2EConfig{Brokers: []string{addr}, Topic: "x", Rate: 1, Duration: time.Second, RecordSize: 4}); !errors.Is(err, ErrConfig) {
		t.Errorf("RecordSize 4: %v", err)
	}
}

func TestConsumeAsGroup(t *testing.T) {
	addr := startKfake(t) // Sluice has no group coordinator yet
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := Produce(ctx, ProduceConfig{Brokers: []string{addr}, Topic: "g", NumRecords: 2000, RecordSize: 10, Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	res, err := Consume(ctx, ConsumeConfig{Brokers: []string{addr}, Topic: "g", Group: "perf", Messages: 1000, IdleTimeout: 5 * time.Second})
	if err != nil || res.Records != 1000 || res.Bytes != 10000 {
		t.Errorf("group consume: %v %+v", err, res)
	}
}

func TestProduceAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation check")
	}
	addr := startBroker(t)
	ctx := context.Background()
	cfg := ProduceConfig{Brokers: []string{addr}, Topic: "alloc", NumRecords: 20000, RecordSize: 100, Partitions: 1}
	if _, err := Produce(ctx, cfg); err != nil { // warm up: topic, connections
		t.Fatal(err)
	}
	// Whole-process allocations include kgo's batching and kfake's broker
	// work, so only a gross per-record leak (a closure or buffer per record)
	// trips this bound.
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := Produce(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	})
	if per := allocs / float64(cfg.NumRecords); per > 8 {
		t.Errorf("%.1f allocations per record", per)
	}
	t.Logf("%.2f allocations per record, broker included", allocs/float64(cfg.NumRecords))
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h Histogram
	for i := range b.N {
		h.Record(time.Duration(i%1_000_000) * time.Microsecond)
	}
}
