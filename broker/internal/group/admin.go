package group

import (
	"cmp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// notAuthorizedOps is Kafka's "authorized operations not requested" value.
const notAuthorizedOps = -2147483648

// DescribeGroup answers one group of a DescribeGroups request (v0-v5).
// Member metadata and assignments are shown only when the group is Stable,
// as Kafka does; an unknown group is described as Dead with no error.
func (c *Coordinator) DescribeGroup(id string) kmsg.DescribeGroupsResponseGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := kmsg.NewDescribeGroupsResponseGroup()
	r.Group = id
	r.AuthorizedOperations = notAuthorizedOps
	if err := c.validate(id, apiEmptyIDAllowed); err != nil {
		r.ErrorCode = err.Code
		return r
	}
	g := c.groups[id]
	if g == nil || g.consumer != nil {
		// Kafka describes a consumer-protocol group here as Dead.
		r.State = stateDead.String()
		return r
	}
	r.State = g.state.String()
	r.ProtocolType = g.protocolType
	stable := g.is(stateStable)
	if stable {
		r.Protocol = g.protocol
	}
	for _, m := range g.orderedMembers() {
		rm := kmsg.NewDescribeGroupsResponseGroupMember()
		rm.MemberID = m.id
		if m.instanceID != "" {
			iid := m.instanceID
			rm.InstanceID = &iid
		}
		rm.ClientID, rm.ClientHost = m.clientID, m.clientHost
		rm.ProtocolMetadata, rm.MemberAssignment = []byte{}, []byte{}
		if stable {
			rm.ProtocolMetadata = m.metadataFor(g.protocol)
			rm.MemberAssignment = m.assignment
		}
		r.Members = append(r.Members, rm)
	}
	return r
}

// ListGroups answers ListGroups (v0-v5): every group of the loaded
// partitions, filtered by state names (v4) and group types (v5), both
// case-insensitive. Classic groups are of type "classic", consumer-protocol
// (KIP-848) groups of type "consumer" with their own states (Empty,
// Assigning, Reconciling, Stable). The error is
// COORDINATOR_LOAD_IN_PROGRESS while a partition loads.
func (c *Coordinator) ListGroups(states, types []string) ([]kmsg.ListGroupsResponseGroup, int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var code int16
	for _, loaded := range c.loaded {
		if !loaded {
			code = kerr.CoordinatorLoadInProgress.Code
		}
	}
	match := func(filter []string, v string) bool {
		return len(filter) == 0 || slices.ContainsFunc(filter, func(f string) bool { return strings.EqualFold(f, v) })
	}
	out := []kmsg.ListGroupsResponseGroup{}
	for _, g := range c.groups {
		typ, st := "classic", g.state.String()
		if g.consumer != nil {
			typ, st = "consumer", g.consumer.stateName()
		}
		if g.is(stateDead) || !match(states, st) || !match(types, typ) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.id, g.protocolType, st, typ
		out = append(out, lg)
	}
	slices.SortFunc(out, func(a, b kmsg.ListGroupsResponseGroup) int { return cmp.Compare(a.Group, b.Group) })
	return out, code
}

// DeleteGroups answers DeleteGroups (v0-v2): an empty group is removed
// with its offsets (tombstones); one with members gets NON_EMPTY_GROUP, an
// unknown one GROUP_ID_NOT_FOUND. As Kafka's GroupCoordinatorShard, pending
// transactional offsets do not block the deletion: they get tombstones too
// and are dropped, so the transaction's later commit marker commits nothing
// for the deleted group.
func (c *Coordinator) DeleteGroups(ids []string) []kmsg.DeleteGroupsResponseGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	out := make([]kmsg.DeleteGroupsResponseGroup, 0, len(ids))
	for _, id := range ids {
		r := kmsg.NewDeleteGroupsResponseGroup()
		r.Group = id
		out = append(out, r)
		res := &out[len(out)-1]
		if err := c.validate(id, apiEmptyIDAllowed); err != nil {
			res.ErrorCode = err.Code
			continue
		}
		g := c.groups[id]
		pending := c.pendingTxnTPsOfLocked(id)
		switch {
		case (g == nil || g.is(stateDead)) && len(pending) == 0:
			res.ErrorCode = kerr.GroupIDNotFound.Code
			continue
		case g == nil || g.is(stateDead):
			// Only transactional offsets name it: Kafka has created an
			// empty simple group for them, which can be deleted.
			g = newGroup(id, c.PartitionFor(id), now)
		case !g.is(stateEmpty):
			res.ErrorCode = kerr.NonEmptyGroup.Code
			continue
		}
		all := make([]tp, 0, len(g.offsets)+len(pending))
		for k := range g.offsets {
			all = append(all, k)
		}
		for _, k := range pending {
			if g.offsets[k] == nil {
				all = append(all, k)
			}
		}
		if err := c.cleanup(g, all, now); err != nil {
			res.ErrorCode = storeErrorCode(err)
		}
	}
	return out
}
