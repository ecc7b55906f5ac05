package group

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Topic is the internal topic that stores offsets and group metadata.
const Topic = "__consumer_offsets"

// ErrClosed is returned by [Coordinator.Load] after [Coordinator.Close].
var ErrClosed = errors.New("group: coordinator closed")

// newMemberJoinTimeout bounds how long a new member's JoinGroup may stay
// parked (Kafka's NewMemberJoinTimeoutMs): a client that gave up and
// retried with a new connection leaves a defunct member, which this removes.
const newMemberJoinTimeout = 5 * time.Minute

// Log is the coordinator's view of the __consumer_offsets partitions.
type Log interface {
	// Append appends one record batch (built by this package, base offset
	// 0) to a partition and returns its base offset once it is stored.
	Append(partition int32, batch []byte) (int64, error)
	// Scan calls fn with every batch of the partition, from its start to
	// its current end, in order. fn may keep no reference to the bytes.
	Scan(partition int32, fn func(batch []byte) error) error
}

// Config holds the coordinator's settings, Kafka's broker configs of the
// same meaning. Zero values are replaced by Kafka's defaults in [New].
type Config struct {
	Partitions             int32         // offsets.topic.num.partitions (50)
	InitialRebalanceDelay  time.Duration // group.initial.rebalance.delay.ms (3 s); 0 is allowed
	MinSessionTimeout      time.Duration // group.min.session.timeout.ms (6 s)
	MaxSessionTimeout      time.Duration // group.max.session.timeout.ms (30 min)
	MaxSize                int           // group.max.size (unbounded when 0)
	OffsetsRetention       time.Duration // offsets.retention.minutes (7 days)
	RetentionCheckInterval time.Duration // offsets.retention.check.interval.ms (10 min)
	MaxMetadataBytes       int           // offset.metadata.max.bytes (4096)

	// The consumer protocol (KIP-848).
	ConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms (45 s)
	ConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms (5 s)
	ConsumerMaxSize           int           // group.consumer.max.size (unbounded when 0)
	// ConsumerAssignors are the server-side assignors offered, the first
	// the default (group.consumer.assignors: uniform, range).
	ConsumerAssignors []string
	// Topics lists the existing topics, for server-side assignment and
	// regex subscriptions. It is called outside the coordinator's lock on
	// every consumer heartbeat and Tick; a change it shows (a topic
	// created, deleted, or grown) bumps the epoch of the consumer groups
	// subscribed to it. Nil means no topics.
	Topics func() map[string]TopicInfo

	// Exists reports whether a topic partition exists; commits to others
	// answer UNKNOWN_TOPIC_OR_PARTITION. Nil accepts every partition.
	Exists func(topic string, partition int32) bool
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Client identifies the connection a request came from, for DescribeGroups.
type Client struct {
	ID   string // the request header's client id
	Host string // the client's address
}

// Coordinator is the classic group coordinator for the __consumer_offsets
// partitions it has loaded. Its methods are safe for concurrent use.
type Coordinator struct {
	cfg Config
	log Log
	lg  *slog.Logger

	mu        sync.Mutex
	closed    bool
	loaded    map[int32]bool // partition → true when loaded, false while loading
	groups    map[string]*group
	nextCheck time.Time // next offset retention check
	// txnOffsets are transactional offset commits waiting for their
	// transaction's marker, by __consumer_offsets partition (txn.go).
	txnOffsets map[int32]pendingTxn
}

// New returns a coordinator with no partition loaded.
func New(cfg Config, l Log) *Coordinator {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 50
	}
	if cfg.InitialRebalanceDelay < 0 {
		cfg.InitialRebalanceDelay = 0
	}
	if cfg.MinSessionTimeout <= 0 {
		cfg.MinSessionTimeout = 6 * time.Second
	}
	if cfg.MaxSessionTimeout <= 0 {
		cfg.MaxSessionTimeout = 30 * time.Minute
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = int(^uint(0) >> 1)
	}
	if cfg.OffsetsRetention <= 0 {
		cfg.OffsetsRetention = 7 * 24 * time.Hour
	}
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = 10 * time.Minute
	}
	if cfg.MaxMetadataBytes <= 0 {
		cfg.MaxMetadataBytes = 4096
	}
	if cfg.ConsumerSessionTimeout <= 0 {
		cfg.ConsumerSessionTimeout = 45 * time.Second
	}
	if cfg.ConsumerHeartbeatInterval <= 0 {
		cfg.ConsumerHeartbeatInterval = 5 * time.Second
	}
	if cfg.ConsumerMaxSize <= 0 {
		cfg.ConsumerMaxSize = int(^uint(0) >> 1)
	}
	if len(cfg.ConsumerAssignors) == 0 {
		cfg.ConsumerAssignors = []string{AssignorUniform, AssignorRange}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Coordinator{
		cfg:    cfg,
		log:    l,
		lg:     cfg.Logger,
		loaded: map[int32]bool{},
		groups: map[string]*group{},

		txnOffsets: map[int32]pendingTxn{},
	}
}

// PartitionFor is the __consumer_offsets partition of a group, as Kafka
// computes it: abs(Java String.hashCode(group)) % partitions, so that a
// group lands on the same partition as on a Kafka cluster.
func PartitionFor(group string, partitions int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(group)) {
		h = 31*h + int32(u)
	}
	if h == -1<<31 {
		h = 0 // Kafka's Utils.abs
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// PartitionFor is the partition of group under this coordinator's config.
func (c *Coordinator) PartitionFor(group string) int32 {
	return PartitionFor(group, c.cfg.Partitions)
}

// Load replays a partition of __consumer_offsets and makes this coordinator
// serve its groups. Until it returns, requests for those groups answer
// COORDINATOR_LOAD_IN_PROGRESS. Loading a loaded partition does nothing.
func (c *Coordinator) Load(p int32) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if _, ok := c.loaded[p]; ok {
		c.mu.Unlock()
		return nil
	}
	c.loaded[p] = false
	c.mu.Unlock()

	start := c.cfg.Now()
	groups, pending, err := c.replay(p)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.loaded, p)
		return fmt.Errorf("group: loading %s-%d: %w", Topic, p, err)
	}
	if _, ok := c.loaded[p]; !ok || c.closed { // unloaded meanwhile
		return nil
	}
	now := c.cfg.Now()
	for id, g := range groups {
		for _, m := range g.members {
			m.lastHeartbeat = now
		}
		if g.consumer != nil {
			for _, m := range g.consumer.members {
				m.lastHeartbeat = now
				if m.state == mUnrevoked {
					m.revokeDeadline = now.Add(m.rebalanceTimeout)
				}
			}
		}
		c.groups[id] = g
	}
	c.txnOffsets[p] = pending
	c.loaded[p] = true
	c.lg.Info("group partition loaded", "partition", p, "groups", len(groups), "took", now.Sub(start))
	return nil
}

// Unload stops serving a partition's groups (its leadership moved away).
// Members parked in JoinGroup or SyncGroup get NOT_COORDINATOR and find the
// new coordinator.
func (c *Coordinator) Unload(p int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.loaded, p)
	delete(c.txnOffsets, p)
	for id, g := range c.groups {
		if g.partition == p {
			g.failWaiters(kerr.NotCoordinator.Code)
			delete(c.groups, id)
		}
	}
}

// Close unloads every partition; later requests answer
// COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, g := range c.groups {
		g.failWaiters(kerr.CoordinatorNotAvailable.Code)
	}
	c.groups = map[string]*group{}
	c.loaded = map[int32]bool{}
	c.txnOffsets = map[int32]pendingTxn{}
}

// Loaded reports whether a partition is loaded.
func (c *Coordinator) Loaded(p int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loaded[p]
}

// api names the request kinds whose group id validation differs.
type api int8

const (
	apiJoin api = iota
	apiOther
	apiEmptyIDAllowed // OffsetCommit, OffsetFetch, DescribeGroups, DeleteGroups
)

// validate answers as Kafka's validateGroupStatus: an invalid group id,
// a closed coordinator, a partition still loading, or one not served here.
func (c *Coordinator) validate(id string, a api) *kerr.Error {
	if id == "" && a != apiEmptyIDAllowed {
		return kerr.InvalidGroupID
	}
	if c.closed {
		return kerr.CoordinatorNotAvailable
	}
	loaded, ok := c.loaded[c.PartitionFor(id)]
	switch {
	case ok && !loaded:
		return kerr.CoordinatorLoadInProgress
	case !ok:
		return kerr.NotCoordinator
	}
	return nil
}

// Tick checks every deadline against the clock: member session timeouts,
// pending members, rebalance and sync timeouts, the initial rebalance
// delay, and (every RetentionCheckInterval) offset expiry.
func (c *Coordinator) Tick() {
	topics := c.topics()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	for _, g := range c.groups {
		if g.consumer != nil {
			c.tickConsumer(g, topics, now)
			continue
		}
		c.tickGroup(g, now)
	}
	if now.Before(c.nextCheck) {
		return
	}
	c.nextCheck = now.Add(c.cfg.RetentionCheckInterval)
	c.expireOffsets(now)
}
