package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Listener is one entry of listeners or advertised.listeners,
// "NAME://host:port". An empty Host ("PLAINTEXT://:9092") listens on every
// interface. Names are upper-cased as Kafka normalises them.
type Listener struct {
	Name string
	Host string
	Port int
}

// String prints the listener as it is written in server.properties.
func (l Listener) String() string {
	return l.Name + "://" + net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
}

// Voter is one controller.quorum.voters entry, "id@host:port".
type Voter struct {
	ID   int32
	Host string
	Port int
}

// Broker is the typed, validated broker configuration. Build it with
// [Parse] or [Defaults]; the zero value is not usable. Fields are copies:
// changing them does not change what [Broker.Describe] or [Broker.Topic]
// report.
type Broker struct {
	NodeID                      int32
	ProcessRoles                []string
	Listeners                   []Listener
	AdvertisedListeners         []Listener // as configured; empty = advertise Listeners (see Advertise)
	ListenerSecurityProtocolMap map[string]string
	InterBrokerListenerName     string
	ControllerListenerNames     []string
	ControllerQuorumVoters      []Voter

	LogDirs                  []string // log.dirs, else log.dir
	NumPartitions            int32
	DefaultReplicationFactor int16
	MinInsyncReplicas        int
	AutoCreateTopics         bool
	DeleteTopicEnable        bool
	MessageMaxBytes          int32
	SocketRequestMaxBytes    int32

	LogRetentionCheckIntervalMs int64
	LogFlushSchedulerIntervalMs int64
	LogCleanerEnable            bool
	LogCleanerBackoffMs         int64
	LogCleanerDedupeBufferSize  int64

	OffsetsTopicNumPartitions     int32
	OffsetsTopicReplicationFactor int16
	OffsetsTopicSegmentBytes      int32
	OffsetsRetentionMs            int64 // offsets.retention.minutes in ms
	OffsetsRetentionCheckMs       int64
	OffsetMetadataMaxBytes        int32

	TransactionStateLogNumPartitions     int32
	TransactionStateLogReplicationFactor int16
	TransactionStateLogMinISR            int
	TransactionalIDExpirationMs          int64
	TransactionMaxTimeoutMs              int64
	ProducerIDExpirationMs               int64

	GroupInitialRebalanceDelayMs int32
	GroupMinSessionTimeoutMs     int32
	GroupMaxSessionTimeoutMs     int32
	GroupMaxSize                 int32

	GroupConsumerSessionTimeoutMs    int32
	GroupConsumerHeartbeatIntervalMs int32
	GroupConsumerMaxSize             int32
	GroupConsumerAssignors           []string

	NumNetworkThreads    int
	NumIOThreads         int
	ReplicaFetchMaxBytes int32
	FetchMaxBytes        int32

	// static holds the explicitly set keys (trimmed values); dynBroker and
	// dynDefault are the dynamic per-broker and cluster-default layers.
	static, dynBroker, dynDefault map[string]string
	// eff is the merged raw value of every set key; vals the parsed
	// effective value of every key (nil for unset keys with no default).
	eff  map[string]string
	vals map[string]any
}

// Defaults returns the configuration of a broker started with no settings.
func Defaults() *Broker {
	b, err := Parse(nil)
	if err != nil {
		panic("config: defaults do not validate: " + err.Error()) // a bug in the table, caught by tests
	}
	return b
}

// Parse validates props (static settings: file, environment, --set merged)
// and returns the typed configuration. Every unknown key and unparsable
// value is reported, each as a [*KeyError] naming the key, joined with
// errors.Join; an unknown key suggests the known key it is a likely typo
// of. Rules spanning keys (listener names, node.id vs broker.id, ...) are
// checked, all of them, once every value parses.
func Parse(props map[string]string) (*Broker, error) {
	static := make(map[string]string, len(props))
	for k, v := range props {
		static[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return build(static, nil, nil)
}

// WithDynamic returns a copy of b with dynamic broker configs applied on
// top of the static ones: perBroker (set for this node) beats
// clusterDefault (set for all brokers) beats static. Keys must be
// dynamically updatable ([Def.Mode] is not ReadOnly); cluster defaults may
// not set per-broker keys.
func (b *Broker) WithDynamic(perBroker, clusterDefault map[string]string) (*Broker, error) {
	t := defs()
	var errs []error
	for _, layer := range []struct {
		m       map[string]string
		cluster bool
	}{{perBroker, false}, {clusterDefault, true}} {
		for _, k := range slices.Sorted(maps.Keys(layer.m)) {
			d, ok := t.byBroker[k]
			switch {
			case !ok:
				errs = append(errs, unknownKey(k))
			case d.Mode == ReadOnly:
				errs = append(errs, &KeyError{Key: k, Value: layer.m[k], Expected: "the key is read-only; change it in the static config and restart", Kind: ErrConflict})
			case layer.cluster && d.Mode == PerBroker:
				errs = append(errs, &KeyError{Key: k, Value: layer.m[k], Expected: "the key can only be set per broker, not as a cluster default", Kind: ErrConflict})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return build(b.static, maps.Clone(perBroker), maps.Clone(clusterDefault))
}

func unknownKey(k string) *KeyError {
	t := defs()
	return &KeyError{Key: k, Kind: ErrUnknownKey, Suggest: suggest(k, func(yield func(string) bool) {
		for _, d := range t.broker {
			if !yield(d.Name) {
				return
			}
		}
	})}
}

func build(static, dynBroker, dynDefault map[string]string) (*Broker, error) {
	t := defs()
	b := &Broker{static: static, dynBroker: dynBroker, dynDefault: dynDefault,
		eff: map[string]string{}, vals: map[string]any{}}
	// Lowest precedence first, so later layers overwrite.
	for _, layer := range []map[string]string{static, dynDefault, dynBroker} {
		maps.Copy(b.eff, layer)
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(b.eff)) {
		d, ok := t.byBroker[k]
		if !ok {
			errs = append(errs, unknownKey(k))
			continue
		}
		v, err := d.parse(b.eff[k])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.vals[k] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i := range t.broker {
		d := &t.broker[i]
		if _, set := b.vals[d.Name]; set || !d.HasDefault {
			continue
		}
		v, err := d.parse(d.Default)
		if err != nil {
			return nil, fmt.Errorf("config: default of %s: %w", d.Name, err) // a bug in the table
		}
		b.vals[d.Name] = v
	}
	if err := b.fill(); err != nil {
		return nil, err
	}
	return b, nil
}

// str, i32, ... read parsed effective values; the table guarantees the
// dynamic type matches the key's Type.
func (b *Broker) str(k string) string    { s, _ := b.vals[k].(string); return s }
func (b *Broker) i32(k string) int32     { n, _ := b.vals[k].(int32); return n }
func (b *Broker) i16(k string) int16     { n, _ := b.vals[k].(int16); return n }
func (b *Broker) i64(k string) int64     { n, _ := b.vals[k].(int64); return n }
func (b *Broker) flag(k string) bool     { v, _ := b.vals[k].(bool); return v }
func (b *Broker) list(k string) []string { l, _ := b.vals[k].([]string); return slices.Clone(l) }

func (b *Broker) isSet(k string) bool { _, ok := b.eff[k]; return ok }

// fill copies the parsed values into the typed fields and checks the rules
// that span keys.
func (b *Broker) fill() error {
	var errs []error
	conflict := func(k, why string) {
		errs = append(errs, &KeyError{Key: k, Value: b.eff[k], Expected: why, Kind: ErrConflict})
	}
	invalid := func(k, want string) {
		errs = append(errs, &KeyError{Key: k, Value: b.eff[k], Expected: want, Kind: ErrInvalidValue})
	}

	// node.id and broker.id are one setting under two names.
	b.NodeID = b.i32("node.id")
	if b.isSet("broker.id") {
		bid := b.i32("broker.id")
		if b.isSet("node.id") && bid != b.NodeID {
			conflict("broker.id", fmt.Sprintf("broker.id and node.id name the same setting but differ (node.id=%d)", b.NodeID))
		}
		b.NodeID = bid
	}
	b.vals["node.id"], b.vals["broker.id"] = b.NodeID, b.NodeID

	b.ProcessRoles = b.list("process.roles")

	var err error
	if b.Listeners, err = parseListeners(b.str("listeners"), false); err != nil {
		invalid("listeners", err.Error())
	} else if len(b.Listeners) == 0 {
		invalid("listeners", "at least one listener")
	}
	if b.isSet("advertised.listeners") {
		if b.AdvertisedListeners, err = parseListeners(b.str("advertised.listeners"), true); err != nil {
			invalid("advertised.listeners", err.Error())
		}
		for _, a := range b.AdvertisedListeners {
			if !slices.ContainsFunc(b.Listeners, func(l Listener) bool { return l.Name == a.Name }) {
				conflict("advertised.listeners", fmt.Sprintf("listener %s is not in listeners", a.Name))
			}
		}
	}
	if b.ListenerSecurityProtocolMap, err = parseProtocolMap(b.str("listener.security.protocol.map")); err != nil {
		invalid("listener.security.protocol.map", err.Error())
	}
	b.ControllerListenerNames = upperAll(splitList(b.str("controller.listener.names")))
	if b.ListenerSecurityProtocolMap != nil {
		for _, l := range b.Listeners {
			if _, ok := b.ListenerSecurityProtocolMap[l.Name]; ok {
				continue
			}
			// As in Kafka, a controller listener missing from an unset map
			// is PLAINTEXT; everything else must be mapped.
			if !b.isSet("listener.security.protocol.map") && slices.Contains(b.ControllerListenerNames, l.Name) {
				b.ListenerSecurityProtocolMap[l.Name] = "PLAINTEXT"
				continue
			}
			conflict("listener.security.protocol.map", fmt.Sprintf("no security protocol for listener %s", l.Name))
		}
	}
	hasListener := func(name string) bool {
		return slices.ContainsFunc(b.Listeners, func(l Listener) bool { return l.Name == name })
	}
	b.InterBrokerListenerName = strings.ToUpper(b.str("inter.broker.listener.name"))
	if b.InterBrokerListenerName == "" {
		b.InterBrokerListenerName = "PLAINTEXT"
	} else if b.Listeners != nil && !hasListener(b.InterBrokerListenerName) {
		conflict("inter.broker.listener.name", "the listener is not in listeners")
	}
	if b.Listeners != nil {
		for _, n := range b.ControllerListenerNames {
			if slices.Contains(b.ProcessRoles, "controller") && !hasListener(n) {
				conflict("controller.listener.names", fmt.Sprintf("controller listener %s is not in listeners", n))
			}
			if n == b.InterBrokerListenerName && b.isSet("inter.broker.listener.name") {
				conflict("controller.listener.names", fmt.Sprintf("listener %s cannot be both the inter-broker and a controller listener", n))
			}
		}
	}
	if b.ControllerQuorumVoters, err = parseVoters(b.list("controller.quorum.voters")); err != nil {
		invalid("controller.quorum.voters", err.Error())
	} else if len(b.ControllerQuorumVoters) > 0 && slices.Contains(b.ProcessRoles, "controller") &&
		!slices.ContainsFunc(b.ControllerQuorumVoters, func(v Voter) bool { return v.ID == b.NodeID }) {
		conflict("controller.quorum.voters", fmt.Sprintf("node.id %d plays the controller role but is not a voter", b.NodeID))
	}

	if b.isSet("log.dirs") {
		b.LogDirs = splitList(b.str("log.dirs"))
	} else {
		b.LogDirs = splitList(b.str("log.dir"))
	}
	for i, d := range b.LogDirs {
		k := "log.dir"
		if b.isSet("log.dirs") {
			k = "log.dirs"
		}
		if d == "" {
			invalid(k, "non-empty directory paths")
			break
		}
		if slices.Contains(b.LogDirs[:i], d) {
			conflict(k, fmt.Sprintf("directory %s is listed twice", d))
		}
	}
	if len(b.LogDirs) == 0 {
		invalid("log.dirs", "at least one directory")
	}

	b.NumPartitions = b.i32("num.partitions")
	b.DefaultReplicationFactor = int16(b.i32("default.replication.factor"))
	b.MinInsyncReplicas = int(b.i32("min.insync.replicas"))
	b.AutoCreateTopics = b.flag("auto.create.topics.enable")
	b.DeleteTopicEnable = b.flag("delete.topic.enable")
	b.MessageMaxBytes = b.i32("message.max.bytes")
	b.SocketRequestMaxBytes = b.i32("socket.request.max.bytes")
	b.LogRetentionCheckIntervalMs = b.i64("log.retention.check.interval.ms")
	b.LogFlushSchedulerIntervalMs = b.i64("log.flush.scheduler.interval.ms")
	b.LogCleanerEnable = b.flag("log.cleaner.enable")
	b.LogCleanerBackoffMs = b.i64("log.cleaner.backoff.ms")
	b.LogCleanerDedupeBufferSize = b.i64("log.cleaner.dedupe.buffer.size")
	b.OffsetsTopicNumPartitions = b.i32("offsets.topic.num.partitions")
	b.OffsetsTopicReplicationFactor = b.i16("offsets.topic.replication.factor")
	b.OffsetsTopicSegmentBytes = b.i32("offsets.topic.segment.bytes")
	b.OffsetsRetentionMs = int64(b.i32("offsets.retention.minutes")) * minMs
	b.OffsetsRetentionCheckMs = b.i64("offsets.retention.check.interval.ms")
	b.OffsetMetadataMaxBytes = b.i32("offset.metadata.max.bytes")
	b.TransactionStateLogNumPartitions = b.i32("transaction.state.log.num.partitions")
	b.TransactionStateLogReplicationFactor = b.i16("transaction.state.log.replication.factor")
	b.TransactionStateLogMinISR = int(b.i32("transaction.state.log.min.isr"))
	b.TransactionalIDExpirationMs = int64(b.i32("transactional.id.expiration.ms"))
	b.TransactionMaxTimeoutMs = int64(b.i32("transaction.max.timeout.ms"))
	b.ProducerIDExpirationMs = int64(b.i32("producer.id.expiration.ms"))
	b.GroupInitialRebalanceDelayMs = b.i32("group.initial.rebalance.delay.ms")
	b.GroupMinSessionTimeoutMs = b.i32("group.min.session.timeout.ms")
	b.GroupMaxSessionTimeoutMs = b.i32("group.max.session.timeout.ms")
	b.GroupMaxSize = b.i32("group.max.size")
	b.GroupConsumerSessionTimeoutMs = b.i32("group.consumer.session.timeout.ms")
	b.GroupConsumerHeartbeatIntervalMs = b.i32("group.consumer.heartbeat.interval.ms")
	b.GroupConsumerMaxSize = b.i32("group.consumer.max.size")
	b.GroupConsumerAssignors = b.list("group.consumer.assignors")
	b.NumNetworkThreads = int(b.i32("num.network.threads"))
	b.NumIOThreads = int(b.i32("num.io.threads"))
	b.ReplicaFetchMaxBytes = b.i32("replica.fetch.max.bytes")
	b.FetchMaxBytes = b.i32("fetch.max.bytes")

	if b.GroupMinSessionTimeoutMs > b.GroupMaxSessionTimeoutMs {
		conflict("group.min.session.timeout.ms", fmt.Sprintf("it exceeds group.max.session.timeout.ms=%d", b.GroupMaxSessionTimeoutMs))
	}
	if min, max := b.i64("log.cleaner.min.compaction.lag.ms"), b.i64("log.cleaner.max.compaction.lag.ms"); min > max {
		conflict("log.cleaner.min.compaction.lag.ms", fmt.Sprintf("it exceeds log.cleaner.max.compaction.lag.ms=%d", max))
	}
	return errors.Join(errs...)
}

func upperAll(ss []string) []string {
	for i := range ss {
		ss[i] = strings.ToUpper(ss[i])
	}
	return ss
}

// parseListeners parses "NAME://host:port,..." as Kafka does: the name is
// upper-cased, an IPv6 host is written in brackets, the port is 0..65535
// (0 = pick a free port), and names and host:port pairs are unique.
// Advertised listeners may not use a wildcard host: clients cannot dial it.
func parseListeners(s string, advertised bool) ([]Listener, error) {
	var out []Listener
	for _, item := range splitList(s) {
		if item == "" {
			return nil, errors.New("NAME://host:port entries with no empty items")
		}
		name, hostport, ok := strings.Cut(item, "://")
		if !ok || name == "" {
			return nil, fmt.Errorf("NAME://host:port, not %q", item)
		}
		name = strings.ToUpper(name)
		if strings.IndexFunc(name, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) >= 0 {
			return nil, fmt.Errorf("a listener name of letters, digits, _ and -, not %q", name)
		}
		host, portStr, err := net.SplitHostPort(hostport)
		if err != nil {
			return nil, fmt.Errorf("NAME://host:port, not %q", item)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 0 || port > math.MaxUint16 {
			return nil, fmt.Errorf("a port in 0..65535 in %q", item)
		}
		if advertised && (host == "" || host == "0.0.0.0" || host == "::") {
			return nil, fmt.Errorf("a host clients can dial in %q, not a wildcard address", item)
		}
		l := Listener{Name: name, Host: host, Port: port}
		for _, o := range out {
			if o.Name == l.Name {
				return nil, fmt.Errorf("unique listener names, but %s appears twice", l.Name)
			}
			if !advertised && l.Port != 0 && o.Port == l.Port && o.Host == l.Host {
				return nil, fmt.Errorf("a distinct host:port per listener, but %s and %s share one", o.Name, l.Name)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

func parseProtocolMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, item := range splitList(s) {
		name, proto, ok := strings.Cut(item, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, fmt.Errorf("NAME:PROTOCOL pairs, not %q", item)
		}
		if !slices.Contains(securityProtocols, proto) {
			return nil, fmt.Errorf("a protocol in %v for %s, not %q", securityProtocols, name, proto)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("each listener name once, but %s appears twice", name)
		}
		m[name] = proto
	}
	return m, nil
}

func parseVoters(items []string) ([]Voter, error) {
	var out []Voter
	for _, item := range items {
		idStr, hostport, ok := strings.Cut(item, "@")
		id, err := strconv.ParseInt(idStr, 10, 32)
		if !ok || err != nil || id < 0 {
			return nil, fmt.Errorf("id@host:port entries, not %q", item)
		}
		host, portStr, err := net.SplitHostPort(hostport)
		port, perr := strconv.Atoi(portStr)
		if err != nil || host == "" || perr != nil || port <= 0 || port > math.MaxUint16 {
			return nil, fmt.Errorf("id@host:port with a port in 1..65535, not %q", item)
		}
		if slices.ContainsFunc(out, func(v Voter) bool { return v.ID == int32(id) }) {
			return nil, fmt.Errorf("unique voter ids, but %d appears twice", id)
		}
		out = append(out, Voter{ID: int32(id), Host: host, Port: port})
	}
	return out, nil
}

// Advertise returns the address this broker hands to clients for its
// listener named name, once it is bound to boundPort.
//
// An advertised.listeners entry of that name wins (port 0 there means the
// bound port). Otherwise the listener itself is advertised, with its bound
// port, and with hostname() in place of a wildcard host ("", 0.0.0.0, ::)
// as Kafka does, since a wildcard cannot be dialled.
//
// A concrete host is advertised exactly as written, including Sluice's
// default 127.0.0.1; it is deliberately not renamed "localhost". A client
// that bootstrapped via "localhost" and is told "127.0.0.1" merely opens
// one more connection, but one told "localhost" for a listener bound to
// 127.0.0.1 may resolve it to ::1 first and fail to connect (Node.js 17+
// resolves localhost to ::1, breaking kafkajs; some containers map
// localhost elsewhere). The address the socket is bound to is the one
// name that is certain to reach it. Users who want a name set
// advertised.listeners, as BROKER-NOTES asks.
func (b *Broker) Advertise(name string, boundPort int, hostname func() (string, error)) (Listener, error) {
	i := slices.IndexFunc(b.Listeners, func(l Listener) bool { return l.Name == name })
	if i < 0 {
		return Listener{}, fmt.Errorf("%w: no listener named %s", ErrInvalidValue, name)
	}
	l := b.Listeners[i]
	if j := slices.IndexFunc(b.AdvertisedListeners, func(a Listener) bool { return a.Name == name }); j >= 0 {
		l = b.AdvertisedListeners[j]
	} else if l.Host == "" || l.Host == "0.0.0.0" || l.Host == "::" {
		h, err := hostname()
		if err != nil {
			return Listener{}, fmt.Errorf("config: advertising wildcard listener %s: %w", name, err)
		}
		l.Host = h
	}
	if l.Port == 0 {
		l.Port = boundPort
	}
	return l, nil
}

// Properties returns the explicitly set static keys and their values, for
// logging at start; sensitive values read "[hidden]".
func (b *Broker) Properties() map[string]string {
	t := defs()
	out := make(map[string]string, len(b.static))
	for k, v := range b.static {
		if d := t.byBroker[k]; d != nil && d.Sensitive {
			v = "[hidden]"
		}
		out[k] = v
	}
	return out
}
