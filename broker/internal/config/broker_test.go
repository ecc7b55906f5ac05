package config

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The numbering of Type and Source must be kmsg's, because the broker
// casts them onto the wire.
func TestNumberingMatchesKmsg(t *testing.T) {
	types := map[Type]kmsg.ConfigType{
		TypeBoolean: kmsg.ConfigTypeBoolean, TypeString: kmsg.ConfigTypeString, TypeInt: kmsg.ConfigTypeInt,
		TypeShort: kmsg.ConfigTypeShort, TypeLong: kmsg.ConfigTypeLong, TypeDouble: kmsg.ConfigTypeDouble,
		TypeList: kmsg.ConfigTypeList, TypeClass: kmsg.ConfigTypeClass, TypePassword: kmsg.ConfigTypePassword,
	}
	for ours, theirs := range types {
		if int8(ours) != int8(theirs) || ours.String() != theirs.String() {
			t.Errorf("type %v = %d, kmsg %v = %d", ours, ours, theirs, theirs)
		}
	}
	sources := map[Source]kmsg.ConfigSource{
		SourceDynamicTopicConfig: kmsg.ConfigSourceDynamicTopicConfig, SourceDynamicBrokerConfig: kmsg.ConfigSourceDynamicBrokerConfig,
		SourceDynamicDefaultBrokerConfig: kmsg.ConfigSourceDynamicDefaultBrokerConfig,
		SourceStaticBrokerConfig:         kmsg.ConfigSourceStaticBrokerConfig, SourceDefaultConfig: kmsg.ConfigSourceDefaultConfig,
	}
	for ours, theirs := range sources {
		if int8(ours) != int8(theirs) || ours.String() != theirs.String() {
			t.Errorf("source %v = %d, kmsg %v = %d", ours, ours, theirs, theirs)
		}
	}
}

// Every key the brief and Kafka's docs promise is in the table, every
// default passes its own validator, every topic synonym is a broker key.
func TestTableIsConsistent(t *testing.T) {
	brokerKeys := strings.Fields(`node.id broker.id process.roles listeners advertised.listeners
		listener.security.protocol.map inter.broker.listener.name controller.listener.names
		controller.quorum.voters log.dirs log.dir num.partitions default.replication.factor
		min.insync.replicas auto.create.topics.enable delete.topic.enable message.max.bytes
		log.segment.bytes log.roll.ms log.roll.hours log.retention.ms log.retention.minutes
		log.retention.hours log.retention.bytes log.retention.check.interval.ms
		log.flush.interval.messages log.flush.interval.ms log.flush.scheduler.interval.ms
		log.index.interval.bytes log.index.size.max.bytes log.message.timestamp.type
		log.message.timestamp.before.max.ms log.message.timestamp.after.max.ms log.cleanup.policy
		log.cleaner.enable log.cleaner.delete.retention.ms log.cleaner.min.cleanable.ratio
		log.cleaner.min.compaction.lag.ms log.cleaner.max.compaction.lag.ms compression.type
		unclean.leader.election.enable offsets.topic.num.partitions offsets.topic.replication.factor
		offsets.retention.minutes transaction.state.log.num.partitions
		transaction.state.log.replication.factor transactional.id.expiration.ms
		producer.id.expiration.ms group.initial.rebalance.delay.ms group.min.session.timeout.ms
		group.max.session.timeout.ms socket.request.max.bytes num.network.threads num.io.threads
		replica.fetch.max.bytes fetch.max.bytes log.segment.delete.delay.ms`)
	topicKeys := strings.Fields(`cleanup.policy retention.ms retention.bytes segment.bytes segment.ms
		segment.index.bytes index.interval.bytes max.message.bytes message.timestamp.type
		message.timestamp.before.max.ms message.timestamp.after.max.ms
		message.timestamp.difference.max.ms min.insync.replicas flush.messages flush.ms
		delete.retention.ms min.cleanable.dirty.ratio min.compaction.lag.ms max.compaction.lag.ms
		compression.type unclean.leader.election.enable file.delete.delay.ms preallocate
		message.downconversion.enable`)
	tb := defs()
	for _, k := range brokerKeys {
		if tb.byBroker[k] == nil {
			t.Errorf("broker key %s missing", k)
		}
	}
	for _, k := range topicKeys {
		if tb.byTopic[k] == nil {
			t.Errorf("topic key %s missing", k)
		}
	}
	for _, ds := range [][]Def{BrokerDefs(), TopicDefs()} {
		for i, d := range ds {
			if i > 0 && ds[i-1].Name >= d.Name {
				t.Errorf("defs not sorted/unique at %s", d.Name)
			}
			if d.Doc == "" || d.Type == TypeUnknown {
				t.Errorf("%s: missing doc or type", d.Name)
			}
			if d.HasDefault {
				if _, err := d.parse(d.Default); err != nil {
					t.Errorf("%s: default does not validate: %v", d.Name, err)
				}
			}
			for _, s := range d.Synonyms {
				if tb.byBroker[s] == nil {
					t.Errorf("%s: synonym %s is not a broker key", d.Name, s)
				}
			}
		}
	}
	for _, d := range TopicDefs() {
		if len(d.Synonyms) == 0 {
			t.Errorf("topic key %s has no broker synonym", d.Name)
		}
		// A topic's own default must equal what its synonyms give on a
		// default broker, or DescribeTopic and Topic would disagree.
		v, _ := Defaults().topicValue(&d, nil)
		if got := formatValue(v); got != d.Default {
			t.Errorf("%s: default %s, but broker synonyms give %s", d.Name, d.Default, got)
		}
	}
	// The defs returned are copies.
	ds := TopicDefs()
	ds[0].Synonyms[0] = "mutated"
	if TopicDefs()[0].Synonyms[0] == "mutated" {
		t.Error("TopicDefs exposes the table")
	}
}

func TestDefaults(t *testing.T) {
	b := Defaults()
	want := &Broker{
		NodeID: 1, ProcessRoles: []string{"broker", "controller"},
		Listeners:                   []Listener{{"PLAINTEXT", "127.0.0.1", 9092}},
		ListenerSecurityProtocolMap: map[string]string{"PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"},
		InterBrokerListenerName:     "PLAINTEXT", ControllerListenerNames: []string{},
		LogDirs: []string{"./data"}, NumPartitions: 1, DefaultReplicationFactor: 1, MinInsyncReplicas: 1,
		AutoCreateTopics: true, DeleteTopicEnable: true, MessageMaxBytes: 1048588, SocketRequestMaxBytes: 104857600,
		LogRetentionCheckIntervalMs: 300000, LogFlushSchedulerIntervalMs: math.MaxInt64, LogCleanerEnable: true,
		LogCleanerBackoffMs: 15000, LogCleanerDedupeBufferSize: 128 << 20,
		OffsetsTopicNumPartitions: 50, OffsetsTopicReplicationFactor: 1, OffsetsTopicSegmentBytes: 104857600,
		OffsetsRetentionMs: 7 * 24 * hourMs, OffsetsRetentionCheckMs: 600000, OffsetMetadataMaxBytes: 4096, TransactionStateLogNumPartitions: 50, TransactionStateLogReplicationFactor: 1,
		TransactionStateLogMinISR: 1, TransactionalIDExpirationMs: 7 * 24 * hourMs, TransactionMaxTimeoutMs: 900000,
		ProducerIDExpirationMs: 86400000, GroupInitialRebalanceDelayMs: 3000, GroupMinSessionTimeoutMs: 6000,
		GroupMaxSessionTimeoutMs: 1800000, GroupMaxSize: math.MaxInt32, NumNetworkThreads: 3, NumIOThreads: 8,
		GroupConsumerSessionTimeoutMs: 45000, GroupConsumerHeartbeatIntervalMs: 5000, GroupConsumerMaxSize: math.MaxInt32,
		GroupConsumerAssignors: []string{"uniform", "range"},
		ReplicaFetchMaxBytes:   1048576, FetchMaxBytes: 57671680,
	}
	// Compare exported fields only.
	got := *b
	got.static, got.dynBroker, got.dynDefault, got.eff, got.vals = nil, nil, nil, nil, nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, *want)
	}
	if len(b.Properties()) != 0 {
		t.Errorf("defaults have explicit properties: %v", b.Properties())
	}
}

func mustParse(t *testing.T, props map[string]string) *Broker {
	t.Helper()
	b, err := Parse(props)
	if err != nil {
		t.Fatalf("Parse(%v): %v", props, err)
	}
	return b
}

func TestParseValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		check func(*Broker) bool
	}{
		{"booleans any case", map[string]string{"auto.create.topics.enable": "FALSE", "delete.topic.enable": " False "},
			func(b *Broker) bool { return !b.AutoCreateTopics && !b.DeleteTopicEnable }},
		{"node.id", map[string]string{"node.id": "7"}, func(b *Broker) bool { return b.NodeID == 7 }},
		{"broker.id alias", map[string]string{"broker.id": "3"}, func(b *Broker) bool { return b.NodeID == 3 }},
		{"broker.id equal to node.id", map[string]string{"broker.id": "3", "node.id": "3"}, func(b *Broker) bool { return b.NodeID == 3 }},
		{"log.dirs beats log.dir", map[string]string{"log.dirs": " /a , /b ", "log.dir": "/c"},
			func(b *Broker) bool { return slices.Equal(b.LogDirs, []string{"/a", "/b"}) }},
		{"log.dir alone", map[string]string{"log.dir": "/c"}, func(b *Broker) bool { return slices.Equal(b.LogDirs, []string{"/c"}) }},
		{"list spaces trimmed", map[string]string{"process.roles": " broker "},
			func(b *Broker) bool { return slices.Equal(b.ProcessRoles, []string{"broker"}) }},
		{"listeners parsed", map[string]string{"listeners": "plaintext://:0, INTERNAL://[::1]:9093",
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT"},
			func(b *Broker) bool {
				return slices.Equal(b.Listeners, []Listener{{"PLAINTEXT", "", 0}, {"INTERNAL", "::1", 9093}})
			}},
		{"advertised listeners", map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092", "advertised.listeners": "PLAINTEXT://kafka.example:19092"},
			func(b *Broker) bool {
				return slices.Equal(b.AdvertisedListeners, []Listener{{"PLAINTEXT", "kafka.example", 19092}})
			}},
		{"controller listener implicitly PLAINTEXT", map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names": "CONTROLLER",
			"controller.quorum.voters": "1@localhost:9093"},
			func(b *Broker) bool {
				return b.ListenerSecurityProtocolMap["CONTROLLER"] == "PLAINTEXT" && slices.Equal(b.ControllerListenerNames, []string{"CONTROLLER"}) &&
					slices.Equal(b.ControllerQuorumVoters, []Voter{{1, "localhost", 9093}})
			}},
		{"offsets retention in ms", map[string]string{"offsets.retention.minutes": "2"}, func(b *Broker) bool { return b.OffsetsRetentionMs == 120000 }},
		{"short", map[string]string{"offsets.topic.replication.factor": "3"}, func(b *Broker) bool { return b.OffsetsTopicReplicationFactor == 3 }},
		{"key whitespace trimmed", map[string]string{" num.partitions ": "4"}, func(b *Broker) bool { return b.NumPartitions == 4 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if b := mustParse(t, tc.props); !tc.check(b) {
				t.Errorf("unexpected result: %+v", *b)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		kind  error
		key   string
		want  string // substring of the message
	}{
		{map[string]string{"log.retension.ms": "5"}, ErrUnknownKey, "log.retension.ms", `did you mean "log.retention.ms"`},
		{map[string]string{"no.such.thing.at.all": "5"}, ErrUnknownKey, "no.such.thing.at.all", `unknown key "no.such.thing.at.all"`},
		{map[string]string{"retention.ms": "5"}, ErrUnknownKey, "retention.ms", "unknown key"}, // a topic key is not a broker key
		{map[string]string{"num.partitions": "x"}, ErrInvalidValue, "num.partitions", `num.partitions="x" is invalid: expected a 32-bit integer`},
		{map[string]string{"num.partitions": "0"}, ErrInvalidValue, "num.partitions", "[1,...]"},
		{map[string]string{"num.partitions": "2147483648"}, ErrInvalidValue, "num.partitions", "32-bit"},
		{map[string]string{"auto.create.topics.enable": "yes"}, ErrInvalidValue, "auto.create.topics.enable", "true or false"},
		{map[string]string{"auto.create.topics.enable": "1"}, ErrInvalidValue, "auto.create.topics.enable", "true or false"},
		{map[string]string{"min.insync.replicas": "0"}, ErrInvalidValue, "min.insync.replicas", "[1,...]"},
		{map[string]string{"log.segment.bytes": "13"}, ErrInvalidValue, "log.segment.bytes", "[14,...]"},
		{map[string]string{"message.max.bytes": "0"}, ErrInvalidValue, "message.max.bytes", "[1,...]"},
		{map[string]string{"log.cleaner.min.cleanable.ratio": "1.5"}, ErrInvalidValue, "log.cleaner.min.cleanable.ratio", "[0,...,1]"},
		{map[string]string{"log.cleaner.min.cleanable.ratio": "NaN"}, ErrInvalidValue, "log.cleaner.min.cleanable.ratio", "finite"},
		{map[string]string{"log.cleanup.policy": "delete,archive"}, ErrInvalidValue, "log.cleanup.policy", "[delete, compact]"},
		{map[string]string{"log.cleanup.policy": ""}, ErrInvalidValue, "log.cleanup.policy", "[delete, compact]"},
		{map[string]string{"log.message.timestamp.type": "createtime"}, ErrInvalidValue, "log.message.timestamp.type", "CreateTime"},
		{map[string]string{"compression.type": "brotli"}, ErrInvalidValue, "compression.type", "zstd"},
		{map[string]string{"process.roles": "broker,broker"}, ErrInvalidValue, "process.roles", "[broker, controller]"},
		{map[string]string{"process.roles": "leader"}, ErrInvalidValue, "process.roles", "[broker, controller]"},
		{map[string]string{"node.id": "-1"}, ErrInvalidValue, "node.id", "[0,...]"},
		{map[string]string{"node.id": "1", "broker.id": "2"}, ErrConflict, "broker.id", "differ"},
		{map[string]string{"listeners": "localhost:9092"}, ErrInvalidValue, "listeners", "NAME://host:port"},
		{map[string]string{"listeners": "PLAINTEXT://:65536"}, ErrInvalidValue, "listeners", "0..65535"},
		{map[string]string{"listeners": "PLAINTEXT://:-1"}, ErrInvalidValue, "listeners", "0..65535"},
		{map[string]string{"listeners": "PLAINTEXT://:x"}, ErrInvalidValue, "listeners", "0..65535"},
		{map[string]string{"listeners": "PLAINTEXT://:9092,plaintext://:9093"}, ErrInvalidValue, "listeners", "PLAINTEXT appears twice"},
		{map[string]string{"listeners": "PLAINTEXT://:9092,SSL://:9092"}, ErrInvalidValue, "listeners", "share one"},
		{map[string]string{"listeners": ""}, ErrInvalidValue, "listeners", "at least one listener"},
		{map[string]string{"listeners": "P LAIN://:1"}, ErrInvalidValue, "listeners", "listener name"},
		{map[string]string{"listeners": "EXTERNAL://:9092"}, ErrConflict, "listener.security.protocol.map", "no security protocol for listener EXTERNAL"},
		{map[string]string{"listener.security.protocol.map": "PLAINTEXT:TLS"}, ErrInvalidValue, "listener.security.protocol.map", "protocol"},
		{map[string]string{"advertised.listeners": "SSL://host:9093"}, ErrConflict, "advertised.listeners", "SSL is not in listeners"},
		{map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, ErrInvalidValue, "advertised.listeners", "wildcard"},
		{map[string]string{"inter.broker.listener.name": "INTERNAL"}, ErrConflict, "inter.broker.listener.name", "not in listeners"},
		{map[string]string{"controller.listener.names": "CONTROLLER"}, ErrConflict, "controller.listener.names", "CONTROLLER is not in listeners"},
		{map[string]string{"controller.quorum.voters": "1@host"}, ErrInvalidValue, "controller.quorum.voters", "id@host:port"},
		{map[string]string{"controller.quorum.voters": "x@host:9093"}, ErrInvalidValue, "controller.quorum.voters", "id@host:port"},
		{map[string]string{"controller.quorum.voters": "1@a:1,1@b:1"}, ErrInvalidValue, "controller.quorum.voters", "twice"},
		{map[string]string{"controller.quorum.voters": "2@host:9093"}, ErrConflict, "controller.quorum.voters", "not a voter"},
		{map[string]string{"log.dirs": "/a,,/b"}, ErrInvalidValue, "log.dirs", "non-empty"},
		{map[string]string{"log.dirs": "/a,/a"}, ErrConflict, "log.dirs", "twice"},
		{map[string]string{"log.dirs": " "}, ErrInvalidValue, "log.dirs", "at least one directory"},
		{map[string]string{"group.min.session.timeout.ms": "10", "group.max.session.timeout.ms": "5"}, ErrConflict, "group.min.session.timeout.ms", "exceeds"},
		{map[string]string{"log.cleaner.min.compaction.lag.ms": "10", "log.cleaner.max.compaction.lag.ms": "5"}, ErrConflict, "log.cleaner.min.compaction.lag.ms", "exceeds"},
		{map[string]string{"default.replication.factor": "40000"}, ErrInvalidValue, "default.replication.factor", "32767"},
		{map[string]string{"offsets.topic.replication.factor": "0"}, ErrInvalidValue, "offsets.topic.replication.factor", "[1,...]"},
	} {
		t.Run(tc.key+"="+strings.Join(slices.Collect(func(yield func(string) bool) {
			for _, v := range tc.props {
				yield(v)
			}
		}), ","), func(t *testing.T) {
			_, err := Parse(tc.props)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %v is not %v", err, tc.kind)
			}
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tc.key {
				t.Errorf("error %v does not name key %s", err, tc.key)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.key) {
				t.Errorf("message %q lacks %q or the key", msg, tc.want)
			}
			if errors.Is(err, kerr.InvalidConfig) {
				t.Errorf("a broker config error should not be a Kafka INVALID_CONFIG: %v", err)
			}
		})
	}
}

// Several bad keys are reported together, sorted by key.
func TestParseReportsEveryBadKey(t *testing.T) {
	_, err := Parse(map[string]string{"zzz.unknown": "1", "num.partitions": "x", "num.io.threads": "0"})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	i, j, k := strings.Index(msg, "num.io.threads"), strings.Index(msg, "num.partitions"), strings.Index(msg, "zzz.unknown")
	if i < 0 || j < 0 || k < 0 || !(i < j && j < k) {
		t.Errorf("want all three keys in order, got %q", msg)
	}
}

// Kafka's precedence: log.retention.ms > .minutes > .hours and
// log.roll.ms > log.roll.hours, log.flush.interval.ms >
// log.flush.scheduler.interval.ms, negative retention = -1.
func TestSynonymPrecedence(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		get   func(Topic) int64
		want  int64
	}{
		{nil, func(t Topic) int64 { return t.RetentionMs }, 168 * hourMs},
		{map[string]string{"log.retention.hours": "1"}, func(t Topic) int64 { return t.RetentionMs }, hourMs},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2"}, func(t Topic) int64 { return t.RetentionMs }, 2 * minMs},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2", "log.retention.ms": "3"}, func(t Topic) int64 { return t.RetentionMs }, 3},
		{map[string]string{"log.retention.ms": "-1", "log.retention.hours": "1"}, func(t Topic) int64 { return t.RetentionMs }, -1},
		{map[string]string{"log.retention.hours": "-5"}, func(t Topic) int64 { return t.RetentionMs }, -1},
		{map[string]string{"log.retention.minutes": "-1"}, func(t Topic) int64 { return t.RetentionMs }, -1},
		{nil, func(t Topic) int64 { return t.SegmentMs }, 168 * hourMs},
		{map[string]string{"log.roll.hours": "2"}, func(t Topic) int64 { return t.SegmentMs }, 2 * hourMs},
		{map[string]string{"log.roll.hours": "2", "log.roll.ms": "5"}, func(t Topic) int64 { return t.SegmentMs }, 5},
		{nil, func(t Topic) int64 { return t.FlushMs }, math.MaxInt64},
		{nil, func(t Topic) int64 { return t.FlushMessages }, math.MaxInt64},
		{map[string]string{"log.flush.scheduler.interval.ms": "100"}, func(t Topic) int64 { return t.FlushMs }, 100},
		{map[string]string{"log.flush.scheduler.interval.ms": "100", "log.flush.interval.ms": "7"}, func(t Topic) int64 { return t.FlushMs }, 7},
		{map[string]string{"log.flush.interval.messages": "1"}, func(t Topic) int64 { return t.FlushMessages }, 1},
		{map[string]string{"message.max.bytes": "100"}, func(t Topic) int64 { return int64(t.MaxMessageBytes) }, 100},
		{map[string]string{"log.segment.bytes": "1000"}, func(t Topic) int64 { return t.SegmentBytes }, 1000},
		{map[string]string{"log.segment.delete.delay.ms": "5"}, func(t Topic) int64 { return t.FileDeleteDelayMs }, 5},
		{map[string]string{"log.roll.jitter.hours": "1"}, func(t Topic) int64 { return t.SegmentJitterMs }, hourMs},
		{nil, func(t Topic) int64 { return t.TimestampAfterMaxMs }, hourMs},
		{nil, func(t Topic) int64 { return t.TimestampBeforeMaxMs }, math.MaxInt64},
		{map[string]string{"log.message.timestamp.difference.max.ms": "9"}, func(t Topic) int64 { return t.TimestampBeforeMaxMs }, 9},
		{map[string]string{"log.message.timestamp.difference.max.ms": "9"}, func(t Topic) int64 { return t.TimestampAfterMaxMs }, 9},
		{map[string]string{"log.message.timestamp.difference.max.ms": "9", "log.message.timestamp.before.max.ms": "3"}, func(t Topic) int64 { return t.TimestampBeforeMaxMs }, 3},
		{map[string]string{"log.message.timestamp.difference.max.ms": "9", "log.message.timestamp.after.max.ms": "4"}, func(t Topic) int64 { return t.TimestampAfterMaxMs }, 4},
	} {
		b := mustParse(t, tc.props)
		tp, err := b.Topic(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.get(tp); got != tc.want {
			t.Errorf("%v: got %d, want %d", tc.props, got, tc.want)
		}
	}
}

// Topic: override, else broker synonym, else default.
func TestTopicOverrides(t *testing.T) {
	b := mustParse(t, map[string]string{"log.retention.hours": "1", "log.cleanup.policy": "compact", "min.insync.replicas": "2",
		"compression.type": "zstd", "unclean.leader.election.enable": "true"})
	tp, err := b.Topic(map[string]string{"retention.ms": "-1", "cleanup.policy": "compact, delete", "max.message.bytes": "10",
		"message.timestamp.type": "LogAppendTime", "min.cleanable.dirty.ratio": "0.25", "preallocate": "TRUE",
		"message.timestamp.difference.max.ms": "50", "message.timestamp.before.max.ms": "70"})
	if err != nil {
		t.Fatal(err)
	}
	if tp.RetentionMs != -1 || !slices.Equal(tp.CleanupPolicy, []string{"compact", "delete"}) || tp.MaxMessageBytes != 10 ||
		tp.TimestampType != "LogAppendTime" || tp.MinCleanableDirtyRatio != 0.25 || !tp.Preallocate ||
		tp.TimestampBeforeMaxMs != 70 || tp.TimestampAfterMaxMs != 50 {
		t.Errorf("overrides not applied: %+v", tp)
	}
	if tp.MinInsyncReplicas != 2 || tp.CompressionType != "zstd" || !tp.UncleanLeaderElection || tp.SegmentBytes != 1<<30 {
		t.Errorf("broker synonyms/defaults not applied: %+v", tp)
	}
	tp, _ = b.Topic(nil)
	if tp.RetentionMs != hourMs || !slices.Equal(tp.CleanupPolicy, []string{"compact"}) {
		t.Errorf("broker values not used: %+v", tp)
	}
}

func TestValidateTopicConfigs(t *testing.T) {
	if err := ValidateTopicConfigs(map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		overrides map[string]string
		kind      error
		key, want string
	}{
		{map[string]string{"retention.mss": "1"}, ErrUnknownKey, "retention.mss", `did you mean "retention.ms"`},
		{map[string]string{"log.retention.ms": "1"}, ErrUnknownKey, "log.retention.ms", "unknown key"},
		{map[string]string{"retention.ms": "-2"}, ErrInvalidValue, "retention.ms", `retention.ms="-2"`},
		{map[string]string{"segment.bytes": "13"}, ErrInvalidValue, "segment.bytes", "[14,...]"},
		{map[string]string{"cleanup.policy": "keep"}, ErrInvalidValue, "cleanup.policy", "keep"},
		{map[string]string{"min.insync.replicas": "0"}, ErrInvalidValue, "min.insync.replicas", "[1,...]"},
		{map[string]string{"message.timestamp.type": "Now"}, ErrInvalidValue, "message.timestamp.type", "LogAppendTime"},
		{map[string]string{"min.compaction.lag.ms": "9", "max.compaction.lag.ms": "8"}, ErrConflict, "min.compaction.lag.ms", "exceeds"},
	} {
		err := ValidateTopicConfigs(tc.overrides)
		var ke *KeyError
		switch {
		case err == nil:
			t.Errorf("%v: no error", tc.overrides)
		case !errors.Is(err, kerr.InvalidConfig) || !errors.Is(err, tc.kind):
			t.Errorf("%v: %v is not INVALID_CONFIG and %v", tc.overrides, err, tc.kind)
		case !errors.As(err, &ke) || ke.Key != tc.key || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%v: %q does not name %s / %q", tc.overrides, err, tc.key, tc.want)
		}
		if _, terr := Defaults().Topic(tc.overrides); !errors.Is(terr, kerr.InvalidConfig) {
			t.Errorf("%v: Topic gave %v, want INVALID_CONFIG", tc.overrides, terr)
		}
	}
	// Conflicts between a topic override and the broker value are caught
	// by Topic.
	b := mustParse(t, map[string]string{"log.cleaner.max.compaction.lag.ms": "10"})
	if _, err := b.Topic(map[string]string{"min.compaction.lag.ms": "20"}); !errors.Is(err, ErrConflict) || !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("want a conflict, got %v", err)
	}
}

func TestAdvertise(t *testing.T) {
	host := func() (string, error) { return "box.example", nil }
	noHost := func() (string, error) { return "", errors.New("no hostname") }
	for _, tc := range []struct {
		props map[string]string
		name  string
		bound int
		want  Listener
		err   bool
	}{
		{nil, "PLAINTEXT", 9092, Listener{"PLAINTEXT", "127.0.0.1", 9092}, false},
		{map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0"}, "PLAINTEXT", 40000, Listener{"PLAINTEXT", "127.0.0.1", 40000}, false},
		{map[string]string{"listeners": "PLAINTEXT://:9092"}, "PLAINTEXT", 9092, Listener{"PLAINTEXT", "box.example", 9092}, false},
		{map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092"}, "PLAINTEXT", 9092, Listener{"PLAINTEXT", "box.example", 9092}, false},
		{map[string]string{"listeners": "PLAINTEXT://[::]:9092"}, "PLAINTEXT", 9092, Listener{"PLAINTEXT", "box.example", 9092}, false},
		{map[string]string{"listeners": "PLAINTEXT://:0", "advertised.listeners": "PLAINTEXT://kafka:0"}, "PLAINTEXT", 1234, Listener{"PLAINTEXT", "kafka", 1234}, false},
		{map[string]string{"listeners": "PLAINTEXT://:0", "advertised.listeners": "PLAINTEXT://kafka:19092"}, "PLAINTEXT", 1234, Listener{"PLAINTEXT", "kafka", 19092}, false},
		{nil, "SSL", 1, Listener{}, true},
	} {
		b := mustParse(t, tc.props)
		got, err := b.Advertise(tc.name, tc.bound, host)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%v: Advertise(%s) = %v, %v; want %v", tc.props, tc.name, got, err, tc.want)
		}
	}
	b := mustParse(t, map[string]string{"listeners": "PLAINTEXT://:9092"})
	if _, err := b.Advertise("PLAINTEXT", 9092, noHost); err == nil {
		t.Error("hostname failure not reported")
	}
}

func TestProperties(t *testing.T) {
	b := mustParse(t, map[string]string{"num.partitions": " 3 ", "log.dirs": "/x"})
	if got := b.Properties(); !reflect.DeepEqual(got, map[string]string{"num.partitions": "3", "log.dirs": "/x"}) {
		t.Errorf("Properties = %v", got)
	}
}

func TestWithDynamic(t *testing.T) {
	b := mustParse(t, map[string]string{"log.retention.ms": "100", "message.max.bytes": "1000"})
	d, err := b.WithDynamic(map[string]string{"log.retention.ms": "300"}, map[string]string{"log.retention.ms": "200", "message.max.bytes": "2000"})
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := d.Topic(nil)
	if tp.RetentionMs != 300 || d.MessageMaxBytes != 2000 || tp.MaxMessageBytes != 2000 {
		t.Errorf("dynamic layers not applied: retention %d, max %d/%d", tp.RetentionMs, d.MessageMaxBytes, tp.MaxMessageBytes)
	}
	if tp, _ := b.Topic(nil); tp.RetentionMs != 100 {
		t.Errorf("WithDynamic changed the original: %d", tp.RetentionMs)
	}
	for _, tc := range []struct {
		per, cluster map[string]string
		kind         error
	}{
		{map[string]string{"log.dirs": "/x"}, nil, ErrConflict},              // read-only
		{nil, map[string]string{"listeners": "PLAINTEXT://:1"}, ErrConflict}, // per-broker only
		{map[string]string{"nope": "1"}, nil, ErrUnknownKey},
		{map[string]string{"message.max.bytes": "-1"}, nil, ErrInvalidValue},
	} {
		if _, err := b.WithDynamic(tc.per, tc.cluster); !errors.Is(err, tc.kind) {
			t.Errorf("%v/%v: got %v, want %v", tc.per, tc.cluster, err, tc.kind)
		}
	}
}

func TestJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{0.5: "0.5", 1: "1.0", 0: "0.0", 0.25: "0.25", 1e-4: "1.0E-4", 1.5e7: "1.5E7", 123.0: "123.0"} {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestListenerString(t *testing.T) {
	for l, want := range map[Listener]string{
		{"PLAINTEXT", "127.0.0.1", 9092}: "PLAINTEXT://127.0.0.1:9092",
		{"PLAINTEXT", "", 9092}:          "PLAINTEXT://:9092",
		{"INTERNAL", "::1", 9093}:        "INTERNAL://[::1]:9093",
	} {
		if got := l.String(); got != want {
			t.Errorf("%#v.String() = %s, want %s", l, got, want)
		}
		// And it parses back.
		ls, err := parseListeners(want, false)
		if err != nil || len(ls) != 1 || ls[0] != l {
			t.Errorf("parseListeners(%s) = %v, %v", want, ls, err)
		}
	}
}
