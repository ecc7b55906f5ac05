package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/cmd/sluice/internal/perf"
)

func (a *app) perfCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Measure throughput and latency (like kafka-producer/consumer-perf-test)",
		Long: `Measure a cluster with the settings documented in the perf package: batches up
to 1000012 bytes, 5 requests in flight per broker, 32 MiB of buffered
records. Progress lines go to standard error, the summary to standard output
(--output json for scripts).`,
	}
	cmd.AddCommand(a.perfProduceCmd(), a.perfConsumeCmd(), a.perfE2ECmd())
	return cmd
}

// progressTo returns a Progress callback printing to cmd's stderr.
func progressTo(cmd *cobra.Command) func(string) {
	w := cmd.ErrOrStderr()
	return func(s string) { fmt.Fprintln(w, s) }
}

// printResult writes a perf result as its summary line or as JSON.
func printResult(cmd *cobra.Command, output string, res fmt.Stringer) error {
	if output == outputJSON {
		return writeJSON(cmd.OutOrStdout(), res)
	}
	_, err := fmt.Fprintln(cmd.OutOrStdout(), res)
	return err
}

// runPerf checks the flags shared by the perf commands, runs one
// measurement and prints whatever it measured, even when it ended early.
func runPerf(a *app, cmd *cobra.Command, output, topic string, run func() (res fmt.Stringer, measured bool, err error)) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	if err := validateTopicName(topic); err != nil {
		return fmt.Errorf("--topic: %w", err)
	}
	res, measured, err := run()
	if measured {
		if perr := printResult(cmd, output, res); perr != nil && err == nil {
			err = perr
		}
	}
	return a.explain(err)
}

func (a *app) perfProduceCmd() *cobra.Command {
	var (
		cfg        perf.ProduceConfig
		output     string
		idempotent bool
	)
	cmd := &cobra.Command{
		Use:   "produce --topic T",
		Short: "Produce records as fast as possible (or at --throughput) and report latency",
		Example: `  sluice perf produce --topic bench --num-records 1000000 --record-size 1024 --partitions 6
  sluice perf produce --topic bench --throughput 20000 --acks 1 --compression lz4
  sluice perf produce --topic bench --idempotent=false
  sluice perf produce --topic bench --transactional-id perf --transaction-records 10000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPerf(a, cmd, output, cfg.Topic, func() (fmt.Stringer, bool, error) {
				cfg.Brokers, cfg.Progress = a.seeds(), progressTo(cmd)
				// Unset, --idempotent follows --acks (kgo's default).
				if cmd.Flags().Changed("idempotent") {
					cfg.Idempotent = perf.IdempotenceOff
					if idempotent {
						cfg.Idempotent = perf.IdempotenceOn
					}
				}
				res, err := perf.Produce(cmdContext(cmd), cfg)
				return res, res.Records > 0, err
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Topic, "topic", "t", "", "topic to produce to (required)")
	f.Int64VarP(&cfg.NumRecords, "num-records", "n", 1_000_000, "records to send")
	f.IntVarP(&cfg.RecordSize, "record-size", "s", perf.DefaultRecordSize, "value size in bytes")
	f.IntVar(&cfg.Throughput, "throughput", -1, "cap in records/s (-1: as fast as possible)")
	f.StringVar(&cfg.Acks, "acks", "all", "all, 1 or 0")
	f.StringVar(&cfg.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	f.BoolVar(&idempotent, "idempotent", false, "idempotent producer (true needs --acks all; unset: idempotent exactly when --acks is all)")
	f.StringVar(&cfg.TransactionalID, "transactional-id", "", "produce in transactions with this transactional.id (needs --acks all)")
	f.Int64Var(&cfg.TxnRecords, "transaction-records", 0, fmt.Sprintf("records per transaction with --transactional-id (0: %d)", perf.DefaultTxnRecords))
	f.Int32Var(&cfg.BatchMaxBytes, "batch-max-bytes", perf.DefaultBatchMaxBytes, "largest record batch in bytes")
	f.DurationVar(&cfg.Linger, "linger", 5*time.Millisecond, "time to wait to fill a batch")
	f.Int32VarP(&cfg.Partitions, "partitions", "p", 0, "create the topic with this many partitions if it is missing (0: it must exist or be auto-created)")
	f.Int16Var(&cfg.ReplicationFactor, "replication-factor", -1, "replication factor when creating the topic (-1: broker default)")
	f.DurationVar(&cfg.ReportingInterval, "reporting-interval", perf.DefaultReportingInterval, "time between progress lines")
	addOutputFlag(cmd, &output)
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

func (a *app) perfConsumeCmd() *cobra.Command {
	var (
		cfg    perf.ConsumeConfig
		output string
	)
	cmd := &cobra.Command{
		Use:   "consume --topic T",
		Short: "Consume records from the start of a topic and report throughput",
		Long: `Consume from the earliest offset and report MB/s, records/s, the startup time
until the first record (metadata, group join) and the fetch time from the
first record to the last. Without --messages it reads what the topic holds
when it starts.`,
		Example: `  sluice perf consume --topic bench
  sluice perf consume --topic bench --messages 1000000 --group perf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPerf(a, cmd, output, cfg.Topic, func() (fmt.Stringer, bool, error) {
				cfg.Brokers, cfg.Progress = a.seeds(), progressTo(cmd)
				res, err := perf.Consume(cmdContext(cmd), cfg)
				return res, res.Records > 0, err
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Topic, "topic", "t", "", "topic to consume (required)")
	f.Int64VarP(&cfg.Messages, "messages", "n", 0, "records to consume (0: all the topic holds now)")
	f.StringVarP(&cfg.Group, "group", "g", "", "consume as a member of this group (default: no group)")
	f.DurationVar(&cfg.IdleTimeout, "timeout", perf.DefaultIdleTimeout, "give up when no record arrives for this long")
	f.DurationVar(&cfg.ReportingInterval, "reporting-interval", perf.DefaultReportingInterval, "time between progress lines")
	addOutputFlag(cmd, &output)
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

func (a *app) perfE2ECmd() *cobra.Command {
	var (
		cfg    perf.E2EConfig
		output string
	)
	cmd := &cobra.Command{
		Use:   "e2e --topic T",
		Short: "Measure end-to-end latency (produce → consume) at a fixed offered rate",
		Long: `Offer --rate records/s for --duration; each record carries its scheduled send
time, and a consumer on this machine records receive − send. Reports p50,
p99, p99.9 and max. Linger defaults to 0 here because it adds latency.`,
		Example: `  sluice perf e2e --topic latency --rate 5000 --duration 20s --record-size 1024 --partitions 1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPerf(a, cmd, output, cfg.Topic, func() (fmt.Stringer, bool, error) {
				cfg.Brokers, cfg.Progress = a.seeds(), progressTo(cmd)
				res, err := perf.EndToEnd(cmdContext(cmd), cfg)
				return res, res.Sent > 0, err
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Topic, "topic", "t", "", "topic to use (required)")
	f.IntVar(&cfg.Rate, "rate", 5000, "offered load in records/s")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to offer load")
	f.IntVarP(&cfg.RecordSize, "record-size", "s", perf.DefaultRecordSize, "value size in bytes (at least 8)")
	f.Int32VarP(&cfg.Partitions, "partitions", "p", 0, "create the topic with this many partitions if it is missing")
	f.Int16Var(&cfg.ReplicationFactor, "replication-factor", -1, "replication factor when creating the topic (-1: broker default)")
	f.StringVar(&cfg.Acks, "acks", "all", "all, 1 or 0")
	f.StringVar(&cfg.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	f.DurationVar(&cfg.Linger, "linger", 0, "time to wait to fill a batch")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", perf.DefaultIdleTimeout, "how long to wait for the last records to arrive")
	f.DurationVar(&cfg.ReportingInterval, "reporting-interval", perf.DefaultReportingInterval, "time between progress lines")
	addOutputFlag(cmd, &output)
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}
