package group

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitCodes are the error codes of an offset commit's partitions, by
// topic and partition in request order; 0 is success.
type commitCodes [][]int16

func newCommitCodes(topics int, partitions func(i int) int) commitCodes {
	c := make(commitCodes, topics)
	for i := range c {
		c[i] = make([]int16, partitions(i))
	}
	return c
}

// failRest gives code to every partition not already refused on its own:
// a failure of the whole commit.
func (c commitCodes) failRest(code int16) {
	for i := range c {
		for j := range c[i] {
			if c[i][j] == 0 {
				c[i][j] = code
			}
		}
	}
}

// CommitOffsets serves an OffsetCommit request (v0-v8). A member of a
// group commits with its member id and generation; a simple consumer
// (generation -1, no member id) commits to a group that has no members,
// creating it. The response is returned only after the records are stored.
func (c *Coordinator) CommitOffsets(req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	resp := kmsg.NewPtrOffsetCommitResponse()
	codes := newCommitCodes(len(req.Topics), func(i int) int { return len(req.Topics[i].Partitions) })
	defer func() {
		for i, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for j, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}()
	fail := func(code int16) *kmsg.OffsetCommitResponse {
		codes.failRest(code)
		return resp
	}
	if err := c.validate(req.Group, apiEmptyIDAllowed); err != nil {
		return fail(err.Code)
	}
	instanceID := ""
	if req.InstanceID != nil {
		instanceID = *req.InstanceID
	}
	g := c.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			return fail(kerr.IllegalGeneration.Code) // from an old generation of a gone group
		}
		g = newGroup(req.Group, c.PartitionFor(req.Group), now)
		c.groups[req.Group] = g
		defer func() {
			if len(g.offsets) == 0 && len(g.members) == 0 && c.groups[g.id] == g {
				delete(c.groups, g.id) // nothing was committed: no group
			}
		}()
	}
	if g.consumer != nil {
		if err := validateConsumerCommit(g.consumer, req.Version, req.MemberID, req.Generation); err != nil {
			return fail(err.Code)
		}
	} else if err := validateCommit(g, req.Generation, req.MemberID, instanceID); err != nil {
		return fail(err.Code)
	}
	switch g.state {
	case stateCompletingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case stateStable, statePreparingRebalance:
		if m := g.members[req.MemberID]; m != nil {
			m.lastHeartbeat = now
		}
	}

	var expire time.Time
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis >= 0 {
		expire = now.Add(time.Duration(req.RetentionTimeMillis) * time.Millisecond)
	}
	var recs []rec
	type commit struct {
		t tp
		o *offset
	}
	var commits []commit
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			meta, code := c.commitMetadata(t.Topic, p.Partition, p.Metadata)
			if code != 0 {
				codes[i][j] = code
				continue
			}
			o := &offset{offset: p.Offset, leaderEpoch: -1, metadata: meta, commitTime: now, expireTime: expire}
			if req.Version >= 6 {
				o.leaderEpoch = p.LeaderEpoch
			}
			if req.Version == 1 && p.Timestamp >= 0 {
				o.commitTime = time.UnixMilli(p.Timestamp)
				o.expireTime = o.commitTime.Add(c.cfg.OffsetsRetention)
			}
			k := tp{strings.Clone(t.Topic), p.Partition}
			commits = append(commits, commit{k, o})
			recs = append(recs, offsetRecord(g.id, k, o))
		}
	}
	if err := c.append(g.partition, recs, now); err != nil {
		return fail(storeErrorCode(err))
	}
	for _, cm := range commits {
		g.offsets[cm.t] = cm.o
	}
	return resp
}

// commitMetadata checks one partition of an offset commit as Kafka does
// (the partition exists, the metadata fits offset.metadata.max.bytes) and
// returns its metadata, cloned so it does not alias the request, or the
// partition's error code.
func (c *Coordinator) commitMetadata(topic string, partition int32, metadata *string) (string, int16) {
	meta := ""
	if metadata != nil {
		meta = strings.Clone(*metadata)
	}
	switch {
	case c.cfg.Exists != nil && !c.cfg.Exists(topic, partition):
		return "", kerr.UnknownTopicOrPartition.Code
	case len(meta) > c.cfg.MaxMetadataBytes:
		return "", kerr.OffsetMetadataTooLarge.Code
	}
	return meta, 0
}

// validateCommit is Kafka's validateOffsetCommit.
func validateCommit(g *group, generation int32, memberID, instanceID string) *kerr.Error {
	switch {
	case g.is(stateDead):
		return kerr.CoordinatorNotAvailable
	case generation >= 0 || memberID != "" || instanceID != "":
		switch {
		case g.staticFenced(memberID, instanceID):
			return kerr.FencedInstanceID
		case g.members[memberID] == nil:
			return kerr.UnknownMemberID
		case generation != g.generation:
			return kerr.IllegalGeneration
		}
	case !g.is(stateEmpty):
		// Only members commit to a group that has members.
		return kerr.UnknownMemberID
	}
	return nil
}

// TopicPartitions names partitions of one topic in an OffsetFetch.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// PartitionOffset is a committed offset; Offset -1 means no commit.
type PartitionOffset struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// Pending is set when a transactional offset commit for the partition
	// waits for its transaction's marker: OffsetFetch with RequireStable
	// answers UNSTABLE_OFFSET_COMMIT for it instead of the offset
	// (KIP-447). It is read under the same lock as the offset, so a
	// marker cannot land between the two.
	Pending bool
}

// TopicOffsets are the committed offsets of one topic.
type TopicOffsets struct {
	Topic      string
	Partitions []PartitionOffset
}

// FetchOffsets answers an OffsetFetch for one group: the named partitions
// in request order (-1 for no commit), or every committed partition when
// topics is nil. The error is a *kerr.Error for the whole group.
func (c *Coordinator) FetchOffsets(groupID string, topics []TopicPartitions) ([]TopicOffsets, error) {
	return c.FetchMemberOffsets(groupID, nil, -1, topics)
}

// FetchMemberOffsets is [Coordinator.FetchOffsets] for OffsetFetch v9+,
// which names the member asking: for a consumer-protocol group it must be
// a member at its current epoch (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH)
// unless memberID is nil and epoch negative. Classic groups do not check.
func (c *Coordinator) FetchMemberOffsets(groupID string, memberID *string, epoch int32, topics []TopicPartitions) ([]TopicOffsets, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.validate(groupID, apiEmptyIDAllowed); err != nil {
		return nil, err
	}
	g := c.groups[groupID]
	if g != nil && g.consumer != nil {
		if err := validateConsumerFetch(g.consumer, memberID, epoch); err != nil {
			return nil, err
		}
	}
	var offsets map[tp]*offset
	if g != nil && !g.is(stateDead) {
		offsets = g.offsets
	}
	if topics == nil {
		byTopic := map[string][]PartitionOffset{}
		for k, o := range offsets {
			byTopic[k.topic] = append(byTopic[k.topic], PartitionOffset{k.partition, o.offset, o.leaderEpoch, o.metadata,
				c.hasPendingTxnOffsetsLocked(groupID, k)})
		}
		out := make([]TopicOffsets, 0, len(byTopic))
		for t, ps := range byTopic {
			slices.SortFunc(ps, func(a, b PartitionOffset) int { return cmp.Compare(a.Partition, b.Partition) })
			out = append(out, TopicOffsets{t, ps})
		}
		slices.SortFunc(out, func(a, b TopicOffsets) int { return cmp.Compare(a.Topic, b.Topic) })
		return out, nil
	}
	out := make([]TopicOffsets, 0, len(topics))
	for _, t := range topics {
		to := TopicOffsets{Topic: t.Topic}
		for _, p := range t.Partitions {
			po := PartitionOffset{Partition: p, Offset: -1, LeaderEpoch: -1, Pending: c.hasPendingTxnOffsetsLocked(groupID, tp{t.Topic, p})}
			if o := offsets[tp{t.Topic, p}]; o != nil {
				po.Offset, po.LeaderEpoch, po.Metadata = o.offset, o.leaderEpoch, o.metadata
			}
			to.Partitions = append(to.Partitions, po)
		}
		out = append(out, to)
	}
	return out, nil
}

// DeleteOffsets serves OffsetDelete (v0): an empty group loses the named
// commits; a group with members only those of topics it does not
// subscribe to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).
func (c *Coordinator) DeleteOffsets(req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	resp := kmsg.NewPtrOffsetDeleteResponse()
	if err := c.validate(req.Group, apiOther); err != nil {
		resp.ErrorCode = err.Code
		return resp
	}
	g := c.groups[req.Group]
	switch {
	case g == nil || g.is(stateDead):
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	case !g.is(stateEmpty) && g.protocolType != "consumer":
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return resp
	}
	var remove []tp
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			if !g.is(stateEmpty) && g.subscribedTo(t.Topic) {
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else {
				remove = append(remove, tp{t.Topic, p.Partition})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if err := c.cleanup(g, remove, now); err != nil {
		resp.ErrorCode = storeErrorCode(err)
		resp.Topics = nil
	}
	return resp
}

// cleanup removes offsets of a group with tombstones and, when an empty
// group has no offsets left, the group itself (Kafka's
// cleanupGroupMetadata). The in-memory state changes only once stored.
//
// As Kafka's OffsetMetadataManager, a tombstone also covers the group's
// pending transactional offsets of that partition: they are dropped with
// it, so a later commit marker does not bring them back (replay does the
// same, [dropPendingOnTombstone]); an empty group with pending offsets
// left is kept.
func (c *Coordinator) cleanup(g *group, remove []tp, now time.Time) error {
	var recs []rec
	committed := 0
	var pendingGone []tp
	for _, t := range remove {
		hasCommitted, hasPending := g.offsets[t] != nil, c.hasPendingTxnOffsetsLocked(g.id, t)
		if hasCommitted {
			committed++
		}
		if hasPending {
			pendingGone = append(pendingGone, t)
		}
		if hasCommitted || hasPending {
			recs = append(recs, rec{key: offsetKey(g.id, t)})
		}
	}
	left := len(g.offsets) - committed
	dead := (g.is(stateEmpty) || g.is(stateDead)) && left == 0 && c.pendingTxnTPsLocked(g.id, pendingGone) == 0
	if dead {
		recs = append(recs, rec{key: groupKey(g.id)})
		for _, k := range slices.Sorted(maps.Keys(g.written)) {
			recs = append(recs, rec{key: []byte(k)})
		}
	}
	if err := c.append(g.partition, recs, now); err != nil {
		return err
	}
	for _, t := range remove {
		delete(g.offsets, t)
	}
	c.dropPendingTxnOffsetsLocked(g.id, pendingGone)
	if dead {
		g.written = nil
		g.transition(stateDead, now)
		if c.groups[g.id] == g {
			delete(c.groups, g.id)
		}
	}
	return nil
}

// expireOffsets applies offsets.retention.minutes with Kafka 2.1+
// semantics: an empty group's offsets expire once the group has been empty
// for the retention; a stable consumer group's offsets of topics it no
// longer subscribes to expire by commit time; a group with no protocol
// (offsets only) by commit time; commits with an explicit retention
// (OffsetCommit v2-v4) at their own expire time.
func (c *Coordinator) expireOffsets(now time.Time) {
	retention := c.cfg.OffsetsRetention
	for _, g := range c.groups {
		var base func(o *offset) time.Time
		var skip map[string]bool
		switch {
		case g.protocolType != "" && g.is(stateEmpty):
			base = func(o *offset) time.Time {
				if !g.stateTime.IsZero() {
					return g.stateTime
				}
				return o.commitTime
			}
		case g.protocolType == "consumer" && g.subscribed != nil && g.is(stateStable):
			base = func(o *offset) time.Time { return o.commitTime }
			skip = g.subscribed
		case g.protocolType == "":
			base = func(o *offset) time.Time { return o.commitTime }
		default:
			continue
		}
		var expired []tp
		for k, o := range g.offsets {
			if skip[k.topic] {
				continue
			}
			if c.hasPendingTxnOffsetsLocked(g.id, k) {
				continue // Kafka expires no offset a transaction may still replace
			}
			if !o.expireTime.IsZero() {
				if !now.Before(o.expireTime) {
					expired = append(expired, k)
				}
			} else if now.Sub(base(o)) >= retention {
				expired = append(expired, k)
			}
		}
		if len(expired) == 0 && !(g.is(stateEmpty) && len(g.offsets) == 0) {
			continue
		}
		if err := c.cleanup(g, expired, now); err != nil {
			c.lg.Warn("expiring offsets failed", "group", g.id, "err", err)
			continue
		}
		c.lg.Info("expired offsets", "group", g.id, "partitions", len(expired))
	}
}

// TopicDeleted removes every group's committed offsets of a deleted topic
// (tombstones), as Kafka's coordinator does when partitions are deleted, so
// that a topic created again under the same name starts uncommitted.
func (c *Coordinator) TopicDeleted(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	for _, g := range c.groups {
		var remove []tp
		for k := range g.offsets {
			if k.topic == topic {
				remove = append(remove, k)
			}
		}
		if len(remove) == 0 {
			continue
		}
		if err := c.cleanup(g, remove, now); err != nil {
			c.lg.Warn("removing offsets of a deleted topic failed", "group", g.id, "topic", topic, "err", err)
		}
	}
}
