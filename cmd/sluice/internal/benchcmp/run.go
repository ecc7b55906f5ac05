package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/cmd/sluice/internal/perf"
)

// Client settings shared by every broker, so that the only difference
// between two columns of the table is the broker.
const (
	// produceLinger is Kafka 4's linger.ms default, which the sluice perf
	// command uses too; with unbounded load batches fill before it
	// matters.
	produceLinger = 5 * time.Millisecond
	// e2eLinger 0 sends each record at once: the latency phase measures
	// the broker, not the client's batching delay.
	e2eLinger = 0
	acks      = "all"
	codec     = "none"

	warmupTopic  = "bench-warmup"
	produceTopic = "bench-throughput"
	idemTopic    = "bench-idempotent"
	txnTopic     = "bench-transactional"
	e2eTopic     = "bench-e2e"
	// txnID is the transactional producer's transactional.id.
	txnID = "sluice-bench"
)

// errPhase marks a phase that failed; the run goes on with the next phase
// or broker so the table shows as much as was measured, and the exit
// status is non-zero.
var errPhase = errors.New("phase failed")

// targetResult is what was measured on one broker. A nil phase result
// means the phase did not run or failed.
type targetResult struct {
	name    string
	produce *perf.ProduceResult // plain: acks=all, idempotence off
	consume *perf.ConsumeResult
	idem    *perf.ProduceResult // idempotent produce
	txn     *perf.ProduceResult // transactional produce
	// noTxn is set for a broker that does not serve transactions, so the
	// transactional phase was skipped rather than failed.
	noTxn bool
	e2e   *perf.E2EResult
	errs  []error
}

// servesTransactions reports whether the broker called name can run the
// transactional phase. kfake at the version in go.mod answers
// InitProducerId with a transactional id with UNKNOWN_SERVER_ERROR (its
// 22_init_producer_id.go: "TODO: Transactional IDs").
func servesTransactions(name string) bool { return name != targetKfake && name != targetNull }

// servesReads reports whether the broker called name keeps what it is
// sent, so the consume and end-to-end phases can run; the null broker
// does not.
func servesReads(name string) bool { return name != targetNull }

// env describes the machine, printed above the table because every
// figure below depends on it.
type env struct {
	goVersion  string
	numCPU     int
	gomaxprocs int
	cpuModel   string
	date       time.Time
}

func currentEnv() env {
	return env{
		goVersion:  runtime.Version(),
		numCPU:     runtime.NumCPU(),
		gomaxprocs: runtime.GOMAXPROCS(0),
		cpuModel:   cpuModel(),
		date:       time.Now().UTC(),
	}
}

// run measures the disk, then each broker in turn, and writes the report
// to stdout. It returns the joined errors of every failed phase.
func run(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	var prof *os.File
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("creating CPU profile: %w", err)
		}
		prof = f
		defer prof.Close()
	}

	e := currentEnv()
	logf("benchcmp: %s, %d CPUs (GOMAXPROCS %d), %d records of %d B, %d partitions, e2e %d records/s for %s",
		e.goVersion, e.numCPU, e.gomaxprocs, o.records, o.recordSize, o.partitions, o.e2eRate, o.e2eDuration)

	var (
		errs []error
		disk *diskResult
	)
	if o.diskMiB > 0 {
		logf("disk: dd %d MiB with conv=fdatasync into %s", o.diskMiB, o.dir)
		d, err := measureDisk(ctx, o.dir, o.diskMiB)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: disk: %w", errPhase, err))
			logf("disk: FAILED: %v", err)
		} else {
			disk = &d
			logf("disk: %.1f MiB/s (%d bytes in %s)", d.MiBPerSec(), d.Bytes, d.Elapsed.Round(time.Millisecond))
		}
	}

	results := map[string]*targetResult{}
	for _, name := range o.targets() {
		if ctx.Err() != nil {
			break
		}
		var p *os.File
		if name == targetSluice {
			p = prof
		}
		r := runTarget(ctx, name, o, p, logf)
		results[name] = r
		errs = append(errs, r.errs...)
	}
	if prof != nil {
		if err := prof.Close(); err != nil {
			errs = append(errs, fmt.Errorf("writing CPU profile: %w", err))
		}
	}

	writeReport(stdout, e, o, disk, results)
	if prof != nil {
		logf("CPU profile in %s: go tool pprof -tagfocus side=broker -top %s", o.cpuProfile, o.cpuProfile)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// runTarget starts one broker, warms it up, runs the measured phases
// (plain produce, consume, idempotent produce, transactional produce,
// end-to-end latency) and stops it. The consume phase reads what the produce phase
// wrote, so it is skipped when produce failed; the latency phase uses a
// topic of its own and always runs. The warm-up and throughput topics are
// deleted once read, so each phase starts on an empty broker. When prof is not nil, the CPU profile
// covers the produce and consume phases.
func runTarget(ctx context.Context, name string, o *options, prof *os.File, logf func(string, ...any)) *targetResult {
	res := &targetResult{name: name}
	fail := func(phase string, err error) {
		err = fmt.Errorf("%w: %s %s: %w", errPhase, name, phase, err)
		res.errs = append(res.errs, err)
		logf("%v", err)
	}
	progress := func(phase string) func(string) {
		return func(line string) { logf("[%s %s] %s", name, phase, line) }
	}

	logf("%s: starting", name)
	b, err := startTarget(ctx, name, o.dir)
	if err != nil {
		fail("start", err)
		return res
	}
	defer func() {
		logf("%s: stopping", name)
		if err := b.stop(); err != nil {
			fail("stop", err)
		}
	}()
	brokers := []string{b.addr}

	// The client goroutines carry side=client so that a profile separates
	// them from the broker's, which run in the same process.
	pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
		if o.warmup > 0 {
			logf("%s: warm-up, %s of produce load on %s", name, o.warmup, warmupTopic)
			if err := warmup(ctx, brokers, o); err != nil {
				fail("warm-up", err)
				return
			}
			if err := dropTopic(ctx, brokers, warmupTopic); err != nil {
				fail("warm-up", err)
				return
			}
		}

		if prof != nil {
			if err := pprof.StartCPUProfile(prof); err != nil {
				fail("cpuprofile", err)
				prof = nil
			}
		}
		logf("%s: plain produce %d records of %d B to %s (%d partitions, acks=%s, not idempotent, compression=%s)",
			name, o.records, o.recordSize, produceTopic, o.partitions, acks, codec)
		pr, err := produce(ctx, o, brokers, perf.ProduceConfig{
			Topic: produceTopic, NumRecords: o.records, Idempotent: perf.IdempotenceOff,
			Progress: progress("produce"),
		})
		if prof != nil && o.profileProduceOnly {
			pprof.StopCPUProfile()
			prof = nil
		}
		if err != nil {
			fail("produce", err)
		} else {
			res.produce = &pr
			logf("%s: produce: %s", name, pr)
		}
		if err == nil && servesReads(name) {
			logf("%s: consume %d records from %s", name, o.records, produceTopic)
			cctx, cancel := context.WithTimeout(ctx, o.phaseLimit)
			cr, err := perf.Consume(cctx, perf.ConsumeConfig{
				Brokers: brokers, Topic: produceTopic, Messages: o.records,
				Progress: progress("consume"),
			})
			cancel()
			if err != nil {
				fail("consume", err)
			} else {
				res.consume = &cr
				logf("%s: consume: %s", name, cr)
			}
		}
		if prof != nil {
			pprof.StopCPUProfile()
		}
		if res.produce != nil {
			if err := dropTopic(ctx, brokers, produceTopic); err != nil {
				fail("cleanup", err)
			}
		}

		logf("%s: idempotent produce %d records to %s", name, o.modeRecords, idemTopic)
		ir, err := produce(ctx, o, brokers, perf.ProduceConfig{
			Topic: idemTopic, NumRecords: o.modeRecords, Idempotent: perf.IdempotenceOn,
			Progress: progress("idempotent"),
		})
		if err != nil {
			fail("idempotent produce", err)
		} else {
			res.idem = &ir
			logf("%s: idempotent produce: %s", name, ir)
			if err := dropTopic(ctx, brokers, idemTopic); err != nil {
				fail("cleanup", err)
			}
		}

		if !servesTransactions(name) {
			res.noTxn = true
			logf("%s: transactional produce skipped: %s does not serve transactions", name, name)
		} else {
			logf("%s: transactional produce %d records to %s, %d per transaction", name, o.modeRecords, txnTopic, o.txnRecords)
			tr, err := produce(ctx, o, brokers, perf.ProduceConfig{
				Topic: txnTopic, NumRecords: o.modeRecords, TransactionalID: txnID, TxnRecords: o.txnRecords,
				Progress: progress("transactional"),
			})
			if err != nil {
				fail("transactional produce", err)
			} else {
				res.txn = &tr
				logf("%s: transactional produce: %s", name, tr)
				if err := dropTopic(ctx, brokers, txnTopic); err != nil {
					fail("cleanup", err)
				}
			}
		}

		if !servesReads(name) {
			return
		}
		logf("%s: end-to-end latency at %d records/s for %s on %s", name, o.e2eRate, o.e2eDuration, e2eTopic)
		ectx, cancel := context.WithTimeout(ctx, o.e2eDuration+o.phaseLimit)
		er, err := perf.EndToEnd(ectx, perf.E2EConfig{
			Brokers: brokers, Topic: e2eTopic, Rate: o.e2eRate, Duration: o.e2eDuration,
			RecordSize: o.recordSize, Partitions: int32(o.partitions), Acks: acks,
			Compression: codec, Linger: e2eLinger, Progress: progress("e2e"),
		})
		cancel()
		if err != nil {
			fail("end-to-end", err)
		} else {
			res.e2e = &er
			logf("%s: end-to-end: %s", name, er)
		}
	})
	return res
}

// produce runs one measured produce phase with the settings every phase
// shares (record size, partitions, acks, codec, linger) filled in, and
// fails it when fewer records than asked were acknowledged.
func produce(ctx context.Context, o *options, brokers []string, cfg perf.ProduceConfig) (perf.ProduceResult, error) {
	cfg.Brokers, cfg.RecordSize, cfg.Partitions = brokers, o.recordSize, int32(o.partitions)
	cfg.Acks, cfg.Compression, cfg.Linger = acks, codec, produceLinger
	pctx, cancel := context.WithTimeout(ctx, o.phaseLimit)
	defer cancel()
	pr, err := perf.Produce(pctx, cfg)
	if err == nil && pr.Records != cfg.NumRecords {
		err = fmt.Errorf("%w: %d of %d records acknowledged", perf.ErrIncomplete, pr.Records, cfg.NumRecords)
	}
	return pr, err
}

// warmup offers unmeasured produce load for o.warmup, so connections,
// the topic-creation path, the heap and the page cache are settled
// before the clock starts. Running out of time is its normal end.
func warmup(ctx context.Context, brokers []string, o *options) error {
	wctx, cancel := context.WithTimeout(ctx, o.warmup)
	defer cancel()
	_, err := perf.Produce(wctx, perf.ProduceConfig{
		Brokers: brokers, Topic: warmupTopic, NumRecords: o.records, RecordSize: o.recordSize,
		Acks: acks, Compression: codec, Linger: produceLinger, Partitions: int32(o.partitions),
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil
	}
	return err
}

// dropTopic deletes topic and collects garbage, so that every measured
// phase starts from a broker holding no data. Without it kfake, which
// keeps every record in its heap, measures latency with gigabytes of live
// heap behind each garbage collection (p99 rose from about 6 ms to 70 ms
// in one run), which says more about the run order than about kfake.
func dropTopic(ctx context.Context, brokers []string, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("deleting topic %q: %w", topic, err)
	}
	defer cl.Close()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).DeleteTopic(dctx, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("deleting topic %q: %w", topic, err)
	}
	runtime.GC()
	return nil
}

// cpuModel names the processor, from /proc/cpuinfo where there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	return parseCPUModel(string(b), runtime.GOARCH)
}
