package perf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults applied to zero fields of the configs.
const (
	DefaultRecordSize        = 1024
	DefaultBatchMaxBytes     = 1000012
	DefaultReportingInterval = 5 * time.Second
	DefaultIdleTimeout       = 10 * time.Second
	defaultBufferedBytes     = 32 << 20
	defaultBufferedRecords   = 1 << 20
	defaultInflight          = 5
	// DefaultTxnRecords is the records per transaction when
	// TransactionalID is set and TxnRecords is 0: 10 MiB of 1 KiB
	// records, a commit every few tens of milliseconds on a fast broker,
	// so commit overhead shows without dominating.
	DefaultTxnRecords = 10_000
)

// Idempotence chooses whether the measuring producer is idempotent.
type Idempotence int8

const (
	// IdempotenceAuto is kgo's default: idempotent with acks=all, not
	// with acks 1 or 0 (kgo requires acks=all for idempotence).
	IdempotenceAuto Idempotence = iota
	// IdempotenceOn asks for an idempotent producer; acks must be all.
	IdempotenceOn
	// IdempotenceOff turns idempotence off even with acks=all, the
	// "plain" produce of Kafka's enable.idempotence=false.
	IdempotenceOff
)

// String names the mode as the CLI and the benchmark table show it.
func (i Idempotence) String() string {
	switch i {
	case IdempotenceOn:
		return "on"
	case IdempotenceOff:
		return "off"
	default:
		return "auto"
	}
}

// ErrIncomplete marks a run that stopped before all records were seen.
var ErrIncomplete = errors.New("perf: incomplete run")

// ProduceConfig configures [Produce].
type ProduceConfig struct {
	Brokers    []string // seed brokers, host:port
	Topic      string
	NumRecords int64 // records to send; must be > 0
	RecordSize int   // value bytes per record; 0 means DefaultRecordSize
	// Throughput caps the send rate in records/s; 0 or less is no cap.
	Throughput  int
	Acks        string // all (default), 1 or 0
	Compression string // none (default), gzip, snappy, lz4, zstd
	// Idempotent picks an idempotent or plain producer; the zero value
	// follows Acks (see [IdempotenceAuto]).
	Idempotent Idempotence
	// TransactionalID, when set, makes the producer transactional (and so
	// idempotent): records go in transactions of TxnRecords records each,
	// every one committed with EndTransaction after a Flush, as Kafka's
	// producer commits after sending. Acks must be all.
	TransactionalID string
	// TxnRecords is the records per transaction; 0 means
	// DefaultTxnRecords. Only with TransactionalID.
	TxnRecords int64
	// BatchMaxBytes is the largest batch; 0 means DefaultBatchMaxBytes.
	BatchMaxBytes int32
	Linger        time.Duration // batch linger; 0 is none
	// Partitions, when > 0, creates the topic with that many partitions
	// (and ReplicationFactor, -1 or 0 meaning the broker default) if it
	// does not exist.
	Partitions        int32
	ReplicationFactor int16
	// ReportingInterval is the time between Progress lines; 0 means
	// DefaultReportingInterval.
	ReportingInterval time.Duration
	Progress          func(string) // progress lines; nil is quiet
	ClientOpts        []kgo.Opt    // extra kgo options, applied last
}

// ProduceResult is the outcome of [Produce]: acknowledged records only.
type ProduceResult struct {
	Records       int64         `json:"records"`
	Bytes         int64         `json:"bytes"` // value bytes acknowledged
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"`
	MBPerSec      float64       `json:"mb_per_sec"` // MiB/s, as Kafka's tools count
	Latency       Latency       `json:"latency"`    // Produce call to acknowledgement
}

// String formats r like kafka-producer-perf-test's final line.
func (r ProduceResult) String() string {
	return fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %s.",
		r.Records, r.RecordsPerSec, r.MBPerSec, r.Latency)
}

func (c *ProduceConfig) defaults() error {
	if len(c.Brokers) == 0 || c.Topic == "" {
		return fmt.Errorf("%w: Brokers and Topic are required", ErrConfig)
	}
	if c.NumRecords <= 0 {
		return fmt.Errorf("%w: NumRecords must be > 0", ErrConfig)
	}
	if c.RecordSize == 0 {
		c.RecordSize = DefaultRecordSize
	}
	if c.RecordSize < 0 {
		return fmt.Errorf("%w: RecordSize must be >= 0", ErrConfig)
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if c.ReportingInterval <= 0 {
		c.ReportingInterval = DefaultReportingInterval
	}
	if c.Idempotent < IdempotenceAuto || c.Idempotent > IdempotenceOff {
		return fmt.Errorf("%w: unknown Idempotent mode %d", ErrConfig, c.Idempotent)
	}
	if c.TransactionalID == "" {
		if c.TxnRecords != 0 {
			return fmt.Errorf("%w: TxnRecords needs a TransactionalID", ErrConfig)
		}
		return nil
	}
	if c.Idempotent == IdempotenceOff {
		return fmt.Errorf("%w: a transactional producer is idempotent; Idempotent cannot be off", ErrConfig)
	}
	if c.TxnRecords == 0 {
		c.TxnRecords = DefaultTxnRecords
	}
	if c.TxnRecords < 0 {
		return fmt.Errorf("%w: TxnRecords must be > 0", ErrConfig)
	}
	return nil
}

// idempotent reports whether the producer of c will be idempotent, and
// an error when c asks for idempotence with acks other than all.
func (c *ProduceConfig) idempotent(allAcks bool) (bool, error) {
	switch {
	case c.TransactionalID != "" || c.Idempotent == IdempotenceOn:
		if !allAcks {
			return false, fmt.Errorf("%w: an idempotent or transactional producer needs acks=all", ErrConfig)
		}
		return true, nil
	case c.Idempotent == IdempotenceOff:
		return false, nil
	default:
		return allAcks, nil
	}
}

// producerOpts returns the measuring producer's kgo options (see the
// package documentation).
func producerOpts(brokers []string, topic, acks, compression string, batchMax int32, linger time.Duration) ([]kgo.Opt, error) {
	a, err := ParseAcks(acks)
	if err != nil {
		return nil, err
	}
	codec, err := ParseCompression(compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("sluice-perf"),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(a),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerBatchMaxBytes(batchMax),
		kgo.ProducerLinger(linger),
		kgo.MaxBufferedBytes(defaultBufferedBytes),
		kgo.MaxBufferedRecords(defaultBufferedRecords),
	}
	if a != kgo.AllISRAcks() {
		opts = append(opts, plainOpts()...)
	}
	return opts, nil
}

// plainOpts turn kgo's idempotence off and allow Kafka's default of 5
// produce requests in flight, which kgo allows only without idempotence
// (with it kgo keeps its own cap of 5 too).
func plainOpts() []kgo.Opt {
	return []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(defaultInflight)}
}

// ensureTopic creates topic with partitions if it is missing; an existing
// topic is left as it is.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32, rf int16) error {
	if partitions <= 0 {
		return nil
	}
	if rf == 0 {
		rf = -1
	}
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("perf: creating topic %q: %w", topic, err)
	}
	return nil
}

// payload returns n random upper-case letters, like Kafka's perf tool.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'A' + byte(rand.IntN(26))
	}
	return b
}

// pacer spaces events to a fixed rate by sleeping until each one's slot.
type pacer struct {
	start time.Time
	rate  float64 // events per second; <= 0 means no pacing
	timer *time.Timer
}

func newPacer(rate int) *pacer {
	p := &pacer{start: time.Now(), rate: float64(rate)}
	if rate > 0 {
		p.timer = time.NewTimer(time.Hour)
		p.timer.Stop()
	}
	return p
}

// slot returns event i's scheduled time.
func (p *pacer) slot(i int64) time.Time {
	return p.start.Add(time.Duration(float64(i) / p.rate * float64(time.Second)))
}

// wait blocks until event i's slot or ctx is done.
func (p *pacer) wait(ctx context.Context, i int64) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	d := time.Until(p.slot(i))
	if d <= 0 {
		return ctx.Err()
	}
	p.timer.Reset(d)
	select {
	case <-p.timer.C:
		return nil
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	}
}

// window accumulates stats between two progress lines.
type window struct {
	start   time.Time
	records int64
	bytes   int64
	latSum  time.Duration
	latMax  time.Duration
}

func (w *window) line(now time.Time) string {
	el := now.Sub(w.start)
	rps, mbps := rates(w.records, w.bytes, el)
	var avg time.Duration
	if w.records > 0 {
		avg = w.latSum / time.Duration(w.records)
	}
	return fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %s ms avg latency, %s ms max latency.",
		w.records, rps, mbps, ms(avg), ms(w.latMax))
}

// Produce sends cfg.NumRecords records of cfg.RecordSize bytes as fast as
// the cluster takes them (or at cfg.Throughput records/s) and measures each
// record's latency from Produce call to acknowledgement. It stops at the
// first failed record and returns it; on ctx cancellation it returns what
// was acknowledged so far together with ctx's error. A transactional run
// counts a record when the broker acknowledges it, before its commit; a
// failed commit fails the run, and its open transaction is aborted.
func Produce(ctx context.Context, cfg ProduceConfig) (ProduceResult, error) {
	if err := cfg.defaults(); err != nil {
		return ProduceResult{}, err
	}
	opts, err := producerOpts(cfg.Brokers, cfg.Topic, cfg.Acks, cfg.Compression, cfg.BatchMaxBytes, cfg.Linger)
	if err != nil {
		return ProduceResult{}, err
	}
	a, _ := ParseAcks(cfg.Acks) // checked by producerOpts
	idem, err := cfg.idempotent(a == kgo.AllISRAcks())
	if err != nil {
		return ProduceResult{}, err
	}
	switch {
	case !idem && a == kgo.AllISRAcks():
		opts = append(opts, plainOpts()...)
	case cfg.TransactionalID != "":
		opts = append(opts, kgo.TransactionalID(cfg.TransactionalID))
	}
	txn := cfg.TransactionalID != ""
	cl, err := kgo.NewClient(append(opts, cfg.ClientOpts...)...)
	if err != nil {
		return ProduceResult{}, fmt.Errorf("perf: creating client: %w", err)
	}
	defer cl.Close()
	if err := ensureTopic(ctx, cl, cfg.Topic, cfg.Partitions, cfg.ReplicationFactor); err != nil {
		return ProduceResult{}, err
	}

	value := payload(cfg.RecordSize)
	size := int64(cfg.RecordSize)
	pool := sync.Pool{New: func() any { return new(kgo.Record) }}
	var (
		mu       sync.Mutex // guards hist, win, acked, firstErr
		hist     Histogram
		win      = window{start: time.Now()}
		acked    int64
		firstErr error
		failed   atomic.Bool
	)
	promise := func(r *kgo.Record, err error) {
		now := time.Now()
		lat := now.Sub(r.Timestamp)
		pool.Put(r)
		var line string
		mu.Lock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
				failed.Store(true)
			}
		} else {
			acked++
			hist.Record(lat)
			win.records++
			win.bytes += size
			win.latSum += lat
			win.latMax = max(win.latMax, lat)
			if cfg.Progress != nil && now.Sub(win.start) >= cfg.ReportingInterval {
				line = win.line(now)
				win = window{start: now}
			}
		}
		mu.Unlock()
		if line != "" {
			cfg.Progress(line)
		}
	}

	pace := newPacer(cfg.Throughput)
	start := pace.start
	var runErr error
	for i := int64(0); i < cfg.NumRecords && !failed.Load(); i++ {
		if err := pace.wait(ctx, i); err != nil {
			runErr = err
			break
		}
		if txn && i%cfg.TxnRecords == 0 {
			if i > 0 {
				if err := commitTxn(ctx, cl); err != nil {
					runErr = err
					break
				}
			}
			if err := cl.BeginTransaction(); err != nil {
				runErr = fmt.Errorf("beginning a transaction: %w", err)
				break
			}
		}
		r := pool.Get().(*kgo.Record)
		*r = kgo.Record{Value: value, Timestamp: time.Now()}
		cl.Produce(ctx, r, promise)
	}
	fctx := ctx
	if runErr != nil {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), DefaultIdleTimeout)
		defer cancel()
	}
	switch {
	case txn && runErr == nil && !failed.Load():
		runErr = commitTxn(ctx, cl)
	case txn:
		abortTxn(fctx, cl)
	default:
		if err := cl.Flush(fctx); err != nil && runErr == nil {
			runErr = err
		}
	}
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	res := ProduceResult{Records: acked, Bytes: acked * size, Elapsed: elapsed, Latency: hist.Summary()}
	res.RecordsPerSec, res.MBPerSec = rates(res.Records, res.Bytes, elapsed)
	if firstErr != nil {
		return res, fmt.Errorf("perf: producing to %q: %w", cfg.Topic, firstErr)
	}
	if runErr != nil {
		return res, fmt.Errorf("perf: producing to %q: %w", cfg.Topic, runErr)
	}
	return res, nil
}

// commitTxn flushes the open transaction's records and commits it.
// EndTransaction does not flush by itself, and committing before every
// record is acknowledged would fail.
func commitTxn(ctx context.Context, cl *kgo.Client) error {
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing a transaction: %w", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("committing a transaction: %w", err)
	}
	return nil
}

// abortTxn ends a failed or cancelled run's open transaction, best
// effort: the run's error is already set, and the broker's transaction
// timeout aborts what this cannot.
func abortTxn(ctx context.Context, cl *kgo.Client) {
	if cl.AbortBufferedRecords(ctx) != nil {
		return
	}
	_ = cl.EndTransaction(ctx, kgo.TryAbort)
}
