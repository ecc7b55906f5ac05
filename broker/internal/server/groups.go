package server

// The group coordinator's wiring. openGroups runs in New after the partition
// logs are open (it replays __consumer_offsets); closeGroups runs in Close
// after the connections are gone and before the logs close.
//
// The coordinator itself (package group) knows nothing of the server: it
// gets offsetsLog to append to and scan __consumer_offsets partitions, and
// a ticker here drives its deadlines. The topic is created on first need
// (FindCoordinator), as Kafka does, and each partition is loaded into the
// coordinator once it exists; a replicated broker will Load and Unload
// partitions as their leadership moves.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
	"github.com/sluicehq/sluice/broker/internal/group"
)

// groupTick is how often the coordinator's deadlines are checked; session
// and rebalance timeouts are seconds, so 100 ms is precise enough.
const groupTick = 100 * time.Millisecond

// groupsState is the server's part of the group coordinator.
type groupsState struct {
	coord *group.Coordinator
	// createMu serializes creating and loading __consumer_offsets.
	createMu sync.Mutex
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func (s *Server) openGroups() error {
	// The group settings are static in Kafka (not dynamic broker
	// configs), so they are read once here.
	cfg := s.config()
	partitions := cfg.OffsetsTopicNumPartitions
	if t := s.parts.topic(group.Topic); t != nil {
		// Kafka hashes groups over the topic's real partition count.
		partitions = int32(len(t.parts))
	}
	coord := group.New(group.Config{
		Partitions:             partitions,
		InitialRebalanceDelay:  time.Duration(cfg.GroupInitialRebalanceDelayMs) * time.Millisecond,
		MinSessionTimeout:      time.Duration(cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:      time.Duration(cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
		MaxSize:                int(cfg.GroupMaxSize),
		OffsetsRetention:       time.Duration(cfg.OffsetsRetentionMs) * time.Millisecond,
		RetentionCheckInterval: time.Duration(cfg.OffsetsRetentionCheckMs) * time.Millisecond,
		MaxMetadataBytes:       int(cfg.OffsetMetadataMaxBytes),

		ConsumerSessionTimeout:    time.Duration(cfg.GroupConsumerSessionTimeoutMs) * time.Millisecond,
		ConsumerHeartbeatInterval: time.Duration(cfg.GroupConsumerHeartbeatIntervalMs) * time.Millisecond,
		ConsumerMaxSize:           int(cfg.GroupConsumerMaxSize),
		ConsumerAssignors:         cfg.GroupConsumerAssignors,
		Topics:                    s.groupTopics,
		Exists: func(topic string, p int32) bool {
			_, part := s.parts.partition(topic, p)
			return part != nil
		},
		Logger: s.log.With("component", "group-coordinator"),
	}, offsetsLog{s})
	if err := s.loadOffsetsPartitions(coord); err != nil {
		coord.Close()
		return err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.groups = &groupsState{coord: coord, cancel: cancel}
	s.groups.wg.Add(1)
	go func() {
		defer s.groups.wg.Done()
		t := time.NewTicker(groupTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				coord.Tick()
			}
		}
	}()
	return nil
}

func (s *Server) closeGroups() {
	if s.groups == nil {
		return
	}
	s.groups.cancel()
	s.groups.wg.Wait()
	s.groups.coord.Close()
}

// loadOffsetsPartitions loads every existing __consumer_offsets partition.
func (s *Server) loadOffsetsPartitions(coord *group.Coordinator) error {
	t := s.parts.topic(group.Topic)
	if t == nil {
		return nil
	}
	s.parts.mu.RLock()
	n := len(t.parts)
	s.parts.mu.RUnlock()
	for p := range int32(n) {
		if err := coord.Load(p); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// ensureOffsetsTopic creates __consumer_offsets if it does not exist yet
// (with offsets.topic.num.partitions, compacted, offsets.topic.segment.bytes)
// and loads its partitions into the coordinator.
func (s *Server) ensureOffsetsTopic() error {
	g := s.groups
	cfg := s.config()
	if t := s.parts.topic(group.Topic); t != nil && g.coord.Loaded(0) {
		return nil
	}
	g.createMu.Lock()
	defer g.createMu.Unlock()
	if s.parts.topic(group.Topic) == nil {
		configs := map[string]string{
			"cleanup.policy":   "compact",
			"segment.bytes":    strconv.Itoa(int(cfg.OffsetsTopicSegmentBytes)),
			"compression.type": "producer",
		}
		if _, err := s.parts.create(group.Topic, cfg.OffsetsTopicNumPartitions, 1, configs, false); err != nil {
			return fmt.Errorf("server: creating %s: %w", group.Topic, err)
		}
	}
	return s.loadOffsetsPartitions(g.coord)
}

// groupTopics lists the topics for consumer-protocol assignment: every
// topic with its id and partition count, internal ones included (Kafka's
// regex subscriptions match them too).
func (s *Server) groupTopics() map[string]group.TopicInfo {
	s.parts.mu.RLock()
	defer s.parts.mu.RUnlock()
	out := make(map[string]group.TopicInfo, len(s.parts.topics))
	for name, t := range s.parts.topics {
		out[name] = group.TopicInfo{ID: t.id, Partitions: int32(len(t.parts))}
	}
	return out
}

// offsetsLog gives the coordinator the partitions of __consumer_offsets.
type offsetsLog struct{ s *Server }

func (l offsetsLog) partition(p int32) (*partition, error) {
	_, part := l.s.parts.partition(group.Topic, p)
	if part == nil {
		return nil, fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, group.Topic, p)
	}
	return part, nil
}

// Append stores a coordinator batch and wakes fetchers of the partition.
func (l offsetsLog) Append(p int32, b []byte) (int64, error) {
	part, err := l.partition(p)
	if err != nil {
		return 0, err
	}
	res, err := part.log.Append(b, part.epoch())
	if err != nil {
		return 0, err
	}
	part.notify()
	return res.BaseOffset, nil
}

// Scan reads a partition from its start to its current end, batch by batch.
func (l offsetsLog) Scan(p int32, fn func([]byte) error) error {
	part, err := l.partition(p)
	if err != nil {
		return err
	}
	off, end := part.log.StartOffset(), part.log.EndOffset()
	for off < end {
		// A fresh buffer per read: decoded records may alias it.
		b, err := part.log.Read(off, 1<<20, end, true, nil)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			return nil
		}
		next := off
		for one, err := range batch.Split(b) {
			if err != nil {
				return err
			}
			h, err := batch.ParseHeader(one)
			if err != nil {
				return err
			}
			if h.LastOffset() < off {
				continue // the batch holding off started before it
			}
			if err := fn(one); err != nil {
				return err
			}
			next = h.LastOffset() + 1
		}
		if next == off {
			return fmt.Errorf("server: scanning %s-%d made no progress at offset %d", group.Topic, p, off)
		}
		off = next
	}
	return nil
}
