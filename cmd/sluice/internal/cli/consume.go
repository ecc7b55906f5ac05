package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeOpts struct {
	topic         string
	fromBeginning bool
	offset        string
	partitions    []int32
	group         string
	maxMessages   int64
	timeout       time.Duration
	isolation     string
	format        string
}

func (a *app) consumeCmd() *cobra.Command {
	var o consumeOpts
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records of a topic (like kafka-console-consumer)",
		Long: `Print the records of a topic, one --format template per record, until
--max-messages are printed, nothing arrives for --timeout, or Ctrl-C.

Without --group it reads every partition (or --partition ones) from the end,
or from the start with --from-beginning, or from --offset. With --group it
joins the consumer group, starts where the group left off, and commits the
offsets of the records it printed when it exits.

--format verbs: %k key, %v value, %h headers (k=v,k=v), %o offset,
%t timestamp (ms), %p partition, %T topic, %% a percent sign; escapes \n \t.`,
		Example: `  sluice consume orders --from-beginning
  sluice consume orders --partition 0 --offset 42 --max-messages 10
  sluice consume orders --group audit --format '%p:%o %k=%v\n'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.topic = args[0]
			return a.runConsume(cmd, &o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.fromBeginning, "from-beginning", false, "start at the earliest offset (with --group: only when the group has no committed offset)")
	f.StringVar(&o.offset, "offset", "", "start offset: a number, earliest or latest (not with --group)")
	f.Int32SliceVarP(&o.partitions, "partition", "p", nil, "read only these partitions (repeatable or comma list; not with --group)")
	f.StringVarP(&o.group, "group", "g", "", "consumer group to join; offsets of printed records are committed")
	f.Int64VarP(&o.maxMessages, "max-messages", "n", 0, "exit after printing this many records (0: no limit)")
	f.DurationVar(&o.timeout, "timeout", 0, "exit when no record arrives for this long, e.g. 5s (0: wait forever)")
	f.StringVar(&o.isolation, "isolation", "read_uncommitted", "read_committed hides aborted and open transactions; read_uncommitted shows everything")
	f.StringVar(&o.format, "format", `%v\n`, "output template per record (see above)")
	return cmd
}

// consumeStart resolves --from-beginning/--offset to a start offset and
// whether it is an exact offset (which needs explicit partitions).
func (o *consumeOpts) start() (kgo.Offset, bool, error) {
	start := kgo.NewOffset().AtEnd()
	if o.fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	switch strings.ToLower(o.offset) {
	case "":
		return start, false, nil
	case "earliest", "beginning":
		return kgo.NewOffset().AtStart(), false, nil
	case "latest", "end":
		return kgo.NewOffset().AtEnd(), false, nil
	}
	n, err := strconv.ParseInt(o.offset, 10, 64)
	if err != nil || n < 0 {
		return start, false, fmt.Errorf("%w: --offset %q: use a non-negative number, earliest or latest", ErrUsage, o.offset)
	}
	return kgo.NewOffset().At(n), true, nil
}

func (a *app) runConsume(cmd *cobra.Command, o *consumeOpts) error {
	if err := validateTopicName(o.topic); err != nil {
		return err
	}
	tmpl, err := compileFormat(o.format)
	if err != nil {
		return err
	}
	start, exact, err := o.start()
	if err != nil {
		return err
	}
	switch {
	case o.offset != "" && o.fromBeginning:
		return fmt.Errorf("%w: --offset and --from-beginning both pick the start; give one", ErrUsage)
	case o.group != "" && o.offset != "":
		return fmt.Errorf("%w: --offset cannot be used with --group, which starts at the group's committed offsets; reset them or drop --group", ErrUsage)
	case o.group != "" && len(o.partitions) > 0:
		return fmt.Errorf("%w: --partition cannot be used with --group, whose members are assigned partitions by the group; drop one of them", ErrUsage)
	case o.maxMessages < 0:
		return fmt.Errorf("%w: --max-messages must be 0 or more", ErrUsage)
	}
	var isolation kgo.IsolationLevel
	switch o.isolation {
	case "read_uncommitted":
		isolation = kgo.ReadUncommitted()
	case "read_committed":
		isolation = kgo.ReadCommitted()
	default:
		return fmt.Errorf("%w: --isolation %q: use read_committed or read_uncommitted", ErrUsage, o.isolation)
	}

	ctx := cmdContext(cmd)
	parts, err := a.checkTopic(cmd, o.topic, o.partitions)
	if err != nil {
		return err
	}
	opts := []kgo.Opt{kgo.FetchIsolationLevel(isolation)}
	switch {
	case o.group != "":
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.ConsumeTopics(o.topic),
			kgo.ConsumeResetOffset(start), kgo.AutoCommitMarks())
	case len(o.partitions) > 0 || exact:
		if len(o.partitions) == 0 {
			o.partitions = parts
		}
		m := make(map[int32]kgo.Offset, len(o.partitions))
		for _, p := range o.partitions {
			m[p] = start
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.topic: m}))
	default:
		opts = append(opts, kgo.ConsumeTopics(o.topic), kgo.ConsumeResetOffset(start))
	}
	cl, err := a.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	out := cmd.OutOrStdout()
	var (
		count  int64
		buf    []byte
		runErr error
	)
poll:
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if o.timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, o.timeout)
		}
		max := 0
		if o.maxMessages > 0 {
			max = int(o.maxMessages - count)
		}
		fs := cl.PollRecords(pctx, max)
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			break
		}
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				break poll // idle for --timeout
			}
			runErr = a.explain(fmt.Errorf("consuming %s partition %d: %w", fe.Topic, fe.Partition, fe.Err))
			break poll
		}
		buf = buf[:0]
		var printed []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			if o.maxMessages > 0 && count >= o.maxMessages {
				return
			}
			buf = tmpl.appendRecord(buf, r)
			printed = append(printed, r)
			count++
		})
		if _, err := out.Write(buf); err != nil {
			runErr = fmt.Errorf("writing output: %w", err)
			break
		}
		if o.group != "" {
			cl.MarkCommitRecords(printed...)
		}
		if o.maxMessages > 0 && count >= o.maxMessages {
			break
		}
	}
	if o.group != "" {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		if err := cl.CommitMarkedOffsets(cctx); err != nil && runErr == nil {
			runErr = fmt.Errorf("committing offsets of group %q: %w", o.group, err)
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Processed a total of %d messages.\n", count)
	return runErr
}

// checkTopic makes sure the topic and requested partitions exist, so a
// typo fails at once instead of waiting for records that never come. It
// returns all partitions of the topic.
func (a *app) checkTopic(cmd *cobra.Command, topic string, want []int32) ([]int32, error) {
	adm, ctx, done, err := a.openAdmin(cmd)
	if err != nil {
		return nil, err
	}
	defer done()
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, a.explain(fmt.Errorf("looking up topic %q: %w", topic, err))
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("topic %q does not exist; see the topics there are with `sluice topics list`, or create it with `sluice topics create %s`: %w", topic, topic, kerr.UnknownTopicOrPartition)
	}
	if td.Err != nil {
		return nil, fmt.Errorf("looking up topic %q: %w", topic, td.Err)
	}
	all := td.Partitions.Numbers()
	for _, p := range want {
		if _, ok := td.Partitions[p]; !ok {
			return nil, fmt.Errorf("%w: topic %q has partitions 0-%d, not %d", ErrUsage, topic, len(all)-1, p)
		}
	}
	return all, nil
}
