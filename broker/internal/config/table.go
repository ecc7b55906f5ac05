package config

import (
	"slices"
	"sync"
)

// Names, defaults and ranges follow Apache Kafka (ServerLogConfigs,
// LogConfig, ServerTopicConfigSynonyms, DynamicBrokerConfig); the docs are
// Sluice's own. Where Sluice's default differs, the entry says why.

const (
	maxLong = "9223372036854775807"
	maxInt  = "2147483647"
	hourMs  = 60 * 60 * 1000
	minMs   = 60 * 1000
)

// table is the immutable set of definitions, built once.
type table struct {
	broker, topic []Def
	byBroker      map[string]*Def
	byTopic       map[string]*Def
}

var defs = sync.OnceValue(func() *table {
	t := &table{broker: brokerTable(), topic: topicTable()}
	slices.SortFunc(t.broker, func(a, b Def) int { return compareStrings(a.Name, b.Name) })
	slices.SortFunc(t.topic, func(a, b Def) int { return compareStrings(a.Name, b.Name) })
	t.byBroker = make(map[string]*Def, len(t.broker))
	for i := range t.broker {
		t.byBroker[t.broker[i].Name] = &t.broker[i]
	}
	t.byTopic = make(map[string]*Def, len(t.topic))
	for i := range t.topic {
		t.byTopic[t.topic[i].Name] = &t.topic[i]
	}
	return t
})

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// BrokerDefs returns a copy of the broker config definitions, sorted by
// name (for documentation and tooling).
func BrokerDefs() []Def { return cloneDefs(defs().broker) }

// TopicDefs returns a copy of the topic config definitions, sorted by name.
func TopicDefs() []Def { return cloneDefs(defs().topic) }

func cloneDefs(ds []Def) []Def {
	out := slices.Clone(ds)
	for i := range out {
		out[i].Synonyms = slices.Clone(out[i].Synonyms)
		out[i].scales = slices.Clone(out[i].scales)
	}
	return out
}

func brokerTable() []Def {
	cw, pb := mode(ClusterWide), mode(PerBroker)
	return []Def{
		// Identity and roles.
		def("node.id", TypeInt, val("1"), "Id of this node in the cluster; must be unique among brokers and controllers.", atLeast(0),
			sluiceDefault("none (required)", "a single binary should start with no config at all, so the lone node is 1")),
		def("broker.id", TypeInt, noDefault, "Alias of node.id kept for old server.properties files; if both are set they must agree.", atLeast(0)),
		def("process.roles", TypeList, val("broker,controller"), "Roles this node plays: broker, controller, or both (combined mode).", oneOf("broker", "controller"),
			sluiceDefault("none (required)", "one process is a whole cluster out of the box")),
		def("controller.quorum.voters", TypeList, val(""), "Static controller quorum as id@host:port pairs; empty on a single node.", mode(ReadOnly)),
		def("controller.listener.names", TypeString, noDefault, "Comma-separated names of the listeners the controller quorum uses; they are not served to clients."),

		// Listeners.
		def("listeners", TypeString, val("PLAINTEXT://127.0.0.1:9092"), "Addresses to listen on as NAME://host:port, comma-separated; an empty host listens on every interface.", pb,
			sluiceDefault("PLAINTEXT://:9092", "a development broker should not be reachable from the network until asked to be")),
		def("advertised.listeners", TypeString, noDefault, "Addresses handed to clients in metadata, NAME://host:port; by default the listeners themselves.", pb),
		def("listener.security.protocol.map", TypeString, val("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
			"Security protocol of each listener name, as NAME:PROTOCOL pairs.", pb),
		def("inter.broker.listener.name", TypeString, noDefault, "Listener that brokers use to talk to each other; by default the one named PLAINTEXT."),

		// Storage.
		def("log.dirs", TypeString, noDefault, "Comma-separated directories that hold partition data; when unset, log.dir is used."),
		def("log.dir", TypeString, val("./data"), "Single data directory, used when log.dirs is unset.",
			sluiceDefault("/tmp/kafka-logs", "data next to the binary survives reboots and needs no root")),
		def("num.partitions", TypeInt, val("1"), "Partitions of a topic created without a count (auto-created or CreateTopics with -1).", atLeast(1)),
		def("default.replication.factor", TypeInt, val("1"), "Replication factor of a topic created without one.", between(1, 32767)),
		def("min.insync.replicas", TypeInt, val("1"), "Replicas that must have a write before acks=all succeeds.", atLeast(1), cw),
		def("auto.create.topics.enable", TypeBoolean, val("true"), "Create a topic when a client asks for its metadata or produces to it."),
		def("delete.topic.enable", TypeBoolean, val("true"), "Allow DeleteTopics; when false the request fails with TOPIC_DELETION_DISABLED."),
		def("message.max.bytes", TypeInt, val("1048588"), "Largest record batch the broker accepts, after compression.", atLeast(1), cw),
		def("log.segment.bytes", TypeInt, val("1073741824"), "Size at which a segment file is rolled.", atLeast(14), cw),
		def("log.roll.ms", TypeLong, noDefault, "Age at which a segment is rolled even if not full; beats log.roll.hours.", atLeast(1), cw),
		def("log.roll.hours", TypeInt, val("168"), "Age in hours at which a segment is rolled, when log.roll.ms is unset.", atLeast(1)),
		def("log.roll.jitter.ms", TypeLong, noDefault, "Random jitter subtracted from the roll age so segments do not all roll at once; beats log.roll.jitter.hours.", atLeast(0), cw),
		def("log.roll.jitter.hours", TypeInt, val("0"), "Roll jitter in hours, when log.roll.jitter.ms is unset.", atLeast(0)),
		def("log.retention.ms", TypeLong, noDefault, "Time a segment is kept before deletion; -1 keeps data forever. Beats .minutes and .hours.", atLeast(-1), cw),
		def("log.retention.minutes", TypeInt, noDefault, "Retention time in minutes, when log.retention.ms is unset; beats .hours."),
		def("log.retention.hours", TypeInt, val("168"), "Retention time in hours, when .ms and .minutes are unset."),
		def("log.retention.bytes", TypeLong, val("-1"), "Partition size beyond which old segments are deleted; -1 means no size limit.", cw),
		def("log.retention.check.interval.ms", TypeLong, val("300000"), "How often retention is enforced.", atLeast(1)),
		def("log.flush.interval.messages", TypeLong, val(maxLong), "Records appended to a partition before it is fsynced; the default leaves flushing to the OS.", atLeast(1), cw),
		def("log.flush.interval.ms", TypeLong, noDefault, "Longest time a record waits in the page cache before fsync; falls back to log.flush.scheduler.interval.ms.", atLeast(0), cw),
		def("log.flush.scheduler.interval.ms", TypeLong, val(maxLong), "How often the flusher checks whether a log needs an fsync."),
		def("log.index.interval.bytes", TypeInt, val("4096"), "Bytes between offset index entries; smaller means faster seeks and bigger indexes.", atLeast(0), cw),
		def("log.index.size.max.bytes", TypeInt, val("10485760"), "Largest size of an offset or time index; a full index rolls the segment.", atLeast(4), cw),
		def("log.segment.delete.delay.ms", TypeLong, val("60000"), "Delay between unlinking a segment from the log and deleting its file.", atLeast(0), cw),
		def("log.preallocate", TypeBoolean, val("false"), "Preallocate segment files at their full size when they are created.", cw),
		def("log.message.timestamp.type", TypeString, val("CreateTime"), "Record timestamps kept as the producer set them (CreateTime) or set to the append time (LogAppendTime).", oneOf("CreateTime", "LogAppendTime"), cw),
		def("log.message.timestamp.difference.max.ms", TypeLong, val(maxLong), "Deprecated: largest distance of a CreateTime timestamp from the broker clock, either way.", atLeast(0), cw, deprecated("log.message.timestamp.before.max.ms")),
		def("log.message.timestamp.before.max.ms", TypeLong, val(maxLong), "Largest amount a CreateTime timestamp may lie in the past.", atLeast(0), cw),
		def("log.message.timestamp.after.max.ms", TypeLong, val("3600000"), "Largest amount a CreateTime timestamp may lie in the future (Kafka 4.0's default of one hour; 3.x allowed any).", atLeast(0), cw),
		def("log.message.downconversion.enable", TypeBoolean, val("true"), "Convert batches to old formats for fetch requests of old clients.", cw),
		def("log.cleanup.policy", TypeList, val("delete"), "What happens to old segments: delete them, compact them by key, or both.", oneOf("delete", "compact"), cw),
		def("log.cleaner.enable", TypeBoolean, val("true"), "Run the log cleaner; compacted topics (offsets, changelogs) grow forever without it."),
		def("log.cleaner.backoff.ms", TypeLong, val("15000"), "Pause of the log cleaner when no log needs compacting.", atLeast(0), cw),
		def("log.cleaner.dedupe.buffer.size", TypeLong, val("134217728"), "Memory the log cleaner may use for its key-to-offset map, bounding memory while cleaning.", atLeast(1<<20), cw),
		def("log.cleaner.delete.retention.ms", TypeLong, val("86400000"), "How long tombstones stay in a compacted log, so consumers see deletes.", atLeast(0), cw),
		def("log.cleaner.min.cleanable.ratio", TypeDouble, val("0.5"), "Dirty share of a log above which it is compacted.", between(0, 1), cw),
		def("log.cleaner.min.compaction.lag.ms", TypeLong, val("0"), "Least time a record stays uncompacted.", atLeast(0), cw),
		def("log.cleaner.max.compaction.lag.ms", TypeLong, val(maxLong), "Longest time a record may stay uncompacted.", atLeast(1), cw),
		def("compression.type", TypeString, val("producer"), "Compression of stored batches; producer keeps what the producer sent.",
			oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"), cw),
		def("compression.gzip.level", TypeInt, val("-1"), "gzip level used when the broker compresses; -1 is the library default.", cw),
		def("compression.lz4.level", TypeInt, val("9"), "lz4 level used when the broker compresses.", between(1, 17), cw),
		def("compression.zstd.level", TypeInt, val("3"), "zstd level used when the broker compresses.", between(-131072, 22), cw),
		def("unclean.leader.election.enable", TypeBoolean, val("false"), "Allow a replica outside the ISR to become leader, trading data loss for availability.", cw),

		// Internal topics, groups and transactions.
		def("offsets.topic.num.partitions", TypeInt, val("50"), "Partitions of __consumer_offsets; fixed once the topic exists.", atLeast(1)),
		def("offsets.topic.replication.factor", TypeShort, val("1"), "Replication factor of __consumer_offsets.", atLeast(1),
			sluiceDefault("3", "the default is a single broker, where 3 could never be met; set 3 on a cluster")),
		def("offsets.topic.segment.bytes", TypeInt, val("104857600"), "Segment size of __consumer_offsets, kept small for fast compaction and loading.", atLeast(1)),
		def("offsets.retention.minutes", TypeInt, val("10080"), "How long committed offsets of an empty group are kept.", atLeast(1)),
		def("offsets.retention.check.interval.ms", TypeLong, val("600000"), "How often the group coordinator looks for expired committed offsets.", atLeast(1)),
		def("offset.metadata.max.bytes", TypeInt, val("4096"), "Largest metadata string an offset commit may carry.", atLeast(0)),
		def("transaction.state.log.num.partitions", TypeInt, val("50"), "Partitions of __transaction_state; fixed once the topic exists.", atLeast(1)),
		def("transaction.state.log.replication.factor", TypeShort, val("1"), "Replication factor of __transaction_state.", atLeast(1),
			sluiceDefault("3", "the default is a single broker; set 3 on a cluster")),
		def("transaction.state.log.min.isr", TypeInt, val("1"), "min.insync.replicas of __transaction_state.", atLeast(1),
			sluiceDefault("2", "the default is a single broker; set 2 on a cluster")),
		def("transactional.id.expiration.ms", TypeInt, val("604800000"), "Idle time after which a transactional id is forgotten.", atLeast(1)),
		def("transaction.max.timeout.ms", TypeInt, val("900000"), "Largest transaction timeout a producer may ask for.", atLeast(1)),
		def("producer.id.expiration.ms", TypeInt, val("86400000"), "Idle time after which an idempotent producer's sequence state is dropped.", atLeast(1), cw),
		def("group.initial.rebalance.delay.ms", TypeInt, val("3000"), "Wait for more members before the first rebalance of an empty group."),
		def("group.min.session.timeout.ms", TypeInt, val("6000"), "Smallest session timeout a group member may ask for."),
		def("group.max.session.timeout.ms", TypeInt, val("1800000"), "Largest session timeout a group member may ask for."),
		def("group.max.size", TypeInt, val(maxInt), "Most members a classic group may have.", atLeast(1)),
		def("group.consumer.session.timeout.ms", TypeInt, val("45000"), "Session timeout of consumer-protocol (KIP-848) group members.", atLeast(1)),
		def("group.consumer.heartbeat.interval.ms", TypeInt, val("5000"), "Heartbeat interval the coordinator gives consumer-protocol group members.", atLeast(1)),
		def("group.consumer.max.size", TypeInt, val(maxInt), "Most members a consumer-protocol group may have.", atLeast(1)),
		def("group.consumer.assignors", TypeList, val("uniform,range"), "Server-side assignors of consumer-protocol groups; the first is the default.", oneOf("uniform", "range")),

		// Network and threads.
		def("socket.request.max.bytes", TypeInt, val("104857600"), "Largest request the broker reads; bigger ones close the connection.", atLeast(1)),
		def("num.network.threads", TypeInt, val("3"), "Threads reading and writing sockets (Sluice sizes its goroutines from it).", atLeast(1), cw),
		def("num.io.threads", TypeInt, val("8"), "Threads handling requests (Sluice sizes its worker pool from it).", atLeast(1), cw),
		def("replica.fetch.max.bytes", TypeInt, val("1048576"), "Bytes a follower asks for per partition in one fetch.", atLeast(0)),
		def("fetch.max.bytes", TypeInt, val("57671680"), "Most bytes returned by one fetch request.", atLeast(1024)),
	}
}

func topicTable() []Def {
	t := mode(PerTopic)
	return []Def{
		def("cleanup.policy", TypeList, val("delete"), "delete drops old segments, compact keeps the latest record per key; both may be given.", oneOf("delete", "compact"), t,
			synonyms("log.cleanup.policy", 1)),
		def("compression.type", TypeString, val("producer"), "Compression of stored batches; producer keeps the producer's codec.", oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"), t,
			synonyms("compression.type", 1)),
		def("compression.gzip.level", TypeInt, val("-1"), "gzip level when the broker compresses.", t, synonyms("compression.gzip.level", 1)),
		def("compression.lz4.level", TypeInt, val("9"), "lz4 level when the broker compresses.", between(1, 17), t, synonyms("compression.lz4.level", 1)),
		def("compression.zstd.level", TypeInt, val("3"), "zstd level when the broker compresses.", between(-131072, 22), t, synonyms("compression.zstd.level", 1)),
		def("delete.retention.ms", TypeLong, val("86400000"), "How long tombstones survive compaction.", atLeast(0), t, synonyms("log.cleaner.delete.retention.ms", 1)),
		def("file.delete.delay.ms", TypeLong, val("60000"), "Delay before a deleted segment's files are removed.", atLeast(0), t, synonyms("log.segment.delete.delay.ms", 1)),
		def("flush.messages", TypeLong, val(maxLong), "Records between fsyncs; the default never forces one.", atLeast(1), t, synonyms("log.flush.interval.messages", 1)),
		def("flush.ms", TypeLong, val(maxLong), "Longest time between fsyncs; the default never forces one.", atLeast(0), t,
			synonyms("log.flush.interval.ms", 1, "log.flush.scheduler.interval.ms", 1)),
		def("index.interval.bytes", TypeInt, val("4096"), "Bytes between offset index entries.", atLeast(0), t, synonyms("log.index.interval.bytes", 1)),
		def("max.compaction.lag.ms", TypeLong, val(maxLong), "Longest time a record stays uncompacted.", atLeast(1), t, synonyms("log.cleaner.max.compaction.lag.ms", 1)),
		def("max.message.bytes", TypeInt, val("1048588"), "Largest record batch accepted for this topic, after compression.", atLeast(0), t, synonyms("message.max.bytes", 1)),
		def("message.downconversion.enable", TypeBoolean, val("true"), "Convert batches for old fetch versions.", t, synonyms("log.message.downconversion.enable", 1)),
		def("message.timestamp.after.max.ms", TypeLong, val("3600000"), "Largest amount a CreateTime timestamp may lie in the future.", atLeast(0), t,
			synonyms("log.message.timestamp.after.max.ms", 1)),
		def("message.timestamp.before.max.ms", TypeLong, val(maxLong), "Largest amount a CreateTime timestamp may lie in the past.", atLeast(0), t,
			synonyms("log.message.timestamp.before.max.ms", 1)),
		def("message.timestamp.difference.max.ms", TypeLong, val(maxLong), "Deprecated: bound for both directions, used for before/after where they are not set.", atLeast(0), t,
			synonyms("log.message.timestamp.difference.max.ms", 1), deprecated("message.timestamp.before.max.ms")),
		def("message.timestamp.type", TypeString, val("CreateTime"), "CreateTime keeps producer timestamps; LogAppendTime stamps the append time.", oneOf("CreateTime", "LogAppendTime"), t,
			synonyms("log.message.timestamp.type", 1)),
		def("min.cleanable.dirty.ratio", TypeDouble, val("0.5"), "Dirty share of the log above which it is compacted.", between(0, 1), t, synonyms("log.cleaner.min.cleanable.ratio", 1)),
		def("min.compaction.lag.ms", TypeLong, val("0"), "Least time a record stays uncompacted.", atLeast(0), t, synonyms("log.cleaner.min.compaction.lag.ms", 1)),
		def("min.insync.replicas", TypeInt, val("1"), "In-sync replicas needed for an acks=all write.", atLeast(1), t, synonyms("min.insync.replicas", 1)),
		def("preallocate", TypeBoolean, val("false"), "Preallocate segment files at full size.", t, synonyms("log.preallocate", 1)),
		def("retention.bytes", TypeLong, val("-1"), "Partition size beyond which old segments are deleted; -1 is unlimited.", t, synonyms("log.retention.bytes", 1)),
		def("retention.ms", TypeLong, val("604800000"), "Age after which segments are deleted; -1 keeps data forever.", atLeast(-1), t,
			synonyms("log.retention.ms", 1, "log.retention.minutes", minMs, "log.retention.hours", hourMs)),
		def("segment.bytes", TypeInt, val("1073741824"), "Segment size at which a new segment is rolled.", atLeast(14), t, synonyms("log.segment.bytes", 1)),
		def("segment.index.bytes", TypeInt, val("10485760"), "Largest size of a segment's index files.", atLeast(4), t, synonyms("log.index.size.max.bytes", 1)),
		def("segment.jitter.ms", TypeLong, val("0"), "Random jitter subtracted from segment.ms.", atLeast(0), t,
			synonyms("log.roll.jitter.ms", 1, "log.roll.jitter.hours", hourMs)),
		def("segment.ms", TypeLong, val("604800000"), "Age at which a segment is rolled even if not full.", atLeast(1), t,
			synonyms("log.roll.ms", 1, "log.roll.hours", hourMs)),
		def("unclean.leader.election.enable", TypeBoolean, val("false"), "Let an out-of-sync replica become leader, losing data.", t, synonyms("unclean.leader.election.enable", 1)),
	}
}
