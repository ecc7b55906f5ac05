package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// ErrBadRecord marks a __consumer_offsets record this package cannot
// decode; replay skips it with a warning rather than refusing to start.
var ErrBadRecord = errors.New("group: undecodable __consumer_offsets record")

// Record key versions (Kafka's CoordinatorRecordType): 0 and 1 are offset
// commits, 2 is group metadata.
const (
	keyOffsetCommit   = 1
	keyGroupMetadata  = 2
	valueOffsetCommit = 3 // with the committed leader epoch
	valueGroupMeta    = 3 // with instance ids and the state timestamp
)

type rec struct{ key, value []byte }

func offsetKey(group string, t tp) []byte {
	k := kmsg.OffsetCommitKey{Version: keyOffsetCommit, Group: group, Topic: t.topic, Partition: t.partition}
	return k.AppendTo(nil)
}

func offsetRecord(group string, t tp, o *offset) rec {
	v := kmsg.NewOffsetCommitValue()
	v.Version = valueOffsetCommit
	v.Offset, v.LeaderEpoch, v.Metadata = o.offset, o.leaderEpoch, o.metadata
	v.CommitTimestamp = o.commitTime.UnixMilli()
	if !o.expireTime.IsZero() {
		// Only value v1 has an expire timestamp: keep the old expiry
		// semantics of a commit that asked for a retention time.
		v.Version = 1
		v.ExpireTimestamp = o.expireTime.UnixMilli()
	}
	return rec{offsetKey(group, t), v.AppendTo(nil)}
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: keyGroupMetadata, Group: group}
	return k.AppendTo(nil)
}

func groupRecord(g *group) rec {
	v := kmsg.NewGroupMetadataValue()
	v.Version = valueGroupMeta
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	if g.protocol != "" && len(g.members) > 0 {
		p, l := g.protocol, g.leader
		v.Protocol, v.Leader = &p, &l
	}
	for _, m := range g.orderedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		if m.instanceID != "" {
			iid := m.instanceID
			vm.InstanceID = &iid
		}
		vm.ClientID, vm.ClientHost = m.clientID, m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		v.Members = append(v.Members, vm)
	}
	return rec{groupKey(g.id), v.AppendTo(nil)}
}

// buildBatch encodes records as one uncompressed batch.
func buildBatch(recs []rec, now time.Time) ([]byte, error) {
	rs := make([]batch.Record, len(recs))
	for i, r := range recs {
		rs[i] = batch.Record{Offset: int64(i), Timestamp: now.UnixMilli(), Key: r.key, Value: r.value}
	}
	return batch.AppendBatch(nil, batch.Header{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, rs)
}

// append stores records in a group's partition and returns once they are
// in the log.
func (c *Coordinator) append(p int32, recs []rec, now time.Time) error {
	if len(recs) == 0 {
		return nil
	}
	b, err := buildBatch(recs, now)
	if err != nil {
		return err
	}
	if _, err := c.log.Append(p, b); err != nil {
		return fmt.Errorf("group: appending to %s-%d: %w", Topic, p, err)
	}
	return nil
}

// storeGroup persists a group's metadata (Kafka's storeGroup).
func (c *Coordinator) storeGroup(g *group, now time.Time) error {
	return c.append(g.partition, []rec{groupRecord(g)}, now)
}

// storeErrorCode maps a failed append to what the client is told, as
// Kafka's GroupMetadataManager does.
func storeErrorCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.NotLeaderForPartition:
			return kerr.NotCoordinator.Code
		case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
			return kerr.UnknownServerError.Code
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}

// replay rebuilds the groups of a partition from its records: the latest
// record per key wins and a tombstone deletes, as a compacted topic reads.
func (c *Coordinator) replay(p int32) (map[string]*group, pendingTxn, error) {
	all := map[string]map[tp]*offset{}
	pending := pendingTxn{}
	metas := map[string]*kmsg.GroupMetadataValue{}
	consumers := consumerReplay{}
	err := c.log.Scan(p, func(b []byte) error {
		h, err := batch.ParseHeader(b)
		if err != nil {
			return err
		}
		if h.IsControl() || h.IsTransactional() {
			if err := replayTxn(&h, b, all, pending); err != nil {
				c.lg.Warn("skipping transactional batch in replay", "partition", p, "offset", h.BaseOffset, "err", err)
			}
			return nil
		}
		for r, err := range batch.Records(b) {
			if err != nil {
				return err
			}
			if err := apply(r, all, metas, consumers); err != nil {
				c.lg.Warn("skipping record in replay", "partition", p, "offset", r.Offset, "err", err)
			}
			dropPendingOnTombstone(r, pending)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	groups := map[string]*group{}
	for id, v := range metas {
		groups[id] = loadGroup(id, p, v)
	}
	for id, recs := range consumers {
		g := groups[id]
		if g == nil {
			g = newGroup(id, p, time.Time{})
			groups[id] = g
		}
		if err := consumers.load(g, recs); err != nil {
			c.lg.Warn("skipping consumer group in replay", "partition", p, "group", id, "err", err)
			delete(groups, id)
		}
	}
	for id, os := range all {
		g := groups[id]
		if g == nil {
			g = newGroup(id, p, time.Time{})
			groups[id] = g
		}
		g.offsets = os
	}
	return groups, pending, nil
}

// apply folds one record into the replay state.
func apply(r batch.Record, all map[string]map[tp]*offset, metas map[string]*kmsg.GroupMetadataValue, consumers consumerReplay) error {
	if len(r.Key) < 2 {
		return ErrBadRecord
	}
	switch binary.BigEndian.Uint16(r.Key) {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.Key); err != nil {
			return fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		t := tp{k.Topic, k.Partition}
		if r.Value == nil {
			delete(all[k.Group], t)
			if len(all[k.Group]) == 0 {
				delete(all, k.Group)
			}
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.Value); err != nil {
			return fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		o := &offset{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTime: time.UnixMilli(v.CommitTimestamp)}
		if v.Version >= 3 {
			o.leaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 && v.ExpireTimestamp >= 0 {
			o.expireTime = time.UnixMilli(v.ExpireTimestamp)
		}
		if all[k.Group] == nil {
			all[k.Group] = map[tp]*offset{}
		}
		all[k.Group][t] = o
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(r.Key); err != nil {
			return fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		if r.Value == nil {
			delete(metas, k.Group)
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(r.Value); err != nil {
			return fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		metas[k.Group] = v
	case keyConsumerMetadata, keyConsumerMemberMetadata, keyConsumerTargetMetadata, keyConsumerTargetMember, keyConsumerCurrentAssignmnt:
		return consumers.apply(r.Key, r.Value)
	default:
		// Other Kafka record types (share groups, …): not ours.
	}
	return nil
}

// loadGroup is Kafka's GroupMetadata.loadGroup: a group with members comes
// back Stable with their assignments, so they resume by heartbeating; one
// without comes back Empty.
func loadGroup(id string, p int32, v *kmsg.GroupMetadataValue) *group {
	g := newGroup(id, p, time.Time{})
	if v.CurrentStateTimestamp > 0 {
		g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	for _, vm := range v.Members {
		m := &member{
			id:               vm.MemberID,
			clientID:         vm.ClientID,
			clientHost:       vm.ClientHost,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []protocol{{name: g.protocol, metadata: vm.Subscription}},
			assignment:       vm.Assignment,
		}
		if vm.InstanceID != nil {
			m.instanceID = *vm.InstanceID
		}
		if v.Version < 1 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		g.members[m.id] = m
		g.order = append(g.order, m.id)
		if m.instanceID != "" {
			g.static[m.instanceID] = m.id
		}
	}
	if len(g.members) > 0 {
		g.state = stateStable
		if g.members[g.leader] == nil {
			g.leader = g.order[0]
		}
	} else {
		g.leader = ""
	}
	g.computeSubscribed()
	return g
}
