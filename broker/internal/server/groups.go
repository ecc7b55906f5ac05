package server

// The group coordinator's wiring. openGroups runs in New after the partition
// logs are open (it replays __consumer_offsets); closeGroups runs in Close
// after the connections are gone and before the logs close.
//
// The coordinator itself (package group) knows nothing of the server: it
// gets an internalLog (internal_topics.go) to append to and scan
// __consumer_offsets partitions, and a ticker drives its deadlines. The topic is created on first need
// (FindCoordinator), as Kafka does, and each partition is loaded into the
// coordinator once it exists; a replicated broker will Load and Unload
// partitions as their leadership moves.

import (
	"context"
	"fmt"
	"sync"
	"time"

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
	}, internalLog{s, group.Topic})
	if err := s.loadOffsetsPartitions(coord); err != nil {
		coord.Close()
		return err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.groups = &groupsState{coord: coord, cancel: cancel}
	startTicker(ctx, &s.groups.wg, groupTick, coord.Tick)
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
	for p := range s.partitionCount(group.Topic) {
		if err := coord.Load(p); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// ensureOffsetsTopic creates __consumer_offsets if it does not exist yet
// (offsets.topic.num.partitions, compacted, offsets.topic.segment.bytes)
// and loads its partitions into the coordinator.
func (s *Server) ensureOffsetsTopic() error {
	g, cfg := s.groups, s.config()
	return s.ensureInternalTopic(&g.createMu, group.Topic, cfg.OffsetsTopicNumPartitions, int(cfg.OffsetsTopicSegmentBytes),
		func() bool { return g.coord.Loaded(0) },
		func() error { return s.loadOffsetsPartitions(g.coord) })
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
