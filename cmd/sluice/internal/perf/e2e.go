package perf

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stampSize is the bytes at the start of each e2e value that hold the
// scheduled send time in Unix nanoseconds, big-endian.
const stampSize = 8

// E2EConfig configures [EndToEnd].
type E2EConfig struct {
	Brokers    []string
	Topic      string
	Rate       int           // offered records/s; must be > 0
	Duration   time.Duration // how long to offer load; must be > 0
	RecordSize int           // value bytes (at least 8); 0 means DefaultRecordSize
	// Partitions, when > 0, creates the topic if missing (with
	// ReplicationFactor, 0 or -1 being the broker default).
	Partitions        int32
	ReplicationFactor int16
	Acks              string        // all (default), 1 or 0
	Compression       string        // none (default), gzip, snappy, lz4, zstd
	Linger            time.Duration // producer linger; 0 is none, best for latency
	// DrainTimeout is how long to wait after the last send for records
	// still in flight; 0 means DefaultIdleTimeout.
	DrainTimeout      time.Duration
	ReportingInterval time.Duration // 0 means DefaultReportingInterval
	Progress          func(string)  // nil is quiet
	ClientOpts        []kgo.Opt     // extra kgo options for both clients, applied last
}

// E2EResult is the outcome of [EndToEnd].
type E2EResult struct {
	Sent          int64         `json:"sent"`    // records acknowledged by the cluster
	Records       int64         `json:"records"` // records received by the consumer
	Bytes         int64         `json:"bytes"`   // value bytes received
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"` // received records over Elapsed
	MBPerSec      float64       `json:"mb_per_sec"`
	Latency       Latency       `json:"latency"` // scheduled send → receive
}

// String formats r as one summary line.
func (r E2EResult) String() string {
	return fmt.Sprintf("%d records sent, %d received, %.1f records/sec (%.2f MB/sec), end-to-end latency %s ms avg, %s ms 50th, %s ms 99th, %s ms 99.9th, %s ms max.",
		r.Sent, r.Records, r.RecordsPerSec, r.MBPerSec, ms(r.Latency.Avg), ms(r.Latency.P50), ms(r.Latency.P99), ms(r.Latency.P999), ms(r.Latency.Max))
}

// EndToEnd offers cfg.Rate records/s for cfg.Duration and measures, per
// record, the time from its scheduled send to its arrival at a consumer
// that reads the topic from the offsets it had before the run. Producer
// and consumer share this machine's clock. If fewer records arrive than
// were acknowledged within DrainTimeout, the error wraps [ErrIncomplete].
func EndToEnd(ctx context.Context, cfg E2EConfig) (E2EResult, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return E2EResult{}, fmt.Errorf("%w: Brokers and Topic are required", ErrConfig)
	}
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return E2EResult{}, fmt.Errorf("%w: Rate and Duration must be > 0", ErrConfig)
	}
	if cfg.RecordSize == 0 {
		cfg.RecordSize = DefaultRecordSize
	}
	if cfg.RecordSize < stampSize {
		return E2EResult{}, fmt.Errorf("%w: RecordSize must be at least %d to hold the send time", ErrConfig, stampSize)
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultIdleTimeout
	}
	if cfg.ReportingInterval <= 0 {
		cfg.ReportingInterval = DefaultReportingInterval
	}
	popts, err := producerOpts(cfg.Brokers, cfg.Topic, cfg.Acks, cfg.Compression, DefaultBatchMaxBytes, cfg.Linger)
	if err != nil {
		return E2EResult{}, err
	}
	prod, err := kgo.NewClient(append(popts, cfg.ClientOpts...)...)
	if err != nil {
		return E2EResult{}, fmt.Errorf("perf: creating producer: %w", err)
	}
	defer prod.Close()
	if err := ensureTopic(ctx, prod, cfg.Topic, cfg.Partitions, cfg.ReplicationFactor); err != nil {
		return E2EResult{}, err
	}
	// Start the consumer at today's end offsets, so it sees exactly the
	// records of this run whenever it gets going.
	ends, err := kadm.NewClient(prod).ListEndOffsets(ctx, cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return E2EResult{}, fmt.Errorf("perf: listing end offsets of %q (create it, or set Partitions): %w", cfg.Topic, err)
	}
	at := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { at[o.Partition] = kgo.NewOffset().At(o.Offset) })
	cons, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("sluice-perf-e2e"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: at}),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, cfg.ClientOpts...)...)
	if err != nil {
		return E2EResult{}, fmt.Errorf("perf: creating consumer: %w", err)
	}
	defer cons.Close()

	// The consumer goroutine owns hist and its counters until it returns;
	// the producer tells it the final count through sentCh.
	var (
		hist     Histogram
		received int64
		rbytes   int64
		lastRecv time.Time
		consErr  error
		wg       sync.WaitGroup
		sentCh   = make(chan int64, 1)
	)
	cctx, cancelCons := context.WithCancel(ctx)
	defer cancelCons()
	wg.Add(1)
	go func() {
		defer wg.Done()
		consErr = consumeStamps(cctx, cons, &cfg, sentCh, &hist, &received, &rbytes, &lastRecv)
	}()

	// Producer: each pooled record keeps its own value buffer, reused
	// once the record is acknowledged (the consumer reads its own copies
	// from fetches), so the loop does not allocate per record.
	recs := sync.Pool{New: func() any { return &kgo.Record{Value: payload(cfg.RecordSize)} }}
	var (
		mu       sync.Mutex
		acked    int64
		firstErr error
	)
	promise := func(r *kgo.Record, err error) {
		recs.Put(r)
		mu.Lock()
		if err != nil && firstErr == nil {
			firstErr = err
		} else if err == nil {
			acked++
		}
		mu.Unlock()
	}
	pace := newPacer(cfg.Rate)
	start := pace.start
	startNano := start.UnixNano()
	total := int64(float64(cfg.Rate) * cfg.Duration.Seconds())
	var runErr error
	for i := int64(0); i < total; i++ {
		if err := pace.wait(ctx, i); err != nil {
			runErr = err
			break
		}
		r := recs.Get().(*kgo.Record)
		v := r.Value
		binary.BigEndian.PutUint64(v, uint64(startNano+int64(pace.slot(i).Sub(start))))
		*r = kgo.Record{Value: v}
		prod.Produce(ctx, r, promise)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.DrainTimeout)
	defer cancel()
	if err := prod.Flush(fctx); err != nil && runErr == nil {
		runErr = err
	}
	mu.Lock()
	sent, perr := acked, firstErr
	mu.Unlock()
	sentCh <- sent
	if runErr != nil || perr != nil {
		cancelCons()
	}
	wg.Wait()

	res := E2EResult{Sent: sent, Records: received, Bytes: rbytes, Latency: hist.Summary()}
	if lastRecv.IsZero() {
		lastRecv = time.Now()
	}
	res.Elapsed = lastRecv.Sub(start)
	res.RecordsPerSec, res.MBPerSec = rates(res.Records, res.Bytes, res.Elapsed)
	switch {
	case perr != nil:
		return res, fmt.Errorf("perf: producing to %q: %w", cfg.Topic, perr)
	case runErr != nil:
		return res, fmt.Errorf("perf: e2e on %q: %w", cfg.Topic, runErr)
	case consErr != nil:
		return res, fmt.Errorf("perf: consuming %q: %w", cfg.Topic, consErr)
	}
	return res, nil
}

// consumeStamps reads records until it has as many as the producer reports
// sent on sentCh, recording receive − stamp for each, or until ctx ends or
// DrainTimeout passes without progress after the producer finished.
func consumeStamps(ctx context.Context, cl *kgo.Client, cfg *E2EConfig, sentCh <-chan int64,
	hist *Histogram, received, rbytes *int64, lastRecv *time.Time) error {
	target := int64(-1)
	var (
		win      Histogram
		winStart = time.Now()
		idleFrom time.Time
	)
	for target < 0 || *received < target {
		if target < 0 {
			select {
			case target = <-sentCh:
				idleFrom = time.Now()
				if *received >= target {
					return nil
				}
			default:
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return fmt.Errorf("fetching %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		now := time.Now()
		n := int64(0)
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) < stampSize {
				return
			}
			sentAt := int64(binary.BigEndian.Uint64(r.Value))
			lat := time.Duration(now.UnixNano() - sentAt)
			hist.Record(lat)
			win.Record(lat)
			n++
			*rbytes += int64(len(r.Value))
		})
		if n > 0 {
			*received += n
			*lastRecv = now
			idleFrom = now
		}
		if cfg.Progress != nil && now.Sub(winStart) >= cfg.ReportingInterval {
			l := win.Summary()
			cfg.Progress(fmt.Sprintf("%d records received, %.1f records/sec, latency %s ms 50th, %s ms 99th, %s ms max.",
				*received, float64(win.Count())/now.Sub(winStart).Seconds(), ms(l.P50), ms(l.P99), ms(l.Max)))
			win.Reset()
			winStart = now
		}
		if target >= 0 && now.Sub(idleFrom) > cfg.DrainTimeout {
			return fmt.Errorf("%w: %d of %d records arrived within %s of the last one", ErrIncomplete, *received, target, cfg.DrainTimeout)
		}
	}
	return nil
}
