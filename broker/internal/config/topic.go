package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Topic is the effective configuration of one topic: each value is the
// topic's override if it has one, else the broker's synonym setting, else
// the default.
type Topic struct {
	CleanupPolicy          []string // "delete", "compact" or both
	RetentionMs            int64    // -1 = keep forever
	RetentionBytes         int64    // -1 = no size limit
	SegmentBytes           int64
	SegmentMs              int64
	SegmentJitterMs        int64
	SegmentIndexBytes      int64
	IndexIntervalBytes     int64
	MaxMessageBytes        int32
	TimestampType          string // "CreateTime" or "LogAppendTime"
	TimestampBeforeMaxMs   int64  // already folded with the deprecated difference.max.ms
	TimestampAfterMaxMs    int64
	MinInsyncReplicas      int
	FlushMessages          int64 // math.MaxInt64 = never force an fsync
	FlushMs                int64 // math.MaxInt64 = never force an fsync
	DeleteRetentionMs      int64
	MinCleanableDirtyRatio float64
	MinCompactionLagMs     int64
	MaxCompactionLagMs     int64
	CompressionType        string // "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"
	CompressionGzipLevel   int
	CompressionLz4Level    int
	CompressionZstdLevel   int
	UncleanLeaderElection  bool
	FileDeleteDelayMs      int64
	Preallocate            bool
	DownconversionEnable   bool
}

// ValidateTopicConfigs checks topic overrides as CreateTopics and
// AlterConfigs receive them. Each unknown key or bad value is a
// [*KeyError] naming the key and the value that also matches
// kerr.InvalidConfig; several are joined with errors.Join.
func ValidateTopicConfigs(overrides map[string]string) error {
	_, err := parseTopicOverrides(overrides)
	return err
}

func parseTopicOverrides(overrides map[string]string) (map[string]any, error) {
	t := defs()
	out := make(map[string]any, len(overrides))
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		d, ok := t.byTopic[k]
		if !ok {
			errs = append(errs, &KeyError{Key: k, Kind: ErrUnknownKey, Suggest: suggest(k, func(yield func(string) bool) {
				for _, d := range t.topic {
					if !yield(d.Name) {
						return
					}
				}
			})})
			continue
		}
		v, err := d.parse(overrides[k])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[k] = v
	}
	if lo, ok := out["min.compaction.lag.ms"].(int64); ok {
		if hi, ok := out["max.compaction.lag.ms"].(int64); ok && lo > hi {
			errs = append(errs, &KeyError{Key: "min.compaction.lag.ms", Value: overrides["min.compaction.lag.ms"],
				Expected: fmt.Sprintf("it exceeds max.compaction.lag.ms=%d", hi), Kind: ErrConflict})
		}
	}
	for _, e := range errs {
		e.(*KeyError).kafka = errInvalidConfig
	}
	return out, errors.Join(errs...)
}

// topicValue returns the effective value of topic key d and where it came
// from: the override, else the first broker synonym that is set (scaled to
// the topic's unit), else the first synonym default, else d's own default.
func (b *Broker) topicValue(d *Def, over map[string]any) (any, Source) {
	if v, ok := over[d.Name]; ok {
		return v, SourceDynamicTopicConfig
	}
	for i, s := range d.Synonyms {
		if _, set := b.eff[s]; set {
			return scale(b.vals[s], d.scales[i]), b.sourceOf(s)
		}
	}
	for i, s := range d.Synonyms {
		if v := b.vals[s]; v != nil {
			return scale(v, d.scales[i]), SourceDefaultConfig
		}
	}
	v, _ := d.parse(d.Default)
	return v, SourceDefaultConfig
}

// scale converts a broker synonym to the topic key's unit; negative
// durations mean "unlimited" and stay -1, as Kafka's retention rules say.
func scale(v any, f int64) any {
	if f == 1 {
		return v
	}
	var n int64
	switch v := v.(type) {
	case int32:
		n = int64(v)
	case int64:
		n = v
	default:
		return v
	}
	if n < 0 {
		return int64(-1)
	}
	if n > math.MaxInt64/f {
		return int64(math.MaxInt64)
	}
	return n * f
}

func (b *Broker) sourceOf(k string) Source {
	switch {
	case has(b.dynBroker, k):
		return SourceDynamicBrokerConfig
	case has(b.dynDefault, k):
		return SourceDynamicDefaultBrokerConfig
	case has(b.static, k):
		return SourceStaticBrokerConfig
	}
	return SourceDefaultConfig
}

func has(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// Topic returns the effective config of a topic with the given overrides.
// A bad override is an error that matches kerr.InvalidConfig.
func (b *Broker) Topic(overrides map[string]string) (Topic, error) {
	over, err := parseTopicOverrides(overrides)
	if err != nil {
		return Topic{}, err
	}
	t := defs()
	get := func(k string) any {
		v, _ := b.topicValue(t.byTopic[k], over)
		return v
	}
	i64 := func(k string) int64 {
		switch v := get(k).(type) {
		case int32:
			return int64(v)
		case int64:
			return v
		}
		return 0
	}
	str := func(k string) string { s, _ := get(k).(string); return s }
	flag := func(k string) bool { v, _ := get(k).(bool); return v }
	policy, _ := get("cleanup.policy").([]string)
	ratio, _ := get("min.cleanable.dirty.ratio").(float64)
	tc := Topic{
		CleanupPolicy:          slices.Clone(policy),
		RetentionMs:            i64("retention.ms"),
		RetentionBytes:         i64("retention.bytes"),
		SegmentBytes:           i64("segment.bytes"),
		SegmentMs:              i64("segment.ms"),
		SegmentJitterMs:        i64("segment.jitter.ms"),
		SegmentIndexBytes:      i64("segment.index.bytes"),
		IndexIntervalBytes:     i64("index.interval.bytes"),
		MaxMessageBytes:        int32(i64("max.message.bytes")),
		TimestampType:          str("message.timestamp.type"),
		TimestampBeforeMaxMs:   i64("message.timestamp.before.max.ms"),
		TimestampAfterMaxMs:    i64("message.timestamp.after.max.ms"),
		MinInsyncReplicas:      int(i64("min.insync.replicas")),
		FlushMessages:          i64("flush.messages"),
		FlushMs:                i64("flush.ms"),
		DeleteRetentionMs:      i64("delete.retention.ms"),
		MinCleanableDirtyRatio: ratio,
		MinCompactionLagMs:     i64("min.compaction.lag.ms"),
		MaxCompactionLagMs:     i64("max.compaction.lag.ms"),
		CompressionType:        str("compression.type"),
		CompressionGzipLevel:   int(i64("compression.gzip.level")),
		CompressionLz4Level:    int(i64("compression.lz4.level")),
		CompressionZstdLevel:   int(i64("compression.zstd.level")),
		UncleanLeaderElection:  flag("unclean.leader.election.enable"),
		FileDeleteDelayMs:      i64("file.delete.delay.ms"),
		Preallocate:            flag("preallocate"),
		DownconversionEnable:   flag("message.downconversion.enable"),
	}
	// The deprecated difference bound still applies, as in Kafka 3.6+, to
	// whichever of before/after is not set anywhere (topic or broker).
	// Kafka tests "left at Long.MAX"; Sluice tests "not set" because 4.0
	// made after.max.ms default to one hour.
	if _, src := b.topicValue(t.byTopic["message.timestamp.difference.max.ms"], over); src != SourceDefaultConfig {
		diff := i64("message.timestamp.difference.max.ms")
		if _, src := b.topicValue(t.byTopic["message.timestamp.before.max.ms"], over); src == SourceDefaultConfig {
			tc.TimestampBeforeMaxMs = diff
		}
		if _, src := b.topicValue(t.byTopic["message.timestamp.after.max.ms"], over); src == SourceDefaultConfig {
			tc.TimestampAfterMaxMs = diff
		}
	}
	if tc.MinCompactionLagMs > tc.MaxCompactionLagMs {
		return Topic{}, &KeyError{Key: "min.compaction.lag.ms", Value: formatValue(tc.MinCompactionLagMs),
			Expected: fmt.Sprintf("it exceeds max.compaction.lag.ms=%d", tc.MaxCompactionLagMs), Kind: ErrConflict, kafka: errInvalidConfig}
	}
	return tc, nil
}

// Synonym is one entry of a described config's synonym list.
type Synonym struct {
	Name   string
	Value  *string // nil for sensitive values
	Source Source
}

// Entry is one described config, as DescribeConfigs returns it.
type Entry struct {
	Name      string
	Value     *string // nil when sensitive or unset with no default
	Source    Source
	ReadOnly  bool
	Sensitive bool
	IsDefault bool // Source == SourceDefaultConfig (DescribeConfigs v0)
	Type      Type
	Doc       string
	Synonyms  []Synonym
}

// DescribeTopic describes every topic config, sorted by name, for a topic
// with the given overrides (invalid overrides are shown as given). With
// synonyms, each entry lists where its value could come from, highest
// precedence first, exactly as Kafka's ConfigHelper builds the list: the
// topic override (DYNAMIC_TOPIC_CONFIG), then the broker synonyms set
// dynamically, then statically, then their defaults (DEFAULT_CONFIG).
//
// Kafka then drops every broker synonym listed before the first one named
// like the primary broker key, so a topic whose retention.ms comes from
// log.retention.hours shows no broker synonyms and source DEFAULT_CONFIG
// unless log.retention.ms itself is set. Sluice keeps that quirk: admin
// tools compare answers with Kafka's.
func (b *Broker) DescribeTopic(overrides map[string]string, synonyms, docs bool) []Entry {
	t := defs()
	over, _ := parseTopicOverrides(overrides)
	out := make([]Entry, 0, len(t.topic))
	for i := range t.topic {
		d := &t.topic[i]
		v, _ := b.topicValue(d, over)
		var value *string
		if raw, ok := overrides[d.Name]; ok && over[d.Name] == nil {
			value = val(raw) // invalid override: show what was stored
		} else {
			value = val(formatValue(v))
		}
		var all []Synonym
		if _, ok := overrides[d.Name]; ok {
			all = append(all, Synonym{Name: d.Name, Value: value, Source: SourceDynamicTopicConfig})
		}
		if len(d.Synonyms) > 0 {
			all = append(all, b.synonyms(d.Synonyms[0], d.Synonyms, d.Sensitive)...)
		}
		e := Entry{Name: d.Name, Value: value, Source: SourceDefaultConfig, Type: d.Type, Sensitive: d.Sensitive}
		if d.Sensitive {
			e.Value = nil
		}
		if len(all) > 0 {
			e.Source = all[0].Source
		}
		e.IsDefault = e.Source == SourceDefaultConfig
		if synonyms {
			e.Synonyms = all
		}
		if docs {
			e.Doc = d.Doc
		}
		out = append(out, e)
	}
	return out
}

// brokerSynonyms lists the keys that set the same broker value, highest
// precedence first, as Kafka's DynamicBrokerConfig.brokerConfigSynonyms
// does (plus Sluice's node.id/broker.id alias).
func brokerSynonyms(name string) []string {
	switch name {
	case "log.roll.ms", "log.roll.hours":
		return []string{"log.roll.ms", "log.roll.hours"}
	case "log.roll.jitter.ms", "log.roll.jitter.hours":
		return []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	case "log.flush.interval.ms":
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	case "log.retention.ms", "log.retention.minutes", "log.retention.hours":
		return []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	case "node.id":
		return []string{"node.id", "broker.id"}
	case "broker.id":
		return []string{"broker.id", "node.id"}
	}
	return []string{name}
}

// synonyms collects the set values of names in Kafka's order (all
// per-broker dynamic, then cluster dynamic, then static, then defaults)
// and drops those before the first entry named name (none if name is "").
func (b *Broker) synonyms(name string, names []string, sensitive bool) []Synonym {
	t := defs()
	var all []Synonym
	add := func(n, v string, src Source) {
		s := Synonym{Name: n, Source: src}
		if !sensitive {
			s.Value = val(v)
		}
		all = append(all, s)
	}
	for _, layer := range []struct {
		m   map[string]string
		src Source
	}{{b.dynBroker, SourceDynamicBrokerConfig}, {b.dynDefault, SourceDynamicDefaultBrokerConfig}, {b.static, SourceStaticBrokerConfig}} {
		for _, n := range names {
			if v, ok := layer.m[n]; ok {
				add(n, v, layer.src)
			}
		}
	}
	for _, n := range names {
		if d := t.byBroker[n]; d != nil && d.HasDefault {
			add(n, d.Default, SourceDefaultConfig)
		}
	}
	if name == "" {
		return all
	}
	i := slices.IndexFunc(all, func(s Synonym) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	return all[i:]
}

// Describe describes every broker config, sorted by name, as
// DescribeConfigs does for this broker's resource; sensitive values are
// nil. ReadOnly follows Kafka's list of dynamically updatable configs.
func (b *Broker) Describe(synonyms, docs bool) []Entry {
	t := defs()
	out := make([]Entry, 0, len(t.broker))
	for i := range t.broker {
		d := &t.broker[i]
		e := Entry{Name: d.Name, Source: SourceDefaultConfig, ReadOnly: d.Mode == ReadOnly, Sensitive: d.Sensitive, Type: d.Type}
		if v := b.vals[d.Name]; v != nil && !d.Sensitive {
			e.Value = val(formatValue(v))
		}
		name := d.Name
		if name == "node.id" || name == "broker.id" {
			name = "" // one setting under two names: keep the whole list
		}
		all := b.synonyms(name, brokerSynonyms(d.Name), d.Sensitive)
		if len(all) > 0 {
			e.Source = all[0].Source
		}
		e.IsDefault = e.Source == SourceDefaultConfig
		if synonyms {
			e.Synonyms = all
		}
		if docs {
			e.Doc = d.Doc
		}
		out = append(out, e)
	}
	return out
}
