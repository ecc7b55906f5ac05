// Command benchcmp is `make bench`: it measures the Sluice broker beside
// franz-go's in-memory fake broker (kfake) and beside the disk that holds
// the broker's data, and prints the figures as a Markdown table for the
// README.
//
// Both brokers run in this process, one after the other, each driven by
// the same franz-go client settings through package perf: plain produce
// throughput (1 KiB records, acks=all, idempotence off, no compression, 6
// partitions), consume throughput of those records, idempotent and
// transactional produce throughput (a commit every -txn-records records),
// and end-to-end latency at a fixed offered rate. kfake is the yardstick because it is a Kafka-protocol
// broker in Go with no disk at all, so a ratio against it shows how much
// of the request path Sluice has made cheap; the disk's fdatasync
// bandwidth is the other yardstick, the rate a durable log could reach.
//
// A third target, the null broker (nullbroker.go), acknowledges produce
// requests without keeping anything; it runs the produce phases only, and
// its figures are the client's ceiling in this process: no broker can
// show a higher produce rate here, so no ratio against kfake can exceed
// null/kfake.
//
// Progress goes to stderr, the table to stdout. The exit status is
// non-zero when a phase fails (a broker that does not start, a produce or
// consume that errors or stops short), never because a target is missed:
// misses are reported in the table as "no".
//
// Usage:
//
//	go run ./cmd/sluice/internal/benchcmp [-records N] [-mode-records N] [-txn-records N] [-e2e-duration D] [-only sluice|kfake|null] [-cpuprofile FILE [-profile-phase produce]]
//
// With -cpuprofile the CPU profile covers the Sluice plain produce and
// consume phases (-profile-phase produce: the plain produce alone);
// samples carry the pprof label side=broker or side=client, so
//
//	go tool pprof -tagfocus side=broker -top FILE
//
// shows where the broker alone spends its CPU.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Defaults sized for a 2-core machine: the produce phase lasts 10-20 s on
// Sluice and the whole run stays under about five minutes.
const (
	defaultRecords = 2_000_000
	// defaultModeRecords is what the idempotent and transactional phases
	// send: half the plain count keeps kfake's heap (it holds every
	// record) and the run time down, and MB/s does not depend on it much.
	defaultModeRecords = 1_000_000
	// defaultTxnRecords commits 10 MiB of 1 KiB records per transaction.
	defaultTxnRecords  = 10_000
	defaultRecordSize  = 1024
	defaultPartitions  = 6
	defaultE2ERate     = 5000
	defaultE2EDuration = 15 * time.Second
	defaultWarmup      = 3 * time.Second
	defaultPhaseLimit  = 2 * time.Minute
	defaultDiskMiB     = 1024
)

// errUsage marks a bad command line; main exits 2 for it, as flag does.
var errUsage = errors.New("benchcmp: usage")

// options is the parsed command line.
type options struct {
	records     int64
	modeRecords int64 // records of the idempotent and transactional phases
	txnRecords  int64 // records per transaction
	// profileProduceOnly stops the CPU profile after the plain produce.
	profileProduceOnly bool
	recordSize         int
	partitions         int
	e2eRate            int
	e2eDuration        time.Duration
	warmup             time.Duration
	phaseLimit         time.Duration
	only               string // "", "sluice" or "kfake"
	cpuProfile         string
	dir                string // parent of the data dir and of dd's test file
	diskMiB            int
}

// targets returns the names of the brokers to measure, in run order.
func (o *options) targets() []string {
	switch o.only {
	case targetSluice:
		return []string{targetSluice}
	case targetKfake:
		return []string{targetKfake}
	case targetNull:
		return []string{targetNull}
	default:
		return []string{targetSluice, targetKfake, targetNull}
	}
}

// parseFlags reads the command line into options and checks it.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("benchcmp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Int64Var(&o.records, "records", defaultRecords, "records to produce and then consume, the same count on every broker")
	fs.Int64Var(&o.modeRecords, "mode-records", defaultModeRecords, "records of the idempotent and the transactional produce phase, the same count on every broker")
	fs.Int64Var(&o.txnRecords, "txn-records", defaultTxnRecords, "records per transaction in the transactional produce phase")
	var profilePhase string
	fs.StringVar(&profilePhase, "profile-phase", "all", "what -cpuprofile covers: all (plain produce and consume) or produce (plain produce only)")
	fs.IntVar(&o.recordSize, "record-size", defaultRecordSize, "value bytes per record")
	fs.IntVar(&o.partitions, "partitions", defaultPartitions, "partitions of each benchmark topic")
	fs.IntVar(&o.e2eRate, "e2e-rate", defaultE2ERate, "offered records/s in the end-to-end latency phase")
	fs.DurationVar(&o.e2eDuration, "e2e-duration", defaultE2EDuration, "how long the end-to-end latency phase offers load")
	fs.DurationVar(&o.warmup, "warmup", defaultWarmup, "unmeasured produce load on a separate topic before measuring (0 skips it)")
	fs.DurationVar(&o.phaseLimit, "phase-timeout", defaultPhaseLimit, "a phase that takes longer fails")
	fs.StringVar(&o.only, "only", "", "measure only this broker: sluice, kfake or null (the client's ceiling)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the Sluice produce and consume phases to this file (samples labelled side=broker|client)")
	fs.StringVar(&o.dir, "dir", os.TempDir(), "directory on the disk to measure; the data dir and dd's test file go in it")
	fs.IntVar(&o.diskMiB, "disk-mib", defaultDiskMiB, "MiB dd writes to measure the disk (0 skips the disk measurement)")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	case o.records <= 0 || o.modeRecords <= 0 || o.txnRecords <= 0:
		return nil, fmt.Errorf("%w: -records, -mode-records and -txn-records must be > 0", errUsage)
	case profilePhase != "all" && profilePhase != "produce":
		return nil, fmt.Errorf("%w: -profile-phase must be all or produce, not %q", errUsage, profilePhase)
	case o.recordSize < 8:
		return nil, fmt.Errorf("%w: -record-size must be at least 8 (the end-to-end phase stamps the send time in the value)", errUsage)
	case o.partitions <= 0:
		return nil, fmt.Errorf("%w: -partitions must be > 0", errUsage)
	case o.e2eRate <= 0 || o.e2eDuration <= 0:
		return nil, fmt.Errorf("%w: -e2e-rate and -e2e-duration must be > 0", errUsage)
	case o.warmup < 0 || o.phaseLimit <= 0 || o.diskMiB < 0:
		return nil, fmt.Errorf("%w: -warmup, -disk-mib must be >= 0 and -phase-timeout > 0", errUsage)
	case o.only != "" && o.only != targetSluice && o.only != targetKfake && o.only != targetNull:
		return nil, fmt.Errorf("%w: -only must be %s, %s or %s, not %q", errUsage, targetSluice, targetKfake, targetNull, o.only)
	case o.cpuProfile != "" && (o.only == targetKfake || o.only == targetNull):
		return nil, fmt.Errorf("%w: -cpuprofile profiles the Sluice phases; it cannot go with -only kfake", errUsage)
	}
	o.profileProduceOnly = profilePhase == "produce"
	return o, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(1)
	}
}

// mainErr parses args and runs the benchmark.
func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return run(ctx, o, stdout, stderr)
}
