package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/cmd/sluice/internal/perf"
)

// ErrProduce marks a record the cluster did not accept.
var ErrProduce = errors.New("produce failed")

// flushTimeout bounds the wait for outstanding acknowledgements after an
// interrupt, so a second Ctrl-C is not needed when the cluster is gone.
const flushTimeout = 10 * time.Second

type produceOpts struct {
	topic        string
	keySep       string
	keyed        bool
	headers      []string
	partition    int32
	acks         string
	compression  string
	linger       time.Duration
	maxMsgBytes  int32
	parsedHeader []kgo.RecordHeader
}

func (a *app) produceCmd() *cobra.Command {
	var o produceOpts
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Send each line of standard input as a record (like kafka-console-producer)",
		Long: `Send each line of standard input as one record and exit at end of input once
every record is acknowledged, printing the count to standard error.

Keys: with --key-separator SEP, the text before the first SEP of a line is
the key and the rest the value; without it keys are null. Keyed records go
to the partition murmur2(key) picks, as Java clients do, so keys land on
the same partitions as with Kafka's own tools. Unkeyed records are spread
by the sticky partitioner, or all go to --partition N.`,
		Example: `  echo hello | sluice produce greetings
  printf 'user1:login\nuser2:logout\n' | sluice produce events --key-separator :
  sluice produce events --header source=cli --compression zstd < events.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.topic = args[0]
			o.keyed = cmd.Flags().Changed("key-separator")
			return a.runProduce(cmd, &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.keySep, "key-separator", "", "split each line into KEY<SEP>VALUE at the first SEP (no flag: null keys)")
	f.StringArrayVarP(&o.headers, "header", "H", nil, "add header key=value to every record (repeatable)")
	f.Int32VarP(&o.partition, "partition", "p", -1, "send every record to this partition (default: murmur2 of the key, or sticky for null keys)")
	f.StringVar(&o.acks, "acks", "all", "acknowledgement: all (every in-sync replica), 1 (leader only) or 0 (none)")
	f.StringVar(&o.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.DurationVar(&o.linger, "linger", 5*time.Millisecond, "how long to wait to fill a batch before sending it")
	f.Int32Var(&o.maxMsgBytes, "max-message-bytes", perf.DefaultBatchMaxBytes, "largest record batch (and so line) to send, in bytes")
	return cmd
}

func (a *app) runProduce(cmd *cobra.Command, o *produceOpts) error {
	if err := validateTopicName(o.topic); err != nil {
		return err
	}
	if o.keyed && o.keySep == "" {
		return fmt.Errorf("%w: --key-separator must not be empty", ErrUsage)
	}
	for _, h := range o.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: --header %q: want key=value", ErrUsage, h)
		}
		o.parsedHeader = append(o.parsedHeader, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	acks, err := perf.ParseAcks(o.acks)
	if err != nil {
		return fmt.Errorf("%w: --acks: %w", ErrUsage, err)
	}
	codec, err := perf.ParseCompression(o.compression)
	if err != nil {
		return fmt.Errorf("%w: --compression: %w", ErrUsage, err)
	}
	if o.maxMsgBytes < 512 {
		return fmt.Errorf("%w: --max-message-bytes %d: the smallest batch limit is 512", ErrUsage, o.maxMsgBytes)
	}
	opts := []kgo.Opt{
		kgo.DefaultProduceTopic(o.topic),
		// Kafka's producers ask the broker to create missing topics; the
		// broker decides with auto.create.topics.enable.
		kgo.AllowAutoTopicCreation(),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(o.linger),
		kgo.ProducerBatchMaxBytes(o.maxMsgBytes),
		kgo.RecordDeliveryTimeout(30 * time.Second),
	}
	if acks != kgo.AllISRAcks() {
		// Idempotence needs acks=all; keep ordering with one request in flight.
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(1))
	}
	if o.partition >= 0 {
		// An explicit partition needs an existing topic; checking first
		// turns kgo's partitioning error into one naming the valid range.
		if _, err := a.checkTopic(cmd, o.topic, []int32{o.partition}); err != nil {
			return err
		}
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := a.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	ctx := cmdContext(cmd)
	// Fail in seconds, before reading input, when no broker answers;
	// otherwise records would wait out their delivery timeout.
	pctx, cancel := withTimeout(cmd)
	err = cl.Ping(pctx)
	cancel()
	if err != nil {
		return a.explain(fmt.Errorf("connecting: %w", err))
	}
	var (
		acked    atomic.Int64
		errOnce  sync.Once
		firstErr error
		failed   = make(chan struct{})
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			errOnce.Do(func() { firstErr = err; close(failed) })
			return
		}
		acked.Add(1)
	}

	lines, readErr, stopReading := readLines(cmd, int(o.maxMsgBytes))
	defer stopReading()
	var sent int64
	eof := false
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-failed:
			break loop
		case ln, ok := <-lines:
			if !ok {
				eof = true
				break loop
			}
			sent++
			rec := &kgo.Record{Value: ln, Headers: o.parsedHeader, Partition: o.partition}
			if o.keyed {
				k, v, found := bytes.Cut(ln, []byte(o.keySep))
				if !found {
					return fmt.Errorf("line %d has no key separator %q: with --key-separator every line must be KEY%sVALUE", sent, o.keySep, o.keySep)
				}
				rec.Key, rec.Value = k, v
			}
			cl.Produce(context.WithoutCancel(ctx), rec, promise)
		}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		return fmt.Errorf("waiting for acknowledgements: %d of %d records acknowledged: %w", acked.Load(), sent, err)
	}
	select {
	case <-failed:
		return a.explainProduce(o, fmt.Errorf("%w: %d of %d records acknowledged: %w", ErrProduce, acked.Load(), sent, firstErr))
	default:
	}
	if eof {
		if err := readErr(); err != nil {
			return fmt.Errorf("reading standard input after %d records: %w", sent, err)
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Produced %d records to %s.\n", acked.Load(), o.topic)
	return nil
}

// explainProduce adds the next step to common produce errors.
func (a *app) explainProduce(o *produceOpts, err error) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition) && o.partition >= 0:
		return fmt.Errorf("topic %q or its partition %d does not exist (auto-creation may be off on the broker); check with `sluice topics describe %s`, or create it with `sluice topics create %s --partitions %d`: %w",
			o.topic, o.partition, o.topic, o.topic, o.partition+1, err)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("topic %q does not exist and the broker does not create topics automatically (auto.create.topics.enable=false); create it first with `sluice topics create %s`: %w", o.topic, o.topic, err)
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return fmt.Errorf("a batch is larger than the topic accepts; lower --max-message-bytes or raise the topic's limit with `sluice topics alter %s --config max.message.bytes=N`: %w", o.topic, err)
	case errors.Is(err, kerr.NotEnoughReplicas), errors.Is(err, kerr.NotEnoughReplicasAfterAppend):
		return fmt.Errorf("fewer in-sync replicas than min.insync.replicas; wait for brokers to recover or use --acks 1: %w", err)
	}
	return a.explain(err)
}

// readLines reads cmd's standard input line by line (without the trailing
// "\n" or "\r\n") in a goroutine, so the produce loop can react to an
// interrupt while a terminal read blocks. Each line is a fresh slice the
// record can keep. After the lines channel closes, readErr returns the
// read error, if any. stop tells the reader to quit at its next line; a
// reader blocked in a terminal Read cannot be interrupted portably and ends
// when the process exits, which follows an interrupt directly.
func readLines(cmd *cobra.Command, maxLine int) (lines <-chan []byte, readErr func() error, stop func()) {
	out := make(chan []byte, 256)
	quit := make(chan struct{})
	var (
		err     error
		stopped sync.Once
	)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(cmd.InOrStdin())
		sc.Buffer(make([]byte, 0, 64<<10), maxLine+2)
		for sc.Scan() {
			b := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
			ln := make([]byte, len(b))
			copy(ln, b)
			select {
			case out <- ln:
			case <-quit:
				return
			}
		}
		err = sc.Err()
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than --max-message-bytes (%d): %w", maxLine, err)
		}
	}()
	return out, func() error {
			// Only called after out is closed, which happens after err is set.
			return err
		}, func() {
			stopped.Do(func() { close(quit) })
		}
}
