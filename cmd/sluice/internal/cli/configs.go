package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka API keys of the two config-altering requests.
const (
	alterConfigsKey            = 33
	incrementalAlterConfigsKey = 44
)

// Sentinel errors of the configs commands.
var (
	// ErrUnsupported marks a request the cluster does not implement.
	ErrUnsupported = errors.New("not supported by the cluster")
	// ErrUnknownBroker marks a --broker ID that is not in the cluster.
	ErrUnknownBroker = errors.New("unknown broker")
)

// configEntity is what a configs command reads or changes: a topic, one
// broker, or the cluster-wide broker defaults (Kafka's broker resource with
// the empty name, kafka-configs --entity-default).
type configEntity struct {
	kind kmsg.ConfigResourceType
	name string // topic name, broker ID, or "" for the broker defaults
}

func topicEntity(name string) configEntity {
	return configEntity{kind: kmsg.ConfigResourceTypeTopic, name: name}
}

func (e configEntity) isDefaults() bool {
	return e.kind == kmsg.ConfigResourceTypeBroker && e.name == ""
}

// String names the entity in messages: "topic orders", "broker 1" or
// "the broker defaults".
func (e configEntity) String() string {
	switch {
	case e.kind == kmsg.ConfigResourceTypeTopic:
		return "topic " + e.name
	case e.isDefaults():
		return "the broker defaults"
	default:
		return "broker " + e.name
	}
}

// brokerIDs returns the broker IDs kadm's broker config calls take: none
// for the defaults, which kadm sends as the empty resource name.
func (e configEntity) brokerIDs() []int32 {
	if e.isDefaults() {
		return nil
	}
	id, _ := strconv.ParseInt(e.name, 10, 32) // checked by entityFlags.entity
	return []int32{int32(id)}
}

// ownSource says whether a config with this source is set on the entity
// itself, which is what kafka-configs --describe shows without --all. For
// the defaults a DYNAMIC_BROKER_CONFIG answer counts too: some brokers
// (franz-go's kfake) report cluster-wide values with that source.
func (e configEntity) ownSource(src kmsg.ConfigSource) bool {
	switch {
	case e.kind == kmsg.ConfigResourceTypeTopic:
		return src == kmsg.ConfigSourceDynamicTopicConfig
	case e.isDefaults():
		return src == kmsg.ConfigSourceDynamicDefaultBrokerConfig || src == kmsg.ConfigSourceDynamicBrokerConfig
	default:
		return src == kmsg.ConfigSourceDynamicBrokerConfig || src == kmsg.ConfigSourceDynamicBrokerLoggerConfig
	}
}

// entityFlags are the --topic, --broker and --broker-defaults flags that
// pick the entity of a configs command; exactly one must be given.
type entityFlags struct {
	topic, broker string
	defaults      bool
}

func (f *entityFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.topic, "topic", "", "the topic whose configs to use")
	fs.StringVar(&f.broker, "broker", "", "the broker (by node ID) whose configs to use")
	fs.BoolVar(&f.defaults, "broker-defaults", false, "the cluster-wide dynamic defaults of every broker")
}

func (f *entityFlags) entity() (configEntity, error) {
	n := 0
	for _, set := range []bool{f.topic != "", f.broker != "", f.defaults} {
		if set {
			n++
		}
	}
	if n != 1 {
		return configEntity{}, fmt.Errorf("%w: name exactly one of --topic NAME, --broker ID or --broker-defaults", ErrUsage)
	}
	switch {
	case f.topic != "":
		if err := validateTopicName(f.topic); err != nil {
			return configEntity{}, err
		}
		return topicEntity(f.topic), nil
	case f.broker != "":
		if id, err := strconv.ParseInt(f.broker, 10, 32); err != nil || id < 0 {
			return configEntity{}, fmt.Errorf("%w: --broker %q: want a broker node ID such as 1; see them with `sluice topics describe` (LEADER, REPLICAS)", ErrUsage, f.broker)
		}
		return configEntity{kind: kmsg.ConfigResourceTypeBroker, name: f.broker}, nil
	default:
		return configEntity{kind: kmsg.ConfigResourceTypeBroker}, nil
	}
}

// checkBroker fails with ErrUnknownBroker, listing the cluster's brokers,
// when e is a broker that is not in the cluster; kgo would otherwise fail
// with a less helpful error about the request's destination.
func (a *app) checkBroker(ctx context.Context, adm *kadm.Client, e configEntity) error {
	if e.kind != kmsg.ConfigResourceTypeBroker || e.isDefaults() {
		return nil
	}
	bs, err := adm.ListBrokers(ctx)
	if err != nil {
		return a.explain(fmt.Errorf("listing brokers: %w", err))
	}
	id := e.brokerIDs()[0]
	ids := make([]int32, 0, len(bs))
	for _, b := range bs {
		if b.NodeID == id {
			return nil
		}
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return fmt.Errorf("%w %d: the cluster's brokers are %s", ErrUnknownBroker, id, joinInt32(ids))
}

// configSynonym is one fallback of a config, in order of precedence.
type configSynonym struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// toConfigInfo turns a described config into its printed form; sensitive
// values, which brokers never send, print as "(sensitive)".
func toConfigInfo(c kadm.Config, synonyms bool) configInfo {
	v := c.MaybeValue()
	if c.Sensitive {
		v = "(sensitive)"
	}
	ci := configInfo{Key: c.Key, Value: v, Source: c.Source.String(), Sensitive: c.Sensitive}
	if synonyms {
		for _, s := range c.Synonyms {
			sv := ""
			if s.Value != nil {
				sv = *s.Value
			}
			ci.Synonyms = append(ci.Synonyms, configSynonym{Key: s.Key, Value: sv, Source: s.Source.String()})
		}
	}
	return ci
}

// describeConfigs reads the configs of e, turning per-resource errors
// into ones that say what to do.
func describeConfigs(ctx context.Context, adm *kadm.Client, e configEntity) (kadm.ResourceConfig, error) {
	var (
		rcs kadm.ResourceConfigs
		err error
	)
	if e.kind == kmsg.ConfigResourceTypeTopic {
		rcs, err = adm.DescribeTopicConfigs(ctx, e.name)
	} else {
		rcs, err = adm.DescribeBrokerConfigs(ctx, e.brokerIDs()...)
	}
	if err != nil {
		return kadm.ResourceConfig{}, fmt.Errorf("describing configs of %s: %w", e, err)
	}
	rc, err := rcs.On(e.name, nil)
	switch {
	case err != nil:
		return rc, fmt.Errorf("describing configs of %s: no answer from the broker: %w", e, err)
	case errors.Is(rc.Err, kerr.UnknownTopicOrPartition):
		return rc, fmt.Errorf("topic %q does not exist; see the topics there are with `sluice topics list`: %w", e.name, rc.Err)
	case rc.Err != nil:
		return rc, fmt.Errorf("describing configs of %s: %w", e, kafkaErr(rc.Err, rc.ErrMessage))
	}
	return rc, nil
}

// entityConfigs is the JSON shape of `configs describe`.
type entityConfigs struct {
	Type    string       `json:"type"`
	Name    string       `json:"name"`
	Configs []configInfo `json:"configs"`
}

// entityResult is the JSON shape of `configs alter`.
type entityResult struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

func (a *app) configsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "configs",
		Short: "Describe and alter topic and broker configs (like kafka-configs)",
	}
	cmd.AddCommand(a.configsDescribeCmd(), a.configsAlterCmd())
	return cmd
}

func (a *app) configsDescribeCmd() *cobra.Command {
	var (
		ent    entityFlags
		all    bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "describe (--topic NAME | --broker ID | --broker-defaults)",
		Short: "Show the configs set on a topic, a broker or the broker defaults",
		Long: `Show configs with their value and source. Without --all only the configs set
on the entity itself are shown, as kafka-configs --describe does:
DYNAMIC_TOPIC_CONFIG for a topic, DYNAMIC_BROKER_CONFIG for a broker,
DYNAMIC_DEFAULT_BROKER_CONFIG for the broker defaults. --all adds every
config in effect with where it comes from (STATIC_BROKER_CONFIG is the
broker's properties file, DEFAULT_CONFIG the built-in default).
Sensitive values are never sent by brokers and print as (sensitive).`,
		Example: `  sluice configs describe --topic orders
  sluice configs describe --broker 1 --all
  sluice configs describe --broker-defaults`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			e, err := ent.entity()
			if err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdmin(cmd)
			if err != nil {
				return err
			}
			defer done()
			if err := a.checkBroker(ctx, adm, e); err != nil {
				return err
			}
			rc, err := describeConfigs(ctx, adm, e)
			if err != nil {
				return a.explain(err)
			}
			out := entityConfigs{Type: e.kind.String(), Name: e.name, Configs: []configInfo{}}
			for _, c := range rc.Configs {
				if all || e.ownSource(c.Source) {
					out.Configs = append(out.Configs, toConfigInfo(c, output == outputJSON))
				}
			}
			slices.SortFunc(out.Configs, func(x, y configInfo) int { return strings.Compare(x.Key, y.Key) })
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			if len(out.Configs) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "No configs are set on %s; pass --all to see every config in effect.\n", e)
				return nil
			}
			t := newTable(cmd.OutOrStdout(), "CONFIG", "VALUE", "SOURCE", "SENSITIVE")
			for _, c := range out.Configs {
				t.row(c.Key, c.Value, c.Source, strconv.FormatBool(c.Sensitive))
			}
			return t.flush()
		},
	}
	ent.add(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "show every config in effect, defaults included")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) configsAlterCmd() *cobra.Command {
	var (
		ent     entityFlags
		adds    []string
		deletes []string
		output  string
	)
	cmd := &cobra.Command{
		Use:   "alter (--topic NAME | --broker ID | --broker-defaults) [--add-config k=v,...] [--delete-config k,...]",
		Short: "Set or remove configs of a topic, a broker or the broker defaults",
		Long: `Set configs with --add-config and remove them (back to the next default in
line) with --delete-config, as kafka-configs --alter does. Both take
comma-separated lists and may be repeated; a value that itself holds
commas goes in brackets: --add-config 'cleanup.policy=[compact,delete]'.
The change is made with IncrementalAlterConfigs, so configs not named keep
their values.`,
		Example: `  sluice configs alter --topic orders --add-config retention.ms=86400000,cleanup.policy=[compact,delete]
  sluice configs alter --topic orders --delete-config retention.ms
  sluice configs alter --broker-defaults --add-config log.retention.ms=3600000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			e, err := ent.entity()
			if err != nil {
				return err
			}
			sets, dels, err := parseAlterFlags(adds, deletes)
			if err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdmin(cmd)
			if err != nil {
				return err
			}
			defer done()
			if err := a.checkBroker(ctx, adm, e); err != nil {
				return err
			}
			note, err := alterConfigs(ctx, adm, e, sets, dels)
			if err != nil {
				return a.explain(err)
			}
			if note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), note)
			}
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), entityResult{Type: e.kind.String(), Name: e.name, Status: "altered"})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Completed updating config for %s.\n", e)
			return nil
		},
	}
	ent.add(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&adds, "add-config", nil, "configs to set: k=v[,k=v...]; bracket values with commas: k=[a,b] (repeatable)")
	f.StringArrayVar(&deletes, "delete-config", nil, "configs to remove: k[,k...] (repeatable)")
	addOutputFlag(cmd, &output)
	return cmd
}

// parseAlterFlags parses --add-config and --delete-config values and
// rejects an empty change and a key both set and deleted.
func parseAlterFlags(adds, deletes []string) (map[string]*string, []string, error) {
	sets := map[string]*string{}
	for _, a := range adds {
		m, err := parseConfigList(a)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range m {
			sets[k] = v
		}
	}
	var dels []string
	for _, d := range deletes {
		for _, k := range strings.Split(d, ",") {
			k = strings.TrimSpace(k)
			if k == "" {
				return nil, nil, fmt.Errorf("%w: --delete-config %q: want k[,k...], e.g. --delete-config retention.ms", ErrUsage, d)
			}
			if _, ok := sets[k]; ok {
				return nil, nil, fmt.Errorf("%w: config %q is both in --add-config and --delete-config", ErrUsage, k)
			}
			dels = append(dels, k)
		}
	}
	if len(sets) == 0 && len(dels) == 0 {
		return nil, nil, fmt.Errorf("%w: nothing to alter: give --add-config k=v or --delete-config k", ErrUsage)
	}
	return sets, dels, nil
}

// parseConfigList parses kafka-configs' k=v[,k=v] syntax, where a value in
// square brackets may hold commas and is passed on without the brackets:
// "cleanup.policy=[compact,delete],retention.ms=1" sets cleanup.policy to
// "compact,delete".
func parseConfigList(s string) (map[string]*string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: --add-config %q: %s; want k=v[,k=v...], with k=[a,b] for a list value", ErrUsage, s, why)
	}
	var items []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			if depth--; depth < 0 {
				return nil, bad("unbalanced ]")
			}
		case ',':
			if depth == 0 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, bad("unclosed [")
	}
	items = append(items, s[start:])
	m := make(map[string]*string, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, bad(fmt.Sprintf("%q has no key=value", it))
		}
		if len(v) >= 2 && v[0] == '[' && v[len(v)-1] == ']' {
			v = v[1 : len(v)-1]
		}
		m[k] = kadm.StringPtr(v)
	}
	return m, nil
}

// alterConfigs sets and deletes configs of e. It uses
// IncrementalAlterConfigs when the broker has it. For a topic on a broker
// without it (Kafka < 2.3) it reads the current overrides and writes the
// merged set with the older AlterConfigs, which replaces all overrides at
// once, and returns a note saying so; brokers are not altered that way
// because the rewrite would erase sensitive values, which are never read
// back.
func alterConfigs(ctx context.Context, adm *kadm.Client, e configEntity, sets map[string]*string, deletes []string) (string, error) {
	incremental, legacy := true, true
	if vs, err := adm.ApiVersions(ctx); err == nil {
		for _, v := range vs.Sorted() {
			if v.Err != nil {
				continue
			}
			if _, ok := v.KeyMaxVersion(incrementalAlterConfigsKey); !ok {
				incremental = false
			}
			if _, ok := v.KeyMaxVersion(alterConfigsKey); !ok {
				legacy = false
			}
		}
	}
	isTopic := e.kind == kmsg.ConfigResourceTypeTopic
	if !incremental && (!legacy || !isTopic) {
		hint := "set configs in the brokers' properties files instead"
		if isTopic {
			hint = fmt.Sprintf("set configs when creating the topic (`sluice topics create %s --config k=v`)", e.name)
		}
		return "", fmt.Errorf("altering configs of %s: IncrementalAlterConfigs is %w; %s: %w", e, ErrUnsupported, hint, kerr.UnsupportedVersion)
	}
	var (
		alters []kadm.AlterConfig
		resps  kadm.AlterConfigsResponses
		err    error
		note   string
	)
	switch {
	case incremental:
		for k, v := range sets {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
		}
		for _, k := range deletes {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
		if isTopic {
			resps, err = adm.AlterTopicConfigs(ctx, alters, e.name)
		} else {
			resps, err = adm.AlterBrokerConfigs(ctx, alters, e.brokerIDs()...)
		}
	default:
		note = "note: the broker does not support IncrementalAlterConfigs (Kafka < 2.3); rewrote all overrides of " + e.name + " with AlterConfigs, which races with concurrent config changes"
		rc, derr := describeConfigs(ctx, adm, e)
		if derr != nil {
			return "", derr
		}
		merged := map[string]*string{}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				merged[c.Key] = c.Value
			}
		}
		for k, v := range sets {
			merged[k] = v
		}
		for _, k := range deletes {
			delete(merged, k)
		}
		for k, v := range merged {
			alters = append(alters, kadm.AlterConfig{Name: k, Value: v})
		}
		resps, err = adm.AlterTopicConfigsState(ctx, alters, e.name)
	}
	if err != nil {
		return "", fmt.Errorf("altering configs of %s: %w", e, err)
	}
	r, err := resps.On(e.name, nil)
	switch {
	case err != nil:
		return "", fmt.Errorf("altering configs of %s: no answer from the broker: %w", e, err)
	case errors.Is(r.Err, kerr.UnknownTopicOrPartition):
		return "", fmt.Errorf("topic %q does not exist; see the topics there are with `sluice topics list`: %w", e.name, r.Err)
	case errors.Is(r.Err, kerr.InvalidConfig), errors.Is(r.Err, kerr.InvalidRequest):
		return "", fmt.Errorf("altering configs of %s: %w; check the names and values against `sluice configs describe --%s --all`", e, kafkaErr(r.Err, r.ErrMessage), e.flag())
	case r.Err != nil:
		return "", fmt.Errorf("altering configs of %s: %w", e, kafkaErr(r.Err, r.ErrMessage))
	}
	return note, nil
}

// flag renders the entity as the flags that select it, for hints.
func (e configEntity) flag() string {
	switch {
	case e.kind == kmsg.ConfigResourceTypeTopic:
		return "topic " + e.name
	case e.isDefaults():
		return "broker-defaults"
	default:
		return "broker " + e.name
	}
}
