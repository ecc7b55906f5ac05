package perf

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumeConfig configures [Consume].
type ConsumeConfig struct {
	Brokers []string
	Topic   string
	// Messages is how many records to read; 0 means every record the topic
	// holds when the run starts (the sum of end - start offsets).
	Messages int64
	// Group, when set, consumes as a member of this consumer group (which
	// adds the join to the startup time); otherwise partitions are read
	// directly. Either way reading starts at the earliest offset (for a
	// group: where it has no commit).
	Group string
	// IdleTimeout ends the run when no record arrives for this long; 0
	// means DefaultIdleTimeout.
	IdleTimeout       time.Duration
	ReportingInterval time.Duration // 0 means DefaultReportingInterval
	Progress          func(string)  // nil is quiet
	ClientOpts        []kgo.Opt     // extra kgo options, applied last
}

// ConsumeResult is the outcome of [Consume], like kafka-consumer-perf-test.
type ConsumeResult struct {
	Records       int64         `json:"records"`
	Bytes         int64         `json:"bytes"` // key + value bytes
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"` // over Elapsed
	MBPerSec      float64       `json:"mb_per_sec"`      // over Elapsed, MiB/s
	// StartupTime is from the start to the first record: metadata, group
	// join (Kafka's rebalance.time.ms) and the first fetch.
	StartupTime time.Duration `json:"startup_time_ns"`
	// FetchTime is from the first record to the last (Kafka's
	// fetch.time.ms), and the rates below are over it.
	FetchTime          time.Duration `json:"fetch_time_ns"`
	FetchRecordsPerSec float64       `json:"fetch_records_per_sec"`
	FetchMBPerSec      float64       `json:"fetch_mb_per_sec"`
}

// String formats r in the spirit of kafka-consumer-perf-test's summary.
func (r ConsumeResult) String() string {
	return fmt.Sprintf("%d records consumed, %.2f MB, %.1f records/sec (%.2f MB/sec), startup %d ms, fetch %d ms, %.1f fetch records/sec (%.2f fetch MB/sec).",
		r.Records, float64(r.Bytes)/mb, r.RecordsPerSec, r.MBPerSec,
		r.StartupTime.Milliseconds(), r.FetchTime.Milliseconds(), r.FetchRecordsPerSec, r.FetchMBPerSec)
}

// Consume reads cfg.Messages records from the start of cfg.Topic and
// measures throughput. If the records stop arriving for IdleTimeout first,
// it returns what it counted and an error wrapping [ErrIncomplete].
func Consume(ctx context.Context, cfg ConsumeConfig) (ConsumeResult, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return ConsumeResult{}, fmt.Errorf("%w: Brokers and Topic are required", ErrConfig)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.ReportingInterval <= 0 {
		cfg.ReportingInterval = DefaultReportingInterval
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("sluice-perf"),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if cfg.Group != "" {
		opts = append(opts, kgo.ConsumerGroup(cfg.Group))
	}
	start := time.Now()
	cl, err := kgo.NewClient(append(opts, cfg.ClientOpts...)...)
	if err != nil {
		return ConsumeResult{}, fmt.Errorf("perf: creating client: %w", err)
	}
	defer cl.Close()

	target := cfg.Messages
	if target <= 0 {
		target, err = topicRecords(ctx, kadm.NewClient(cl), cfg.Topic)
		if err != nil {
			return ConsumeResult{}, err
		}
		if target == 0 {
			return ConsumeResult{}, fmt.Errorf("perf: topic %q is empty: %w", cfg.Topic, ErrIncomplete)
		}
	}

	var (
		res        ConsumeResult
		first      time.Time
		last       time.Time
		winStart   = start
		winRecords int64
		winBytes   int64
		runErr     error
	)
	for res.Records < target {
		pctx, cancel := context.WithTimeout(ctx, cfg.IdleTimeout)
		fs := cl.PollRecords(pctx, int(target-res.Records))
		cancel()
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		if fs.IsClientClosed() {
			runErr = kgo.ErrClientClosed
			break
		}
		idle := false
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) {
				idle = true
				continue
			}
			runErr = fmt.Errorf("fetching %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		if runErr != nil {
			break
		}
		n, b := int64(0), int64(0)
		fs.EachRecord(func(r *kgo.Record) {
			n++
			b += int64(len(r.Key) + len(r.Value))
		})
		if n > 0 {
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			last = now
			res.Records += n
			res.Bytes += b
			winRecords += n
			winBytes += b
			if cfg.Progress != nil && now.Sub(winStart) >= cfg.ReportingInterval {
				rps, mbps := rates(winRecords, winBytes, now.Sub(winStart))
				cfg.Progress(fmt.Sprintf("%d records consumed in total, %.1f records/sec (%.2f MB/sec) in the last %.1f s.",
					res.Records, rps, mbps, now.Sub(winStart).Seconds()))
				winStart, winRecords, winBytes = now, 0, 0
			}
		}
		if idle && n == 0 {
			runErr = fmt.Errorf("%w: no record for %s after %d of %d", ErrIncomplete, cfg.IdleTimeout, res.Records, target)
			break
		}
	}
	if last.IsZero() {
		last = time.Now()
	}
	res.Elapsed = last.Sub(start)
	res.RecordsPerSec, res.MBPerSec = rates(res.Records, res.Bytes, res.Elapsed)
	if !first.IsZero() {
		res.StartupTime = first.Sub(start)
		res.FetchTime = last.Sub(first)
		res.FetchRecordsPerSec, res.FetchMBPerSec = rates(res.Records, res.Bytes, res.FetchTime)
	}
	if runErr != nil {
		return res, fmt.Errorf("perf: consuming %q: %w", cfg.Topic, runErr)
	}
	return res, nil
}

// topicRecords returns how many records topic holds now.
func topicRecords(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("perf: listing start offsets of %q: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("perf: listing end offsets of %q: %w", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
			n += o.Offset - s.Offset
		}
	})
	return n, nil
}
