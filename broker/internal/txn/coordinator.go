package txn

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic is the internal topic that stores transaction metadata.
const Topic = "__transaction_state"

// ErrClosed is returned by [Coordinator.Load] after [Coordinator.Close].
var ErrClosed = errors.New("txn: coordinator closed")

// State is a transaction's state, numbered as Kafka's TransactionState
// (the numbers are stored in __transaction_state).
type State int8

// The states of Kafka's transaction state machine.
const (
	Empty             State = 0
	Ongoing           State = 1
	PrepareCommit     State = 2
	PrepareAbort      State = 3
	CompleteCommit    State = 4
	CompleteAbort     State = 5
	Dead              State = 6
	PrepareEpochFence State = 7
)

// String is Kafka's name of the state, as DescribeTransactions and
// ListTransactions report it.
func (s State) String() string { return kmsg.TransactionState(s).String() }

// ParseState is the inverse of [State.String].
func ParseState(name string) (State, bool) {
	for s := Empty; s <= PrepareEpochFence; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// TopicPartition names one partition in a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Log is the coordinator's view of the __transaction_state partitions.
type Log interface {
	// Append appends one record batch (built by this package, base offset
	// 0) to a partition and returns its base offset once it is stored.
	Append(partition int32, batch []byte) (int64, error)
	// Scan calls fn with every batch of the partition, from its start to
	// its current end, in order. fn may keep no reference to the bytes.
	Scan(partition int32, fn func(batch []byte) error) error
}

// Markers writes transaction markers to the partitions of a transaction.
type Markers interface {
	// WriteMarker appends a commit or abort control batch of the producer
	// to a partition and returns once it is stored. Writing the same
	// marker twice (a retried completion) must be harmless.
	WriteMarker(tp TopicPartition, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32) error
}

// Config holds the coordinator's settings, Kafka's broker configs of the
// same meaning. Zero values are replaced by Kafka's defaults in [New].
type Config struct {
	Partitions   int32         // transaction.state.log.num.partitions (50)
	MaxTimeout   time.Duration // transaction.max.timeout.ms (15 min)
	IDExpiration time.Duration // transactional.id.expiration.ms (7 days)
	// NextProducerID allocates a fresh producer id; required.
	NextProducerID func() (int64, error)
	// GroupPartition is the __consumer_offsets partition of a group, the
	// partition AddOffsetsToTxn adds to a transaction. Nil means 0.
	GroupPartition func(group string) int32
	// GroupTopic is the name of the offsets topic ("__consumer_offsets").
	GroupTopic string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// txnMeta is one transactional id's metadata (Kafka's TransactionMetadata).
type txnMeta struct {
	id        string
	partition int32 // of __transaction_state
	pid       int64
	epoch     int16
	// lastEpoch is the epoch before a coordinator-side bump (a timeout or
	// fencing abort), -1 otherwise: the producer fenced that way may
	// still re-initialize with it (KIP-360), as Kafka's
	// lastProducerEpoch allows. Kept in memory only, as in Kafka.
	lastEpoch int16
	timeout   time.Duration
	state     State
	parts     map[TopicPartition]bool
	start     time.Time // when the ongoing transaction began; zero otherwise
	updated   time.Time
}

func (m *txnMeta) clone() *txnMeta {
	c := *m
	c.parts = maps.Clone(m.parts)
	return &c
}

func (m *txnMeta) sortedParts() []TopicPartition {
	out := slices.Collect(maps.Keys(m.parts))
	slices.SortFunc(out, func(a, b TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// Coordinator is the transaction coordinator for the __transaction_state
// partitions it has loaded. Its methods are safe for concurrent use; every
// state change is stored before it becomes visible.
type Coordinator struct {
	cfg     Config
	log     Log
	markers Markers
	lg      *slog.Logger

	mu     sync.Mutex
	closed bool
	// loaded maps a partition to its coordinator epoch once loaded; a
	// partition being loaded is in loading.
	loaded  map[int32]int32
	loading map[int32]bool
	txns    map[string]*txnMeta
	// byPID indexes txns by producer id for produce verification.
	byPID map[int64]*txnMeta
}

// New returns a coordinator with no partition loaded.
func New(cfg Config, l Log, m Markers) *Coordinator {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 50
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 15 * time.Minute
	}
	if cfg.IDExpiration <= 0 {
		cfg.IDExpiration = 7 * 24 * time.Hour
	}
	if cfg.GroupPartition == nil {
		cfg.GroupPartition = func(string) int32 { return 0 }
	}
	if cfg.GroupTopic == "" {
		cfg.GroupTopic = "__consumer_offsets"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Coordinator{
		cfg:     cfg,
		log:     l,
		markers: m,
		lg:      cfg.Logger,
		loaded:  map[int32]int32{},
		loading: map[int32]bool{},
		txns:    map[string]*txnMeta{},
		byPID:   map[int64]*txnMeta{},
	}
}

// PartitionFor is the __transaction_state partition of a transactional id,
// as Kafka computes it: abs(Java String.hashCode(id)) % partitions.
func PartitionFor(id string, partitions int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(id)) {
		h = 31*h + int32(u)
	}
	if h == math.MinInt32 {
		h = 0 // Kafka's Utils.abs
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// PartitionFor is the partition of id under this coordinator's config.
func (c *Coordinator) PartitionFor(id string) int32 { return PartitionFor(id, c.cfg.Partitions) }

// Load replays a partition of __transaction_state and serves its
// transactional ids under coordinatorEpoch (the partition's leader epoch,
// written into every marker). Transactions found in a prepare state are
// completed at once, their markers written again; ongoing ones keep
// their start time and time out as usual. Until Load returns, requests
// for the partition's ids answer COORDINATOR_LOAD_IN_PROGRESS.
func (c *Coordinator) Load(p, coordinatorEpoch int32) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if _, ok := c.loaded[p]; ok || c.loading[p] {
		c.mu.Unlock()
		return nil
	}
	c.loading[p] = true
	c.mu.Unlock()

	txns, err := c.replay(p)

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.loading, p)
	if err != nil {
		return fmt.Errorf("txn: loading %s-%d: %w", Topic, p, err)
	}
	if c.closed {
		return ErrClosed
	}
	for id, m := range txns {
		c.txns[id] = m
		c.byPID[m.pid] = m
	}
	c.loaded[p] = coordinatorEpoch
	c.lg.Info("transaction partition loaded", "partition", p, "transactional_ids", len(txns))
	for _, m := range txns {
		if m.state == PrepareCommit || m.state == PrepareAbort {
			if err := c.complete(m); err != nil {
				c.lg.Warn("completing a prepared transaction failed; will retry", "transactional_id", m.id, "err", err)
			}
		}
	}
	return nil
}

// Unload stops serving a partition (its leadership moved away).
func (c *Coordinator) Unload(p int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.loaded, p)
	for id, m := range c.txns {
		if m.partition == p {
			delete(c.txns, id)
			delete(c.byPID, m.pid)
		}
	}
}

// Close unloads every partition; later requests answer
// COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.loaded = map[int32]int32{}
	c.txns = map[string]*txnMeta{}
	c.byPID = map[int64]*txnMeta{}
}

// Loaded reports whether a partition is loaded.
func (c *Coordinator) Loaded(p int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.loaded[p]
	return ok
}

// validate answers as Kafka's coordinator does for an id it cannot serve.
func (c *Coordinator) validate(id string) error {
	if c.closed {
		return kerr.CoordinatorNotAvailable
	}
	p := c.PartitionFor(id)
	if c.loading[p] {
		return kerr.CoordinatorLoadInProgress
	}
	if _, ok := c.loaded[p]; !ok {
		return kerr.NotCoordinator
	}
	return nil
}

// InitProducerID serves InitProducerId for a transactional id (Kafka's
// handleInitProducerId): a new id gets a fresh producer id at epoch 0; a
// known one gets its epoch bumped, which fences the previous producer
// (an ongoing transaction of the old epoch is aborted first, one being
// completed is finished first); an exhausted epoch gets a new producer
// id. reqPID/reqEpoch are the caller's current ones (-1 when unknown,
// KIP-360). Errors are kerr sentinels: INVALID_REQUEST,
// INVALID_TRANSACTION_TIMEOUT, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS,
// and the coordinator ones.
func (c *Coordinator) InitProducerID(id string, timeout time.Duration, reqPID int64, reqEpoch int16) (int64, int16, error) {
	if id == "" {
		return -1, -1, kerr.InvalidRequest
	}
	if timeout <= 0 || timeout > c.cfg.MaxTimeout {
		return -1, -1, kerr.InvalidTransactionTimeout
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.validate(id); err != nil {
		return -1, -1, err
	}
	now := c.cfg.Now()
	m := c.txns[id]
	if m == nil {
		pid, err := c.cfg.NextProducerID()
		if err != nil {
			return -1, -1, fmt.Errorf("%w: allocating a producer id: %w", kerr.CoordinatorNotAvailable, err)
		}
		next := &txnMeta{id: id, partition: c.PartitionFor(id), pid: pid, epoch: 0, lastEpoch: -1, timeout: timeout, state: Empty, updated: now}
		if err := c.store(next); err != nil {
			return -1, -1, err
		}
		c.txns[id] = next
		c.byPID[pid] = next
		return next.pid, next.epoch, nil
	}
	if reqPID >= 0 && (reqPID != m.pid || reqEpoch < m.epoch && reqEpoch != m.lastEpoch) {
		// KIP-360: only the current producer may re-initialize with its
		// id; anyone else is a zombie.
		return -1, -1, kerr.ProducerFenced
	}
	switch m.state {
	case PrepareCommit, PrepareAbort:
		if err := c.complete(m); err != nil {
			return -1, -1, kerr.ConcurrentTransactions
		}
	case Ongoing:
		if err := c.abort(m, true); err != nil {
			return -1, -1, kerr.ConcurrentTransactions
		}
	case Dead, PrepareEpochFence:
		return -1, -1, kerr.ConcurrentTransactions
	}
	next := m.clone()
	if next.epoch >= math.MaxInt16-1 {
		pid, err := c.cfg.NextProducerID()
		if err != nil {
			return -1, -1, fmt.Errorf("%w: allocating a producer id: %w", kerr.CoordinatorNotAvailable, err)
		}
		next.pid, next.epoch = pid, 0
	} else {
		next.epoch++
	}
	next.lastEpoch = -1
	next.timeout, next.state, next.parts, next.start, next.updated = timeout, Empty, nil, time.Time{}, now
	if err := c.store(next); err != nil {
		return -1, -1, err
	}
	if next.pid != m.pid {
		delete(c.byPID, m.pid)
		c.byPID[next.pid] = m
	}
	*m = *next
	return m.pid, m.epoch, nil
}

// current finds the transaction of id and checks the caller is its
// producer (Kafka: INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED).
func (c *Coordinator) current(id string, pid int64, epoch int16) (*txnMeta, error) {
	if err := c.validate(id); err != nil {
		return nil, err
	}
	m := c.txns[id]
	switch {
	case m == nil || m.pid != pid:
		return nil, kerr.InvalidProducerIDMapping
	case m.epoch != epoch:
		return nil, kerr.ProducerFenced
	}
	return m, nil
}

// AddPartitions adds partitions to the producer's transaction (Kafka's
// handleAddPartitionsToTransaction), starting it if none is ongoing.
// Errors: INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED,
// CONCURRENT_TRANSACTIONS (a transaction is being completed),
// INVALID_TXN_STATE, and the coordinator ones.
func (c *Coordinator) AddPartitions(id string, pid int64, epoch int16, parts []TopicPartition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.current(id, pid, epoch)
	if err != nil {
		return err
	}
	return c.add(m, parts)
}

// AddOffsets adds the __consumer_offsets partition of group to the
// producer's transaction, so that EndTxn writes a marker there and the
// group's transactional offset commits become visible or are dropped.
func (c *Coordinator) AddOffsets(id string, pid int64, epoch int16, group string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.current(id, pid, epoch)
	if err != nil {
		return err
	}
	return c.add(m, []TopicPartition{{c.cfg.GroupTopic, c.cfg.GroupPartition(group)}})
}

func (c *Coordinator) add(m *txnMeta, parts []TopicPartition) error {
	switch m.state {
	case PrepareCommit, PrepareAbort:
		return kerr.ConcurrentTransactions
	case Dead, PrepareEpochFence:
		return kerr.InvalidTxnState
	}
	if m.state == Ongoing && !slices.ContainsFunc(parts, func(tp TopicPartition) bool { return !m.parts[tp] }) {
		return nil // nothing new: no write
	}
	now := c.cfg.Now()
	next := m.clone()
	if next.state != Ongoing {
		next.start = now
		next.parts = map[TopicPartition]bool{}
	}
	for _, tp := range parts {
		next.parts[tp] = true
	}
	next.state, next.updated = Ongoing, now
	if err := c.store(next); err != nil {
		return err
	}
	*m = *next
	return nil
}

// EndTxn commits or aborts the producer's transaction (Kafka's
// handleEndTransaction): it stores PrepareCommit/PrepareAbort, writes a
// marker to every partition of the transaction and stores
// CompleteCommit/CompleteAbort. A retry of a completed end answers
// success; ending the other way, or with nothing ongoing, answers
// INVALID_TXN_STATE; a retry while completing answers
// CONCURRENT_TRANSACTIONS.
func (c *Coordinator) EndTxn(id string, pid int64, epoch int16, commit bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.current(id, pid, epoch)
	if err != nil {
		return err
	}
	switch m.state {
	case Ongoing:
	case CompleteCommit:
		if commit {
			return nil
		}
		return kerr.InvalidTxnState
	case CompleteAbort:
		if !commit {
			return nil
		}
		return kerr.InvalidTxnState
	case PrepareCommit, PrepareAbort:
		if commit == (m.state == PrepareCommit) {
			if err := c.complete(m); err != nil {
				return kerr.ConcurrentTransactions
			}
			return nil
		}
		return kerr.InvalidTxnState
	default:
		return kerr.InvalidTxnState
	}
	if !commit {
		return c.abort(m, false)
	}
	next := m.clone()
	next.state, next.updated = PrepareCommit, c.cfg.Now()
	if err := c.store(next); err != nil {
		return err
	}
	*m = *next
	if err := c.complete(m); err != nil {
		// The decision is stored: Tick finishes it, as Kafka's marker
		// channel retries after answering the producer.
		c.lg.Warn("writing commit markers failed; will retry", "transactional_id", id, "err", err)
	}
	return nil
}

// abort moves an ongoing transaction to PrepareAbort (with an epoch bump
// when fence is set, so the old producer can no longer write) and
// completes it.
func (c *Coordinator) abort(m *txnMeta, fence bool) error {
	next := m.clone()
	if fence && next.epoch < math.MaxInt16-1 {
		next.lastEpoch = next.epoch
		next.epoch++
	}
	next.state, next.updated = PrepareAbort, c.cfg.Now()
	if err := c.store(next); err != nil {
		return err
	}
	*m = *next
	if err := c.complete(m); err != nil {
		c.lg.Warn("writing abort markers failed; will retry", "transactional_id", m.id, "err", err)
		if fence {
			return err
		}
	}
	return nil
}

// complete writes the markers of a prepared transaction and stores its
// completion. On an error the transaction stays prepared.
func (c *Coordinator) complete(m *txnMeta) error {
	commit := m.state == PrepareCommit
	coordEpoch := c.loaded[m.partition]
	for _, tp := range m.sortedParts() {
		if err := c.markers.WriteMarker(tp, m.pid, m.epoch, commit, coordEpoch); err != nil {
			return fmt.Errorf("txn: marker for %s-%d: %w", tp.Topic, tp.Partition, err)
		}
	}
	next := m.clone()
	next.state = CompleteAbort
	if commit {
		next.state = CompleteCommit
	}
	next.parts, next.start, next.updated = nil, time.Time{}, c.cfg.Now()
	if err := c.store(next); err != nil {
		return err
	}
	*m = *next
	return nil
}

// Tick checks the clock: an ongoing transaction past its timeout is
// aborted with an epoch bump (so its producer is fenced), prepared
// transactions whose completion failed are completed again, and ids idle
// for transactional.id.expiration.ms are removed (a tombstone).
func (c *Coordinator) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	now := c.cfg.Now()
	for _, id := range slices.Sorted(maps.Keys(c.txns)) {
		m := c.txns[id]
		if _, ok := c.loaded[m.partition]; !ok {
			continue
		}
		switch m.state {
		case Ongoing:
			if now.Sub(m.start) >= m.timeout {
				c.lg.Info("aborting a timed-out transaction", "transactional_id", id, "producer_id", m.pid, "epoch", m.epoch)
				if err := c.abort(m, true); err != nil {
					c.lg.Warn("aborting a timed-out transaction failed", "transactional_id", id, "err", err)
				}
			}
		case PrepareCommit, PrepareAbort:
			if err := c.complete(m); err != nil {
				c.lg.Warn("completing a prepared transaction failed", "transactional_id", id, "err", err)
			}
		case Empty, CompleteCommit, CompleteAbort:
			if now.Sub(m.updated) >= c.cfg.IDExpiration {
				if err := c.remove(m); err != nil {
					c.lg.Warn("expiring a transactional id failed", "transactional_id", id, "err", err)
				}
			}
		}
	}
}

// remove stores a tombstone for an idle transactional id and forgets it.
func (c *Coordinator) remove(m *txnMeta) error {
	if err := c.append(m.partition, []rec{{key: txnKey(m.id)}}); err != nil {
		return err
	}
	delete(c.txns, m.id)
	delete(c.byPID, m.pid)
	return nil
}

// Description is a transaction as DescribeTransactions reports it.
type Description struct {
	ID            string
	State         State
	ProducerID    int64
	ProducerEpoch int16
	Timeout       time.Duration
	Start         time.Time // zero when no transaction is ongoing
	Partitions    []TopicPartition
}

func (m *txnMeta) describe() Description {
	return Description{ID: m.id, State: m.state, ProducerID: m.pid, ProducerEpoch: m.epoch, Timeout: m.timeout, Start: m.start, Partitions: m.sortedParts()}
}

// Describe returns one transactional id; the error is a kerr sentinel
// (TRANSACTIONAL_ID_NOT_FOUND, or a coordinator error).
func (c *Coordinator) Describe(id string) (Description, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.validate(id); err != nil {
		return Description{}, err
	}
	m := c.txns[id]
	if m == nil {
		return Description{}, kerr.TransactionalIDNotFound
	}
	return m.describe(), nil
}

// List returns the transactional ids this coordinator serves, sorted,
// filtered as ListTransactions asks: by state (none = all), by producer
// id (none = all), and by running longer than minDuration (negative =
// all). Unknown state names match nothing; the caller reports them.
func (c *Coordinator) List(states []State, pids []int64, minDuration time.Duration) []Description {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	var out []Description
	for _, id := range slices.Sorted(maps.Keys(c.txns)) {
		m := c.txns[id]
		if _, ok := c.loaded[m.partition]; !ok {
			continue
		}
		switch {
		case len(states) > 0 && !slices.Contains(states, m.state),
			len(pids) > 0 && !slices.Contains(pids, m.pid),
			minDuration >= 0 && (m.state != Ongoing || now.Sub(m.start) < minDuration):
			continue
		}
		out = append(out, m.describe())
	}
	return out
}

// Verify reports whether a transactional producer may write to a
// partition (KIP-890's produce verification): its transaction must be
// ongoing at the producer's epoch with the partition added. The error is
// INVALID_TXN_STATE, PRODUCER_FENCED, or nil when the producer is not a
// transactional producer this coordinator knows.
func (c *Coordinator) Verify(pid int64, epoch int16, tp TopicPartition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byPID[pid]
	switch {
	case m == nil:
		return nil
	case epoch < m.epoch:
		return kerr.ProducerFenced
	case m.state != Ongoing || !m.parts[tp]:
		return kerr.InvalidTxnState
	}
	return nil
}
