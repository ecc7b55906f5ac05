package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/config"
	plog "github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/broker/internal/meta"
)

// partition is one partition this broker leads.
type partition struct {
	topic string
	index int32
	dir   string
	log   *plog.Log

	// replicas and isr come from the metadata image.
	replicas []int32
	isr      []int32

	mu          sync.Mutex
	leaderEpoch int32
	waiters     map[chan struct{}]struct{}
}

// watch registers ch to be signalled (non-blocking) on the next append.
func (p *partition) watch(ch chan struct{}) {
	p.mu.Lock()
	if p.waiters == nil {
		p.waiters = map[chan struct{}]struct{}{}
	}
	p.waiters[ch] = struct{}{}
	p.mu.Unlock()
}

func (p *partition) unwatch(ch chan struct{}) {
	p.mu.Lock()
	delete(p.waiters, ch)
	p.mu.Unlock()
}

// notify wakes every long-polling fetch that watches this partition.
func (p *partition) notify() {
	p.mu.Lock()
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
}

func (p *partition) epoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaderEpoch
}

// highWatermark is the offset below which records are committed. On a single
// node every appended record is committed (it is in the page cache of the
// only replica), so it equals the log end offset; replication will make it
// the minimum log end offset of the ISR.
func (p *partition) highWatermark() int64 { return p.log.EndOffset() }

// lastStableOffset is the offset below which read_committed consumers
// read: the first offset of the oldest open transaction, capped by the
// high watermark.
func (p *partition) lastStableOffset() int64 {
	return min(p.log.LastStableOffset(), p.highWatermark())
}

type topicState struct {
	name     string
	id       meta.TopicID
	internal bool
	// conf holds the overrides and the effective config together; an
	// alteration swaps it whole, so readers on the produce path take no
	// lock shared across partitions.
	conf  atomic.Pointer[topicConf]
	parts []*partition
}

// registry maps topics to their open partition logs. The metadata store is
// the source of truth; the registry follows it.
type registry struct {
	s      *Server
	mu     sync.RWMutex
	topics map[string]*topicState
	byID   map[meta.TopicID]*topicState
	// adminMu serializes topic creation, deletion and partition changes.
	adminMu sync.Mutex
}

func newRegistry(s *Server) *registry {
	return &registry{s: s, topics: map[string]*topicState{}, byID: map[meta.TopicID]*topicState{}}
}

func (r *registry) topic(name string) *topicState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.topics[name]
}

func (r *registry) topicByID(id meta.TopicID) *topicState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byID[id]
}

func (r *registry) partition(topic string, idx int32) (*topicState, *partition) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t := r.topics[topic]
	if t == nil || idx < 0 || int(idx) >= len(t.parts) {
		return t, nil
	}
	return t, t.parts[idx]
}

func (r *registry) all() []*topicState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*topicState, 0, len(r.topics))
	for _, t := range r.topics {
		out = append(out, t)
	}
	return out
}

// logConfig is a partition log's config: the topic's, plus the broker-wide
// producer.id.expiration.ms (dynamic; a broker config change re-derives
// every topic's log config after the new broker config is in place).
func (r *registry) logConfig(t config.Topic) plog.Config {
	return plog.Config{
		ProducerIDExpirationMs: r.s.config().ProducerIDExpirationMs,
		SegmentBytes:           t.SegmentBytes,
		SegmentMs:              t.SegmentMs,
		RetentionMs:            t.RetentionMs,
		RetentionBytes:         t.RetentionBytes,
		IndexIntervalBytes:     t.IndexIntervalBytes,
		SegmentIndexBytes:      t.SegmentIndexBytes,
		FlushMessages:          t.FlushMessages,
		FlushMs:                t.FlushMs,
		MaxMessageBytes:        t.MaxMessageBytes,
		TimestampType:          t.TimestampType,
		TimestampBeforeMaxMs:   t.TimestampBeforeMaxMs,
		TimestampAfterMaxMs:    t.TimestampAfterMaxMs,
		// cleanup.policy=compact alone keeps every segment until the
		// cleaner removes superseded records; compact,delete does both.
		CompactOnly: slices.Contains(t.CleanupPolicy, "compact") && !slices.Contains(t.CleanupPolicy, "delete"),
	}
}

func partDirName(topic string, idx int32) string {
	return topic + "-" + strconv.Itoa(int(idx))
}

// findDir returns the log dir that holds a partition, or the least loaded
// dir for a new one.
func (r *registry) findDir(topic string, idx int32) string {
	name := partDirName(topic, idx)
	best, bestN := "", -1
	for _, d := range r.s.config().LogDirs {
		if st, err := os.Stat(filepath.Join(d, name)); err == nil && st.IsDir() {
			return filepath.Join(d, name)
		}
		ents, _ := os.ReadDir(d)
		if bestN < 0 || len(ents) < bestN {
			best, bestN = d, len(ents)
		}
	}
	return filepath.Join(best, name)
}

// open opens (or creates) the logs of a topic from the metadata image.
func (r *registry) open(mt *meta.Topic) (*topicState, error) {
	cfg, err := r.s.config().Topic(mt.Configs)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", mt.Name, err)
	}
	t := &topicState{name: mt.Name, id: mt.ID, internal: mt.Internal}
	t.conf.Store(&topicConf{overrides: mt.Configs, cfg: cfg})
	for i := range mt.Partitions {
		p, err := r.openPartition(t, int32(i), mt.Partitions[i])
		if err != nil {
			for _, q := range t.parts {
				q.log.Close()
			}
			return nil, err
		}
		t.parts = append(t.parts, p)
	}
	return t, nil
}

func (r *registry) openPartition(t *topicState, idx int32, mp meta.Partition) (*partition, error) {
	dir := r.findDir(t.name, idx)
	l, err := plog.Open(dir, r.logConfig(*t.config()), plog.WithLogger(r.s.log.With("partition", partDirName(t.name, idx))))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	return &partition{topic: t.name, index: idx, dir: dir, log: l, leaderEpoch: mp.LeaderEpoch, replicas: mp.Replicas, isr: mp.ISR}, nil
}

// load opens every topic in the metadata and removes partition directories
// that belong to no topic (a delete interrupted by a crash).
func (r *registry) load() error {
	var topics []*meta.Topic
	r.s.meta.View(func(im *meta.Image) { topics = im.Topics() })
	start := time.Now()
	known := map[string]bool{}
	for _, mt := range topics {
		t, err := r.open(mt)
		if err != nil {
			return err
		}
		r.topics[t.name] = t
		r.byID[t.id] = t
		for _, p := range t.parts {
			known[p.dir] = true
		}
	}
	for _, d := range r.s.config().LogDirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("server: reading log dir: %w", err)
		}
		for _, e := range ents {
			if !e.IsDir() || strings.HasPrefix(e.Name(), "__cluster_metadata") {
				continue
			}
			p := filepath.Join(d, e.Name())
			if known[p] || !looksLikePartitionDir(e.Name()) {
				continue
			}
			r.s.log.Warn("removing partition directory of a deleted topic", "dir", p)
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("server: %w", err)
			}
		}
	}
	r.s.log.Info("logs loaded", "topics", len(topics), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func looksLikePartitionDir(name string) bool {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return false
	}
	_, err := strconv.Atoi(name[i+1:])
	return err == nil
}

func newTopicID() (meta.TopicID, error) {
	var id meta.TopicID
	for id == (meta.TopicID{}) {
		if _, err := rand.Read(id[:]); err != nil {
			return id, err
		}
	}
	return id, nil
}

// create creates a topic: validates, records it in the metadata log, then
// opens its logs. validateOnly stops after validation.
func (r *registry) create(name string, partitions int32, rf int16, configs map[string]string, validateOnly bool) (*topicState, error) {
	if err := validateTopicName(name); err != nil {
		return nil, err
	}
	if partitions == -1 {
		partitions = r.s.config().NumPartitions
	}
	if rf == -1 {
		rf = r.s.config().DefaultReplicationFactor
	}
	if partitions <= 0 {
		return nil, fmt.Errorf("%w: number of partitions must be larger than 0", kerr.InvalidPartitions)
	}
	if partitions > 100000 {
		return nil, fmt.Errorf("%w: %d partitions is more than this broker allows (100000)", kerr.InvalidPartitions, partitions)
	}
	if rf <= 0 {
		return nil, fmt.Errorf("%w: replication factor must be larger than 0", kerr.InvalidReplicationFactor)
	}
	if rf > 1 {
		return nil, fmt.Errorf("%w: replication factor %d is larger than the 1 available broker", kerr.InvalidReplicationFactor, rf)
	}
	if err := config.ValidateTopicConfigs(configs); err != nil {
		return nil, err
	}
	if _, err := r.s.config().Topic(configs); err != nil {
		return nil, fmt.Errorf("%w: %v", kerr.InvalidConfig, err)
	}
	r.adminMu.Lock()
	defer r.adminMu.Unlock()
	if r.topic(name) != nil {
		return nil, fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, name)
	}
	if c := r.collision(name); c != "" {
		return nil, fmt.Errorf("%w: topic %q collides with existing topic %q ('.' and '_' are the same in metric names)", kerr.InvalidTopicException, name, c)
	}
	if validateOnly {
		return nil, nil
	}
	id, err := newTopicID()
	if err != nil {
		return nil, err
	}
	mt := &meta.Topic{Name: name, ID: id, Internal: internalTopics[name], Configs: configs}
	for range partitions {
		mt.Partitions = append(mt.Partitions, r.newAssignment())
	}
	if err := r.s.meta.Append(meta.Record{CreateTopic: mt}); err != nil {
		return nil, err
	}
	t, err := r.open(mt)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.topics[name] = t
	r.byID[id] = t
	r.mu.Unlock()
	r.s.log.Info("topic created", "topic", name, "partitions", partitions, "configs", configs)
	return t, nil
}

func (r *registry) newAssignment() meta.Partition {
	n := r.s.config().NodeID
	return meta.Partition{Replicas: []int32{n}, ISR: []int32{n}, Leader: n}
}

func (r *registry) collision(name string) string {
	norm := strings.ReplaceAll(name, ".", "_")
	r.mu.RLock()
	defer r.mu.RUnlock()
	for other := range r.topics {
		if other != name && strings.ReplaceAll(other, ".", "_") == norm {
			return other
		}
	}
	return ""
}

// remove deletes a topic and its data.
func (r *registry) remove(t *topicState) error {
	r.adminMu.Lock()
	defer r.adminMu.Unlock()
	if r.topicByID(t.id) != t {
		return fmt.Errorf("%w: %s", kerr.UnknownTopicOrPartition, t.name)
	}
	if err := r.s.meta.Append(meta.Record{DeleteTopic: &meta.DeleteTopic{ID: t.id}}); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.topics, t.name)
	delete(r.byID, t.id)
	r.mu.Unlock()
	var first error
	for _, p := range t.parts {
		p.notify()
		if err := p.log.Delete(); err != nil && first == nil {
			first = err
		}
	}
	r.s.log.Info("topic deleted", "topic", t.name)
	return first
}

// addPartitions grows a topic to total partitions.
func (r *registry) addPartitions(t *topicState, total int32, validateOnly bool) error {
	r.adminMu.Lock()
	defer r.adminMu.Unlock()
	cur := int32(len(t.parts))
	if total < cur {
		return fmt.Errorf("%w: topic %s has %d partitions; the count can only grow", kerr.InvalidPartitions, t.name, cur)
	}
	if total == cur {
		return fmt.Errorf("%w: topic %s already has %d partitions", kerr.InvalidPartitions, t.name, cur)
	}
	if total > 100000 {
		return fmt.Errorf("%w: %d partitions is more than this broker allows (100000)", kerr.InvalidPartitions, total)
	}
	if validateOnly {
		return nil
	}
	var add []meta.Partition
	for range total - cur {
		add = append(add, r.newAssignment())
	}
	if err := r.s.meta.Append(meta.Record{AddPartitions: &meta.AddPartitions{ID: t.id, Partitions: add}}); err != nil {
		return err
	}
	var parts []*partition
	for i := cur; i < total; i++ {
		p, err := r.openPartition(t, i, add[i-cur])
		if err != nil {
			return err
		}
		parts = append(parts, p)
	}
	r.mu.Lock()
	t.parts = append(t.parts[:cur:cur], parts...)
	r.mu.Unlock()
	return nil
}

// topicConfig returns a topic's overrides and effective config. They change
// together when AlterConfigs applies (one atomic swap) and are never
// mutated in place: readers keep the values they got.
func (r *registry) topicConfig(t *topicState) (map[string]string, config.Topic) {
	c := t.conf.Load()
	return c.overrides, c.cfg
}

// topicConf is a topic's config overrides and the config derived from them.
type topicConf struct {
	overrides map[string]string
	cfg       config.Topic
}

// config returns the topic's effective config.
func (t *topicState) config() *config.Topic { return &t.conf.Load().cfg }

// setTopicConfig makes new overrides and the config derived from them
// current for an open topic, and hands every partition log its new log
// config: a lower retention.ms deletes segments on the next retention
// check, a new segment.bytes rolls at the new size. Callers hold adminMu,
// so partitions cannot be added meanwhile and two changes cannot reach the
// logs out of order. overrides must not be changed afterwards.
func (r *registry) setTopicConfig(t *topicState, overrides map[string]string, cfg config.Topic) {
	r.mu.Lock()
	t.conf.Store(&topicConf{overrides: overrides, cfg: cfg})
	parts := t.parts
	r.mu.Unlock()
	lc := r.logConfig(cfg)
	for _, p := range parts {
		p.log.SetConfig(lc)
	}
}

// eachPartition calls fn for every partition of every open topic that
// keep accepts (nil keeps all), without holding the registry lock while fn
// runs.
func (r *registry) eachPartition(keep func(*topicState) bool, fn func(*partition)) {
	for _, t := range r.all() {
		if keep != nil && !keep(t) {
			continue
		}
		r.mu.RLock()
		parts := t.parts
		r.mu.RUnlock()
		for _, p := range parts {
			fn(p)
		}
	}
}

func (r *registry) enforceRetention(now time.Time) {
	r.eachPartition(nil, func(p *partition) {
		if n, err := p.log.EnforceRetention(now); err != nil {
			r.s.log.Warn("retention failed", "partition", partDirName(p.topic, p.index), "err", err)
		} else if n > 0 {
			r.s.log.Info("retention deleted segments", "partition", partDirName(p.topic, p.index), "segments", n, "log_start_offset", p.log.StartOffset())
		}
	})
}

// flushDue flushes the partitions of topics with a flush.ms setting.
func (r *registry) flushDue() {
	withFlushMs := func(t *topicState) bool {
		_, cfg := r.topicConfig(t)
		return cfg.FlushMs > 0 && cfg.FlushMs < int64(1<<62)
	}
	r.eachPartition(withFlushMs, func(p *partition) {
		if err := p.log.Flush(); err != nil {
			r.s.log.Warn("flush failed", "partition", partDirName(p.topic, p.index), "err", err)
		}
	})
}

// flushRolled runs FlushRolled on every partition: segments that rolled
// since the last tick are fsynced outside the append lock and the recovery
// point moves to the active segment, as Kafka flushes on roll, so a restart
// after a crash re-validates only the active segments. A partition with
// nothing rolled costs an atomic load.
func (r *registry) flushRolled() {
	r.eachPartition(nil, func(p *partition) {
		if err := p.log.FlushRolled(); err != nil {
			r.s.log.Warn("flushing rolled segments failed", "partition", partDirName(p.topic, p.index), "err", err)
		}
	})
}

func (r *registry) closeAll() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, t := range r.topics {
		for _, p := range t.parts {
			if err := p.log.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// internalTopics are the topics the broker's coordinators own; clients
// cannot create them and they are flagged internal in Metadata.
var internalTopics = map[string]bool{"__consumer_offsets": true, "__transaction_state": true, "__cluster_metadata": true}

// validateTopicName applies Kafka's topic name rules (Topic.validate).
func validateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: topic name is empty", kerr.InvalidTopicException)
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic name cannot be %q", kerr.InvalidTopicException, name)
	case len(name) > 249:
		return fmt.Errorf("%w: topic name is %d characters, more than the 249 allowed", kerr.InvalidTopicException, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic name %q has the character %q; only ASCII letters, digits, '.', '_' and '-' are allowed", kerr.InvalidTopicException, name, c)
		}
	}
	return nil
}
