package cli

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrInvalidTopic marks a topic name Kafka would reject; it is checked
// before any request so the message can say exactly which rule failed.
var ErrInvalidTopic = errors.New("invalid topic name")

// maxTopicNameLen is Kafka's limit (249, so that partition directory names
// with a "-<partition>" suffix fit in 255 bytes).
const maxTopicNameLen = 249

// validateTopicName applies Kafka's topic name rules (Topic.validate):
// 1-249 characters from [a-zA-Z0-9._-], and not "." or "..".
func validateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w %q: \".\" and \"..\" are reserved", ErrInvalidTopic, name)
	case len(name) > maxTopicNameLen:
		return fmt.Errorf("%w %q: %d characters, the limit is %d", ErrInvalidTopic, name, len(name), maxTopicNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%w %q: %q is not allowed; use only letters, digits, '.', '_' and '-'", ErrInvalidTopic, name, r)
		}
	}
	return nil
}

// parseConfigs parses repeated key=value flags into CreateTopics configs.
func parseConfigs(kvs []string) (map[string]*string, error) {
	m := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%w: --config %q: want key=value, e.g. --config retention.ms=86400000", ErrUsage, kv)
		}
		m[strings.TrimSpace(k)] = kadm.StringPtr(v)
	}
	return m, nil
}

// kafkaErr formats a per-resource error with the broker's extra message.
func kafkaErr(err error, msg string) error {
	if msg != "" && !strings.Contains(err.Error(), msg) {
		return fmt.Errorf("%w (%s)", err, msg)
	}
	return err
}

// result is one line of a create/delete/alter report.
type result struct {
	Topic  string `json:"topic"`
	Status string `json:"status"`
}

func (a *app) topicsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create, list, describe, alter and delete topics (like kafka-topics)",
	}
	cmd.AddCommand(a.topicsCreateCmd(), a.topicsListCmd(), a.topicsDescribeCmd(), a.topicsDeleteCmd(), a.topicsAlterCmd())
	return cmd
}

func (a *app) topicsCreateCmd() *cobra.Command {
	var (
		partitions   int32
		replication  int16
		configs      []string
		ifNotExists  bool
		validateOnly bool
		output       string
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Long: `Create a topic. Without --partitions or --replication-factor the broker's
defaults (num.partitions, default.replication.factor) apply.`,
		Example: `  sluice topics create orders --partitions 6 --config retention.ms=86400000
  sluice topics create orders --if-not-exists`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			name := args[0]
			if err := validateTopicName(name); err != nil {
				return err
			}
			cfg, err := parseConfigs(configs)
			if err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdmin(cmd)
			if err != nil {
				return err
			}
			defer done()
			create := adm.CreateTopics
			if validateOnly {
				create = adm.ValidateCreateTopics
			}
			resps, err := create(ctx, partitions, replication, cfg, name)
			if err != nil {
				return a.explain(fmt.Errorf("creating topic %q: %w", name, err))
			}
			r, err := resps.On(name, nil)
			if err != nil {
				return fmt.Errorf("creating topic %q: no answer from the broker: %w", name, err)
			}
			status := "created"
			switch {
			case errors.Is(r.Err, kerr.TopicAlreadyExists) && ifNotExists:
				status = "exists"
			case errors.Is(r.Err, kerr.TopicAlreadyExists):
				return fmt.Errorf("topic %q already exists: pass --if-not-exists to accept that, or see it with `sluice topics describe %s`: %w", name, name, r.Err)
			case errors.Is(r.Err, kerr.InvalidReplicationFactor):
				return fmt.Errorf("creating topic %q: %w; pick a --replication-factor no larger than the number of brokers", name, kafkaErr(r.Err, r.ErrMessage))
			case r.Err != nil:
				return fmt.Errorf("creating topic %q: %w", name, kafkaErr(r.Err, r.ErrMessage))
			case validateOnly:
				status = "valid"
			}
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), result{Topic: name, Status: status})
			}
			switch status {
			case "exists":
				fmt.Fprintf(cmd.OutOrStdout(), "Topic %s already exists.\n", name)
			case "valid":
				fmt.Fprintf(cmd.OutOrStdout(), "Topic %s can be created (validated only, nothing created).\n", name)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "Created topic %s.\n", name)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: the broker's num.partitions)")
	f.Int16VarP(&replication, "replication-factor", "r", -1, "replicas per partition (-1: the broker's default.replication.factor)")
	f.StringArrayVarP(&configs, "config", "c", nil, "topic config key=value (repeatable), e.g. cleanup.policy=compact")
	f.BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the topic already exists")
	f.BoolVar(&validateOnly, "validate-only", false, "ask the broker to validate the request without creating anything")
	addOutputFlag(cmd, &output)
	return cmd
}

// topicInfo is the JSON shape of a listed or described topic.
type topicInfo struct {
	Topic             string          `json:"topic"`
	ID                string          `json:"id,omitempty"`
	Internal          bool            `json:"internal,omitempty"`
	Partitions        int             `json:"partitions"`
	ReplicationFactor int             `json:"replication_factor"`
	PartitionDetails  []partitionInfo `json:"partition_details,omitempty"`
	Configs           []configInfo    `json:"configs,omitempty"`
}

type partitionInfo struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	Offline     []int32 `json:"offline,omitempty"`
	Error       string  `json:"error,omitempty"`
}

type configInfo struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive,omitempty"`
	// Synonyms are the fallbacks in order of precedence; only
	// `configs describe -o json` fills them.
	Synonyms []configSynonym `json:"synonyms,omitempty"`
}

func (a *app) topicsListCmd() *cobra.Command {
	var (
		internal bool
		output   string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics with their partition count and replication factor",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdmin(cmd)
			if err != nil {
				return err
			}
			defer done()
			tds, err := adm.ListTopicsWithInternal(ctx)
			if err != nil {
				return a.explain(fmt.Errorf("listing topics: %w", err))
			}
			if !internal {
				tds.FilterInternal()
			}
			infos := make([]topicInfo, 0, len(tds))
			for _, td := range tds.Sorted() {
				infos = append(infos, topicInfo{
					Topic: td.Topic, Internal: td.IsInternal,
					Partitions: len(td.Partitions), ReplicationFactor: td.Partitions.NumReplicas(),
				})
			}
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), infos)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITIONS", "REPLICATION")
			for _, ti := range infos {
				name := ti.Topic
				if ti.Internal {
					name += " (internal)"
				}
				t.row(name, fmt.Sprint(ti.Partitions), fmt.Sprint(ti.ReplicationFactor))
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&internal, "internal", false, "include internal topics such as __consumer_offsets")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) topicsDescribeCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe [NAME...]",
		Short: "Show partitions (leader, replicas, ISR) and non-default configs of topics",
		Long: `Show each partition's leader, replicas and in-sync replicas, and every
config of the topic that is not the built-in default, with where it is set
(DYNAMIC_TOPIC_CONFIG is a per-topic override). Without names, describes
every non-internal topic.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdmin(cmd)
			if err != nil {
				return err
			}
			defer done()
			tds, err := adm.ListTopics(ctx, args...)
			if err != nil {
				return a.explain(fmt.Errorf("describing topics: %w", err))
			}
			for _, name := range args {
				if td, ok := tds[name]; !ok || td.Err != nil {
					var cause error = kerr.UnknownTopicOrPartition
					if ok {
						cause = td.Err
					}
					return fmt.Errorf("topic %q: %w; see the topics there are with `sluice topics list`", name, cause)
				}
			}
			names := tds.Names()
			var cfgs kadm.ResourceConfigs
			if len(names) > 0 {
				cfgs, err = adm.DescribeTopicConfigs(ctx, names...)
				if err != nil {
					return a.explain(fmt.Errorf("describing topic configs: %w", err))
				}
			}
			infos := make([]topicInfo, 0, len(names))
			for _, td := range tds.Sorted() {
				infos = append(infos, describeInfo(td, cfgs))
			}
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), infos)
			}
			w := cmd.OutOrStdout()
			for i, ti := range infos {
				if i > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\n", ti.Topic, ti.ID, ti.Partitions, ti.ReplicationFactor)
				if len(ti.Configs) > 0 {
					ct := newTable(w, "  CONFIG", "VALUE", "SOURCE")
					for _, c := range ti.Configs {
						ct.row("  "+c.Key, c.Value, c.Source)
					}
					if err := ct.flush(); err != nil {
						return err
					}
				}
				t := newTable(w, "  PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE")
				for _, p := range ti.PartitionDetails {
					off := joinInt32(p.Offline)
					if p.Error != "" {
						off += " error: " + p.Error
					}
					t.row("  "+fmt.Sprint(p.Partition), fmt.Sprint(p.Leader), joinInt32(p.Replicas), joinInt32(p.ISR), off)
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// describeInfo gathers one topic's partitions and its non-default configs
// (source other than DEFAULT_CONFIG, as kafka-topics --describe shows).
func describeInfo(td kadm.TopicDetail, cfgs kadm.ResourceConfigs) topicInfo {
	ti := topicInfo{
		Topic: td.Topic, Internal: td.IsInternal,
		Partitions: len(td.Partitions), ReplicationFactor: td.Partitions.NumReplicas(),
	}
	if td.ID != (kadm.TopicID{}) {
		// Kafka prints topic IDs as unpadded URL-safe base64.
		ti.ID = base64.RawURLEncoding.EncodeToString(td.ID[:])
	}
	for _, p := range td.Partitions.Sorted() {
		pi := partitionInfo{
			Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: p.Replicas, ISR: p.ISR, Offline: p.OfflineReplicas,
		}
		if p.Err != nil {
			pi.Error = p.Err.Error()
		}
		ti.PartitionDetails = append(ti.PartitionDetails, pi)
	}
	if rc, err := cfgs.On(td.Topic, nil); err == nil {
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDefaultConfig || c.Source == kmsg.ConfigSourceUnknown {
				continue
			}
			ti.Configs = append(ti.Configs, toConfigInfo(c, false))
		}
		slices.SortFunc(ti.Configs, func(x, y configInfo) int { return strings.Compare(x.Key, y.Key) })
	}
	return ti
}

func (a *app) topicsDeleteCmd() *cobra.Command {
	var (
		ifExists bool
		output   string
	)
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete topics and all their data",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdmin(cmd)
			if err != nil {
				return err
			}
			defer done()
			resps, err := adm.DeleteTopics(ctx, args...)
			if err != nil {
				return a.explain(fmt.Errorf("deleting topics: %w", err))
			}
			var (
				results []result
				errs    []error
			)
			for _, name := range args {
				r, ok := resps[name]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("deleting topic %q: no answer from the broker", name))
				case errors.Is(r.Err, kerr.UnknownTopicOrPartition) && ifExists:
					results = append(results, result{name, "absent"})
				case errors.Is(r.Err, kerr.UnknownTopicOrPartition):
					errs = append(errs, fmt.Errorf("topic %q does not exist (pass --if-exists to accept that): %w", name, r.Err))
				case r.Err != nil:
					errs = append(errs, fmt.Errorf("deleting topic %q: %w", name, kafkaErr(r.Err, r.ErrMessage)))
				default:
					results = append(results, result{name, "deleted"})
				}
			}
			if output == outputJSON {
				if err := writeJSON(cmd.OutOrStdout(), results); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					if r.Status == "deleted" {
						fmt.Fprintf(cmd.OutOrStdout(), "Deleted topic %s.\n", r.Topic)
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "Topic %s does not exist.\n", r.Topic)
					}
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed for topics that do not exist")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) topicsAlterCmd() *cobra.Command {
	var (
		partitions int32
		configs    []string
		deletes    []string
		output     string
	)
	cmd := &cobra.Command{
		Use:   "alter NAME",
		Short: "Add partitions to a topic or change its configs",
		Long: `Add partitions (--partitions is the new total; partitions can only be added)
or set and delete per-topic config overrides. Configs change with
IncrementalAlterConfigs; against brokers older than Kafka 2.3 the whole
override set is rewritten with AlterConfigs instead.`,
		Example: `  sluice topics alter orders --partitions 12
  sluice topics alter orders --config retention.ms=3600000 --delete-config cleanup.policy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			name := args[0]
			if partitions < 0 && len(configs) == 0 && len(deletes) == 0 {
				return fmt.Errorf("%w: nothing to alter: give --partitions, --config or --delete-config", ErrUsage)
			}
			sets, err := parseConfigs(configs)
			if err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdmin(cmd)
			if err != nil {
				return err
			}
			defer done()
			var results []result
			if partitions >= 0 {
				resps, err := adm.UpdatePartitions(ctx, int(partitions), name)
				if err != nil {
					return a.explain(fmt.Errorf("altering partitions of %q: %w", name, err))
				}
				r, err := resps.On(name, nil)
				switch {
				case err != nil:
					return fmt.Errorf("altering partitions of %q: no answer from the broker: %w", name, err)
				case errors.Is(r.Err, kerr.UnknownTopicOrPartition):
					return fmt.Errorf("topic %q does not exist; create it with `sluice topics create %s --partitions %d`: %w", name, name, partitions, r.Err)
				case errors.Is(r.Err, kerr.InvalidPartitions):
					return fmt.Errorf("altering partitions of %q to %d: %w; partitions can only be added, see the current count with `sluice topics describe %s`", name, partitions, kafkaErr(r.Err, r.ErrMessage), name)
				case r.Err != nil:
					return fmt.Errorf("altering partitions of %q: %w", name, kafkaErr(r.Err, r.ErrMessage))
				}
				results = append(results, result{name, fmt.Sprintf("partitions=%d", partitions)})
			}
			if len(sets) > 0 || len(deletes) > 0 {
				note, err := alterConfigs(ctx, adm, topicEntity(name), sets, deletes)
				if err != nil {
					return a.explain(err)
				}
				if note != "" {
					fmt.Fprintln(cmd.ErrOrStderr(), note)
				}
				results = append(results, result{name, "configs altered"})
			}
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), results)
			}
			for _, r := range results {
				fmt.Fprintf(cmd.OutOrStdout(), "Altered topic %s: %s.\n", r.Topic, r.Status)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", -1, "new total number of partitions (can only grow)")
	f.StringArrayVarP(&configs, "config", "c", nil, "set a topic config key=value (repeatable)")
	f.StringArrayVar(&deletes, "delete-config", nil, "remove a topic config override, back to the broker default (repeatable)")
	addOutputFlag(cmd, &output)
	return cmd
}
