package cli

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrUnknownTransactionalID marks a transactional id the cluster does not
// know (TRANSACTIONAL_ID_NOT_FOUND).
var ErrUnknownTransactionalID = errors.New("no such transactional id")

// txnStates are Kafka's transaction states, canonically spelled; --state
// matches them case-insensitively as kafka-transactions does.
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

func (a *app) transactionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "transactions",
		Aliases: []string{"txns"},
		Short:   "List and describe transactional producers (like kafka-transactions)",
	}
	cmd.AddCommand(a.transactionsListCmd(), a.transactionsDescribeCmd())
	return cmd
}

// listedTxn is the JSON shape of `transactions list`.
type listedTxn struct {
	TransactionalID string `json:"transactional_id"`
	Coordinator     int32  `json:"coordinator"`
	ProducerID      int64  `json:"producer_id"`
	State           string `json:"state"`
}

func (a *app) transactionsListCmd() *cobra.Command {
	var (
		states []string
		pids   []int64
		output string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List transactional ids with their producer id and state",
		Example: `  sluice transactions list
  sluice transactions list --state Ongoing --producer-id 1000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var want []string
			for _, v := range states {
				for _, s := range splitList(v) {
					i := slices.IndexFunc(txnStates, func(t string) bool { return strings.EqualFold(t, s) })
					if i < 0 {
						return fmt.Errorf("%w: --state %q: use one of %s", ErrUsage, s, strings.Join(txnStates, ", "))
					}
					want = append(want, txnStates[i])
				}
			}
			adm, ctx, done, err := a.openAdminFor(cmd, kmsg.ListTransactions)
			if err != nil {
				return err
			}
			defer done()
			ls, err := adm.ListTransactions(ctx, pids, want)
			if err != nil {
				return a.explain(fmt.Errorf("listing transactions: %w", err))
			}
			infos := []listedTxn{}
			for _, l := range ls.Sorted() {
				infos = append(infos, listedTxn{TransactionalID: l.TxnID, Coordinator: l.Coordinator, ProducerID: l.ProducerID, State: l.State})
			}
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), infos)
			}
			t := newTable(cmd.OutOrStdout(), "TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE")
			for _, l := range infos {
				t.row(l.TransactionalID, strconv.Itoa(int(l.Coordinator)), strconv.FormatInt(l.ProducerID, 10), l.State)
			}
			return t.flush()
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only transactions in these states (comma-separated or repeated): "+strings.Join(txnStates, ", "))
	cmd.Flags().Int64SliceVar(&pids, "producer-id", nil, "only transactions of these producer ids")
	addOutputFlag(cmd, &output)
	return cmd
}

// describedTxn is the JSON shape of `transactions describe`.
type describedTxn struct {
	TransactionalID string           `json:"transactional_id"`
	Coordinator     int32            `json:"coordinator"`
	State           string           `json:"state"`
	ProducerID      int64            `json:"producer_id"`
	ProducerEpoch   int16            `json:"producer_epoch"`
	TimeoutMs       int32            `json:"timeout_ms"`
	Start           *time.Time       `json:"start,omitempty"`
	Partitions      map[string][]int `json:"partitions"`
}

func (a *app) transactionsDescribeCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe TRANSACTIONAL-ID...",
		Short: "Describe transactional ids: state, producer id and epoch, timeout, start and partitions of the ongoing transaction",
		Example: `  sluice transactions describe orders-etl
  sluice transactions describe orders-etl -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdminFor(cmd, kmsg.DescribeTransactions)
			if err != nil {
				return err
			}
			defer done()
			ds, err := adm.DescribeTransactions(ctx, ids...)
			if err != nil {
				return a.explain(fmt.Errorf("describing transactions: %w", err))
			}
			var out []describedTxn
			for _, id := range ids {
				d, ok := ds[id]
				if !ok || errors.Is(d.Err, kerr.TransactionalIDNotFound) {
					return fmt.Errorf("%w: %s", ErrUnknownTransactionalID, id)
				}
				if d.Err != nil {
					return a.explain(fmt.Errorf("describing %s: %w", id, d.Err))
				}
				dt := describedTxn{TransactionalID: id, Coordinator: d.Coordinator, State: d.State, ProducerID: d.ProducerID,
					ProducerEpoch: d.ProducerEpoch, TimeoutMs: d.TimeoutMillis, Partitions: map[string][]int{}}
				if d.StartTimestamp >= 0 {
					st := time.UnixMilli(d.StartTimestamp).UTC()
					dt.Start = &st
				}
				for topic, ps := range d.Topics {
					for p := range ps {
						dt.Partitions[topic] = append(dt.Partitions[topic], int(p))
					}
					slices.Sort(dt.Partitions[topic])
				}
				out = append(out, dt)
			}
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			t := newTable(cmd.OutOrStdout(), "TRANSACTIONAL-ID", "COORDINATOR", "STATE", "PRODUCER-ID", "EPOCH", "TIMEOUT-MS", "START", "PARTITIONS")
			for _, d := range out {
				start := "-"
				if d.Start != nil {
					start = d.Start.Format(time.RFC3339)
				}
				var parts []string
				topics := make([]string, 0, len(d.Partitions))
				for topic := range d.Partitions {
					topics = append(topics, topic)
				}
				slices.Sort(topics)
				for _, topic := range topics {
					for _, p := range d.Partitions[topic] {
						parts = append(parts, fmt.Sprintf("%s-%d", topic, p))
					}
				}
				t.row(d.TransactionalID, strconv.Itoa(int(d.Coordinator)), d.State, strconv.FormatInt(d.ProducerID, 10),
					strconv.Itoa(int(d.ProducerEpoch)), strconv.Itoa(int(d.TimeoutMs)), start, orDash(strings.Join(parts, ",")))
			}
			return t.flush()
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
