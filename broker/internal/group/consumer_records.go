package group

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
)

// Record key versions of consumer-protocol groups (Kafka's
// CoordinatorRecordType), with the schemas of Kafka's group-coordinator
// (ConsumerGroup*Key: non-flexible; ConsumerGroup*Value: version 0,
// flexible). kmsg does not have them, so they are encoded here.
const (
	keyConsumerMetadata         = 3 // ConsumerGroupMetadata: group epoch
	keyConsumerMemberMetadata   = 5 // ConsumerGroupMemberMetadata: subscription
	keyConsumerTargetMetadata   = 6 // ConsumerGroupTargetAssignmentMetadata: assignment epoch
	keyConsumerTargetMember     = 7 // ConsumerGroupTargetAssignmentMember
	keyConsumerCurrentAssignmnt = 8 // ConsumerGroupCurrentMemberAssignment
)

func consumerKey(version int16, group, member string, withMember bool) []byte {
	b := kbin.AppendInt16(nil, version)
	b = kbin.AppendString(b, group)
	if withMember {
		b = kbin.AppendString(b, member)
	}
	return b
}

func appendTopicPartitions(b []byte, a assignment) []byte {
	ids := sortedTopicIDs(a)
	b = kbin.AppendCompactArrayLen(b, len(ids))
	for _, id := range ids {
		b = kbin.AppendUuid(b, id)
		b = kbin.AppendCompactArrayLen(b, len(a[id]))
		for _, p := range a[id] {
			b = kbin.AppendInt32(b, p)
		}
		b = kbin.AppendUvarint(b, 0) // no tagged fields
	}
	return b
}

func readTopicPartitions(r *kbin.Reader) assignment {
	a := assignment{}
	n := r.CompactArrayLen()
	for range max(n, 0) {
		id := r.Uuid()
		np := r.CompactArrayLen()
		for range max(np, 0) {
			a.add(id, r.Int32())
		}
		skipTags(r)
		if !r.Ok() {
			break
		}
	}
	return a
}

func skipTags(r *kbin.Reader) {
	for n := r.Uvarint(); n > 0 && r.Ok(); n-- {
		r.Uvarint()
		r.Span(int(r.Uvarint()))
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// consumerRecords renders a consumer group as its records, by key. The
// coordinator writes the difference to what it wrote before, so a
// heartbeat that changes nothing writes nothing.
func consumerRecords(g *group) map[string][]byte {
	cg := g.consumer
	out := map[string][]byte{}
	put := func(k []byte, v []byte) { out[string(k)] = v }
	v := kbin.AppendInt16(nil, 0)
	v = kbin.AppendInt32(v, cg.epoch)
	put(consumerKey(keyConsumerMetadata, g.id, "", false), kbin.AppendUvarint(v, 0))
	v = kbin.AppendInt16(nil, 0)
	v = kbin.AppendInt32(v, cg.targetEpoch)
	put(consumerKey(keyConsumerTargetMetadata, g.id, "", false), kbin.AppendUvarint(v, 0))
	for id, m := range cg.members {
		v = kbin.AppendInt16(nil, 0)
		v = kbin.AppendCompactNullableString(v, nullable(m.instanceID))
		v = kbin.AppendCompactNullableString(v, nullable(m.rackID))
		v = kbin.AppendCompactString(v, m.clientID)
		v = kbin.AppendCompactString(v, m.clientHost)
		v = kbin.AppendCompactArrayLen(v, len(m.topicNames))
		for _, t := range m.topicNames {
			v = kbin.AppendCompactString(v, t)
		}
		v = kbin.AppendCompactNullableString(v, nullable(m.regex))
		v = kbin.AppendInt32(v, int32(m.rebalanceTimeout.Milliseconds()))
		v = kbin.AppendCompactNullableString(v, nullable(m.serverAssignor))
		put(consumerKey(keyConsumerMemberMetadata, g.id, id, true), kbin.AppendUvarint(v, 0))

		v = kbin.AppendInt16(nil, 0)
		v = kbin.AppendInt32(v, m.epoch)
		v = kbin.AppendInt32(v, m.prevEpoch)
		v = kbin.AppendInt8(v, int8(m.state))
		v = appendTopicPartitions(v, m.assigned)
		v = appendTopicPartitions(v, m.revoking)
		put(consumerKey(keyConsumerCurrentAssignmnt, g.id, id, true), kbin.AppendUvarint(v, 0))
	}
	for id, a := range cg.target {
		v = kbin.AppendInt16(nil, 0)
		v = appendTopicPartitions(v, a)
		put(consumerKey(keyConsumerTargetMember, g.id, id, true), kbin.AppendUvarint(v, 0))
	}
	return out
}

// persistConsumer writes what changed in a consumer group since the last
// write: new or changed records, and tombstones for members gone. Kafka
// orders tombstones so that a member's assignment goes before its
// subscription and the group metadata last; replay here does not depend
// on the order within a batch.
func (c *Coordinator) persistConsumer(g *group, now time.Time) error {
	want := map[string][]byte{}
	if g.consumer != nil {
		want = consumerRecords(g)
	}
	var recs []rec
	keys := slices.Sorted(maps.Keys(want))
	for _, k := range keys {
		if v, ok := g.written[k]; !ok || string(v) != string(want[k]) {
			recs = append(recs, rec{key: []byte(k), value: want[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(g.written)) {
		if _, ok := want[k]; !ok {
			recs = append(recs, rec{key: []byte(k)})
		}
	}
	if err := c.append(g.partition, recs, now); err != nil {
		return err
	}
	g.written = want
	return nil
}

// consumerReplay gathers consumer-group records while a partition replays.
type consumerReplay map[string]map[string][]byte // group → key → value

// applyConsumer folds one consumer-group record into the replay state.
func (cr consumerReplay) apply(key, value []byte) error {
	r := kbin.Reader{Src: key}
	r.Int16()
	id := r.String()
	if !r.Ok() {
		return ErrBadRecord
	}
	if value == nil {
		delete(cr[id], string(key))
		if len(cr[id]) == 0 {
			delete(cr, id)
		}
		return nil
	}
	if cr[id] == nil {
		cr[id] = map[string][]byte{}
	}
	cr[id][string(key)] = value
	return nil
}

// load rebuilds a consumer group from its records. Members come back
// with their assignments; their sessions start again at load time.
func (cr consumerReplay) load(g *group, recs map[string][]byte) error {
	cg := newCGroup()
	for k, v := range recs {
		kr := kbin.Reader{Src: []byte(k)}
		version := kr.Int16()
		_ = kr.String() // the group id
		member := ""
		if version != keyConsumerMetadata && version != keyConsumerTargetMetadata {
			member = kr.String()
		}
		if !kr.Ok() {
			return ErrBadRecord
		}
		r := kbin.Reader{Src: v}
		r.Int16() // value version 0
		get := func() *cmember {
			m := cg.members[member]
			if m == nil {
				m = &cmember{id: member, assigned: assignment{}, revoking: assignment{}}
				cg.members[member] = m
			}
			return m
		}
		switch version {
		case keyConsumerMetadata:
			cg.epoch = r.Int32()
		case keyConsumerTargetMetadata:
			cg.targetEpoch = r.Int32()
		case keyConsumerMemberMetadata:
			m := get()
			if s := r.CompactNullableString(); s != nil {
				m.instanceID = *s
			}
			if s := r.CompactNullableString(); s != nil {
				m.rackID = *s
			}
			m.clientID, m.clientHost = r.CompactString(), r.CompactString()
			n := r.CompactArrayLen()
			m.topicNames = nil
			for range max(n, 0) {
				m.topicNames = append(m.topicNames, r.CompactString())
			}
			if s := r.CompactNullableString(); s != nil {
				m.regex = *s
				if re, err := compileRegex(m.regex); err == nil {
					m.re = re
				}
			}
			m.rebalanceTimeout = time.Duration(r.Int32()) * time.Millisecond
			if s := r.CompactNullableString(); s != nil {
				m.serverAssignor = *s
			}
		case keyConsumerCurrentAssignmnt:
			m := get()
			m.epoch, m.prevEpoch, m.state = r.Int32(), r.Int32(), mstate(r.Int8())
			m.assigned, m.revoking = readTopicPartitions(&r), readTopicPartitions(&r)
		case keyConsumerTargetMember:
			cg.target[member] = readTopicPartitions(&r)
		}
		if !r.Ok() {
			return fmt.Errorf("%w: consumer group %s record type %d", ErrBadRecord, g.id, version)
		}
	}
	for id, m := range cg.members {
		if m.instanceID != "" {
			cg.static[m.instanceID] = id
		}
	}
	// The topics the target was computed from are not stored (Kafka 4.1
	// keeps a hash of them); the first refresh adopts the current ones
	// without a new epoch.
	cg.sigUnknown = true
	g.consumer = cg
	g.protocolType = "consumer"
	g.subscribed = map[string]bool{}
	for _, m := range cg.members {
		for _, t := range m.topicNames {
			g.subscribed[strings.Clone(t)] = true
		}
	}
	g.state = stateEmpty
	if len(cg.members) > 0 {
		g.state = stateStable
	}
	g.written = recs
	return nil
}
