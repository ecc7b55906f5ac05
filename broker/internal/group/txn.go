package group

// Transactional offset commits (TxnOffsetCommit, KIP-98/KIP-447). The
// offsets are stored at once, in a transactional batch of the producer in
// the group's __consumer_offsets partition, but stay pending (invisible to
// OffsetFetch) until the transaction coordinator's marker lands in that
// partition: a commit marker makes them the group's committed offsets, an
// abort drops them. Replay follows the same rule over the log, so offsets
// of a transaction still open at a restart stay pending until its marker.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// TrustedLog is implemented by a [Log] that can append a batch the broker
// built without the produce path's producer checks; transactional offset
// commits are written through it (a coordinator-origin append in Kafka).
// Without it they go through Log.Append.
type TrustedLog interface {
	AppendTrusted(partition int32, batch []byte) (int64, error)
}

// attrTransactional is the batch attribute bit of a transactional batch.
const attrTransactional = 0x10

// pendingTxn holds a partition's transactional offsets by producer id,
// then group.
type pendingTxn map[int64]map[string]map[tp]*offset

func (p pendingTxn) put(pid int64, group string, t tp, o *offset) {
	if p[pid] == nil {
		p[pid] = map[string]map[tp]*offset{}
	}
	if p[pid][group] == nil {
		p[pid][group] = map[tp]*offset{}
	}
	p[pid][group][t] = o
}

// CommitTxnOffsets serves TxnOffsetCommit (v0-v4). Members of a group
// (v3+ names the member and generation) are validated as for OffsetCommit;
// the offsets are stored in a transactional batch of the producer and
// become visible when [Coordinator.CompleteTxn] reports its commit marker.
func (c *Coordinator) CommitTxnOffsets(req *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	codes := newCommitCodes(len(req.Topics), func(i int) int { return len(req.Topics[i].Partitions) })
	defer func() {
		for i, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for j, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}()
	fail := func(code int16) *kmsg.TxnOffsetCommitResponse {
		codes.failRest(code)
		return resp
	}
	if err := c.validate(req.Group, apiOther); err != nil {
		return fail(err.Code)
	}
	g := c.groups[req.Group]
	if g != nil && req.Version >= 3 {
		instanceID := ""
		if req.InstanceID != nil {
			instanceID = *req.InstanceID
		}
		if g.consumer != nil {
			if err := validateConsumerCommit(g.consumer, 9, req.MemberID, req.Generation); err != nil {
				return fail(err.Code)
			}
		} else if err := validateCommit(g, req.Generation, req.MemberID, instanceID); err != nil {
			return fail(err.Code)
		}
	}
	p := c.PartitionFor(req.Group)
	var recs []rec
	type commit struct {
		t tp
		o *offset
	}
	var commits []commit
	for i, t := range req.Topics {
		for j, part := range t.Partitions {
			meta, code := c.commitMetadata(t.Topic, part.Partition, part.Metadata)
			if code != 0 {
				codes[i][j] = code
				continue
			}
			o := &offset{offset: part.Offset, leaderEpoch: -1, metadata: meta, commitTime: now}
			if req.Version >= 2 {
				o.leaderEpoch = part.LeaderEpoch
			}
			k := tp{strings.Clone(t.Topic), part.Partition}
			commits = append(commits, commit{k, o})
			recs = append(recs, offsetRecord(req.Group, k, o))
		}
	}
	if len(recs) == 0 {
		return resp
	}
	rs := make([]batch.Record, len(recs))
	for i, r := range recs {
		rs[i] = batch.Record{Offset: int64(i), Timestamp: now.UnixMilli(), Key: r.key, Value: r.value}
	}
	b, err := batch.AppendBatch(nil, batch.Header{
		Attributes:    attrTransactional,
		ProducerID:    req.ProducerID,
		ProducerEpoch: req.ProducerEpoch,
		BaseSequence:  -1,
	}, rs)
	if err == nil {
		if tl, ok := c.log.(TrustedLog); ok {
			_, err = tl.AppendTrusted(p, b)
		} else {
			_, err = c.log.Append(p, b)
		}
	}
	if err != nil {
		c.lg.Warn("storing transactional offsets failed", "group", req.Group, "err", fmt.Errorf("group: %w", err))
		return fail(storeErrorCode(err))
	}
	if c.txnOffsets[p] == nil {
		c.txnOffsets[p] = pendingTxn{}
	}
	for _, cm := range commits {
		c.txnOffsets[p].put(req.ProducerID, strings.Clone(req.Group), cm.t, cm.o)
	}
	return resp
}

// CompleteTxn applies a transaction marker that was stored in partition p
// of __consumer_offsets: on commit the producer's pending offsets there
// become committed offsets (creating the group if needed), on abort they
// are dropped.
func (c *Coordinator) CompleteTxn(p int32, producerID int64, commit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pending := c.txnOffsets[p][producerID]
	if pending == nil {
		return
	}
	delete(c.txnOffsets[p], producerID)
	if !commit {
		return
	}
	now := c.cfg.Now()
	for id, offsets := range pending {
		g := c.groups[id]
		if g == nil {
			g = newGroup(id, p, now)
			c.groups[id] = g
		}
		for t, o := range offsets {
			g.offsets[t] = o
		}
	}
}

// HasPendingTxnOffsets reports whether a group has transactional offsets
// for a partition that wait for their marker (OffsetFetch with
// RequireStable answers UNSTABLE_OFFSET_COMMIT then, KIP-447).
func (c *Coordinator) HasPendingTxnOffsets(group, topic string, partition int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hasPendingTxnOffsetsLocked(group, tp{topic, partition})
}

// hasPendingTxnOffsetsLocked is [Coordinator.HasPendingTxnOffsets] with
// c.mu held.
func (c *Coordinator) hasPendingTxnOffsetsLocked(group string, t tp) bool {
	for _, byGroup := range c.txnOffsets[c.PartitionFor(group)] {
		if byGroup[group][t] != nil {
			return true
		}
	}
	return false
}

// replayTxn folds a batch of a transactional producer, or a marker, into
// the replay: data batches add pending offsets; a commit marker moves the
// producer's pending offsets into all, an abort drops them.
func replayTxn(h *batch.Header, b []byte, all map[string]map[tp]*offset, pending pendingTxn) error {
	if h.IsControl() {
		for r, err := range batch.Records(b) {
			if err != nil {
				return err
			}
			var k kmsg.ControlRecordKey
			if err := k.ReadFrom(r.Key); err != nil {
				return fmt.Errorf("%w: control record: %v", ErrBadRecord, err)
			}
			if k.Type == kmsg.ControlRecordKeyTypeCommit {
				for id, offsets := range pending[h.ProducerID] {
					if all[id] == nil {
						all[id] = map[tp]*offset{}
					}
					for t, o := range offsets {
						all[id][t] = o
					}
				}
			}
			delete(pending, h.ProducerID)
		}
		return nil
	}
	txnAll := map[string]map[tp]*offset{}
	for r, err := range batch.Records(b) {
		if err != nil {
			return err
		}
		if err := apply(r, txnAll, map[string]*kmsg.GroupMetadataValue{}, consumerReplay{}); err != nil {
			return err
		}
	}
	for id, offsets := range txnAll {
		for t, o := range offsets {
			pending.put(h.ProducerID, id, t, o)
		}
	}
	return nil
}

// pendingTxnTPsOfLocked lists the partitions for which group has pending
// transactional offsets, of any producer, sorted (c.mu held).
func (c *Coordinator) pendingTxnTPsOfLocked(group string) []tp {
	seen := map[tp]bool{}
	for _, byGroup := range c.txnOffsets[c.PartitionFor(group)] {
		for t := range byGroup[group] {
			seen[t] = true
		}
	}
	out := make([]tp, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b tp) int {
		if a.topic != b.topic {
			return strings.Compare(a.topic, b.topic)
		}
		return int(a.partition) - int(b.partition)
	})
	return out
}

// pendingTxnTPsLocked counts the partitions with pending transactional
// offsets of group that are not in except (c.mu held).
func (c *Coordinator) pendingTxnTPsLocked(group string, except []tp) int {
	n := 0
	for _, t := range c.pendingTxnTPsOfLocked(group) {
		if !slices.Contains(except, t) {
			n++
		}
	}
	return n
}

// dropPendingTxnOffsetsLocked removes group's pending transactional offsets
// of the partitions ts, of every producer (c.mu held): what a tombstone
// for them does in Kafka.
func (c *Coordinator) dropPendingTxnOffsetsLocked(group string, ts []tp) {
	if len(ts) == 0 {
		return
	}
	dropPending(c.txnOffsets[c.PartitionFor(group)], group, ts)
}

// dropPending removes group's pending offsets of ts from every producer.
func dropPending(p pendingTxn, group string, ts []tp) {
	for pid, byGroup := range p {
		offs := byGroup[group]
		if offs == nil {
			continue
		}
		for _, t := range ts {
			delete(offs, t)
		}
		if len(offs) == 0 {
			delete(byGroup, group)
		}
		if len(byGroup) == 0 {
			delete(p, pid)
		}
	}
}

// dropPendingOnTombstone applies a non-transactional record to the replayed
// pending offsets: an offset tombstone drops the group's pending offsets of
// that partition, as the live path did when it wrote it.
func dropPendingOnTombstone(r batch.Record, pending pendingTxn) {
	if r.Value != nil || len(r.Key) < 2 || len(pending) == 0 {
		return
	}
	var k kmsg.OffsetCommitKey
	if k.ReadFrom(r.Key) != nil || k.Version > 1 {
		return
	}
	dropPending(pending, k.Group, []tp{{k.Topic, k.Partition}})
}
