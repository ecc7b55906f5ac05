package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup serves a JoinGroup request (all versions: v4+ requires a known
// member id, v5+ carries group.instance.id, v9 skip_assignment). It blocks
// until the group's rebalance completes, the member is removed, or ctx ends
// (then it returns ctx's error and the member stays, as in Kafka, until its
// timeouts remove it).
func (c *Coordinator) JoinGroup(ctx context.Context, cl Client, req *kmsg.JoinGroupRequest) (*kmsg.JoinGroupResponse, error) {
	c.mu.Lock()
	resp, wait := c.join(cl, req)
	c.mu.Unlock()
	if resp != nil {
		return resp, nil
	}
	select {
	case r := <-wait:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func joinError(memberID string, code int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.ErrorCode = code
	r.MemberID = memberID
	r.Generation = -1
	return r
}

func newMemberID(clientID string) string {
	var u [16]byte
	rand.Read(u[:]) // never fails (crypto/rand)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return clientID + "-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func requestProtocols(req *kmsg.JoinGroupRequest) []protocol {
	ps := make([]protocol, 0, len(req.Protocols))
	for _, p := range req.Protocols {
		ps = append(ps, protocol{name: strings.Clone(p.Name), metadata: append([]byte(nil), p.Metadata...)})
	}
	return ps
}

// join runs under c.mu and returns either a response or the channel the
// response will be sent on.
func (c *Coordinator) join(cl Client, req *kmsg.JoinGroupRequest) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse) {
	now := c.cfg.Now()
	if err := c.validate(req.Group, apiJoin); err != nil {
		return joinError(req.MemberID, err.Code), nil
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return joinError(req.MemberID, kerr.InvalidSessionTimeout.Code), nil
	}
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 {
		rebalance = session // v0 has no rebalance timeout
	}
	instanceID := ""
	if req.InstanceID != nil {
		instanceID = strings.Clone(*req.InstanceID)
	}
	unknown := req.MemberID == ""
	g := c.groups[req.Group]
	if g != nil && g.consumer != nil {
		if len(g.consumer.members) > 0 {
			// No online migration: Kafka with group.consumer.migration.policy=disabled.
			return joinError(req.MemberID, kerr.InconsistentGroupProtocol.Code), nil
		}
		c.becomeClassic(g, now)
	}
	if g == nil {
		if !unknown {
			return joinError(req.MemberID, kerr.UnknownMemberID.Code), nil
		}
		g = newGroup(req.Group, c.PartitionFor(req.Group), now)
		c.groups[req.Group] = g
	}
	if !c.acceptJoining(g, req.MemberID) {
		if m := g.members[req.MemberID]; m != nil {
			c.removeMember(g, m, now)
		}
		return joinError(req.MemberID, kerr.GroupMaxSizeReached.Code), nil
	}
	ps := requestProtocols(req)
	nm := &member{
		instanceID:       instanceID,
		clientID:         strings.Clone(cl.ID),
		clientHost:       cl.Host,
		rebalanceTimeout: rebalance,
		sessionTimeout:   session,
		protocolType:     strings.Clone(req.ProtocolType),
		protocols:        ps,
	}
	if unknown {
		return c.joinNew(g, nm, req.Version, now)
	}
	nm.id = strings.Clone(req.MemberID)
	return c.joinCurrent(g, nm, now)
}

// acceptJoining is Kafka's acceptJoiningMember (group.max.size).
func (c *Coordinator) acceptJoining(g *group, memberID string) bool {
	switch g.state {
	case stateEmpty, stateDead:
		return true
	case statePreparingRebalance:
		m := g.members[memberID]
		return (m != nil && m.join != nil) || g.awaitingJoin() < c.cfg.MaxSize
	}
	return g.members[memberID] != nil || len(g.members) < c.cfg.MaxSize
}

func (c *Coordinator) joinNew(g *group, nm *member, version int16, now time.Time) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse) {
	if g.is(stateDead) {
		return joinError("", kerr.CoordinatorNotAvailable.Code), nil
	}
	if !g.supports(nm.protocolType, nm.protocols) {
		return joinError("", kerr.InconsistentGroupProtocol.Code), nil
	}
	nm.id = newMemberID(nm.clientID)
	if nm.instanceID != "" {
		return c.joinStatic(g, nm, version, now)
	}
	if version >= 4 {
		// KIP-394: hand out the id first, so a client that times out
		// and retries does not leave a defunct member behind.
		g.pending[nm.id] = now.Add(nm.sessionTimeout)
		return joinError(nm.id, kerr.MemberIDRequired.Code), nil
	}
	return nil, c.addMemberAndRebalance(g, nm, now)
}

func (c *Coordinator) joinStatic(g *group, nm *member, version int16, now time.Time) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse) {
	oldID, known := g.static[nm.instanceID]
	if !known {
		return nil, c.addMemberAndRebalance(g, nm, now)
	}
	// A known static member restarted: it takes over its old entry under
	// a new id, and the old id is fenced.
	oldLeader := g.leader
	m := g.replaceStatic(nm.instanceID, oldID, nm.id)
	if m.join != nil {
		m.join <- joinError(oldID, kerr.FencedInstanceID.Code)
		m.join = nil
	}
	if m.sync != nil {
		m.sync <- &kmsg.SyncGroupResponse{ErrorCode: kerr.FencedInstanceID.Code}
		m.sync = nil
	}
	oldProtocols := m.protocols
	m.protocols, m.rebalanceTimeout, m.sessionTimeout = nm.protocols, nm.rebalanceTimeout, nm.sessionTimeout
	m.clientID, m.clientHost = nm.clientID, nm.clientHost
	m.lastHeartbeat = now
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	switch g.state {
	case stateStable:
		if g.selectProtocol() != g.protocol {
			m.join = ch
			c.maybePrepareRebalance(g, now)
			c.tryCompleteJoin(g, now)
			return nil, ch
		}
		// No rebalance: persist the new member id and hand the member
		// its old assignment through the normal SyncGroup.
		if err := c.storeGroup(g, now); err != nil {
			g.replaceStatic(nm.instanceID, nm.id, oldID)
			m.protocols = oldProtocols
			return joinError("", storeErrorCode(err)), nil
		}
		if version >= 9 {
			// KIP-814: a rejoining leader is told so, with the
			// members, but skips the assignment: a stable group
			// keeps its own.
			isLeader := g.leader == m.id
			r := c.joinResponse(g, m, isLeader)
			r.SkipAssignment = isLeader
			return r, nil
		}
		// Older clients cannot skip the assignment: give the old
		// leader id, so that a rejoining leader does not assign to a
		// group that would not broadcast it.
		r := c.joinResponse(g, m, false)
		r.LeaderID = oldLeader
		return r, nil
	case stateCompletingRebalance:
		// The leader may already be assigning to the old id: rebalance.
		m.join = ch
		c.prepareRebalance(g, now)
		c.tryCompleteJoin(g, now)
		return nil, ch
	case statePreparingRebalance:
		m.join = ch
		c.tryCompleteJoin(g, now)
		return nil, ch
	}
	return joinError(nm.id, kerr.UnknownMemberID.Code), nil
}

func (c *Coordinator) joinCurrent(g *group, nm *member, now time.Time) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse) {
	id := nm.id
	if g.is(stateDead) {
		return joinError(id, kerr.CoordinatorNotAvailable.Code), nil
	}
	if !g.supports(nm.protocolType, nm.protocols) {
		return joinError(id, kerr.InconsistentGroupProtocol.Code), nil
	}
	if _, ok := g.pending[id]; ok {
		return nil, c.addMemberAndRebalance(g, nm, now)
	}
	if g.staticFenced(id, nm.instanceID) {
		return joinError(id, kerr.FencedInstanceID.Code), nil
	}
	m := g.members[id]
	if m == nil || (nm.instanceID != "" && g.static[nm.instanceID] == "") {
		return joinError(id, kerr.UnknownMemberID.Code), nil
	}
	switch g.state {
	case statePreparingRebalance:
		return nil, c.updateMemberAndRebalance(g, m, nm, now)
	case stateCompletingRebalance:
		if m.matches(nm.protocols) {
			// A retry of a JoinGroup whose response was lost.
			return c.joinResponse(g, m, g.leader == id), nil
		}
		return nil, c.updateMemberAndRebalance(g, m, nm, now)
	case stateStable:
		if g.leader == id || !m.matches(nm.protocols) {
			// The leader rejoining asks for a rebalance (e.g. its
			// topics' metadata changed).
			return nil, c.updateMemberAndRebalance(g, m, nm, now)
		}
		return c.joinResponse(g, m, false), nil
	}
	return joinError(id, kerr.UnknownMemberID.Code), nil
}

// joinResponse is a successful JoinGroup response for the current
// generation; the leader gets every member's metadata.
func (c *Coordinator) joinResponse(g *group, m *member, withMembers bool) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Generation = g.generation
	pt, pn := g.protocolType, g.protocol
	r.ProtocolType, r.Protocol = &pt, &pn
	r.LeaderID = g.leader
	r.MemberID = m.id
	if withMembers {
		for _, o := range g.orderedMembers() {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID = o.id
			if o.instanceID != "" {
				iid := o.instanceID
				rm.InstanceID = &iid
			}
			rm.ProtocolMetadata = o.metadataFor(g.protocol)
			r.Members = append(r.Members, rm)
		}
	}
	return r
}

func (c *Coordinator) addMemberAndRebalance(g *group, m *member, now time.Time) chan *kmsg.JoinGroupResponse {
	m.isNew = true
	m.lastHeartbeat = now
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	m.join = ch
	if g.is(statePreparingRebalance) && g.generation == 0 {
		g.newMemberAdded = true
	}
	g.add(m)
	c.maybePrepareRebalance(g, now)
	c.tryCompleteJoin(g, now) // may answer (and clear m.join) at once
	return ch
}

func (c *Coordinator) updateMemberAndRebalance(g *group, m, nm *member, now time.Time) chan *kmsg.JoinGroupResponse {
	m.protocols = nm.protocols
	m.rebalanceTimeout, m.sessionTimeout = nm.rebalanceTimeout, nm.sessionTimeout
	m.clientID, m.clientHost = nm.clientID, nm.clientHost
	if m.join != nil {
		// A second JoinGroup of the same member replaces the first.
		m.join <- joinError(m.id, kerr.RebalanceInProgress.Code)
	}
	m.join = make(chan *kmsg.JoinGroupResponse, 1)
	ch := m.join
	c.maybePrepareRebalance(g, now)
	c.tryCompleteJoin(g, now)
	return ch
}

func (c *Coordinator) maybePrepareRebalance(g *group, now time.Time) {
	switch g.state {
	case stateStable, stateCompletingRebalance, stateEmpty:
		c.prepareRebalance(g, now)
	}
}

func (c *Coordinator) prepareRebalance(g *group, now time.Time) {
	if g.is(stateCompletingRebalance) {
		c.propagateAssignmentError(g, kerr.RebalanceInProgress.Code)
	}
	g.syncDeadline = time.Time{}
	timeout := g.rebalanceTimeout()
	if g.is(stateEmpty) && c.cfg.InitialRebalanceDelay > 0 {
		delay := c.cfg.InitialRebalanceDelay
		g.delayPhase = true
		g.newMemberAdded = false
		g.delayRemaining = max(timeout-delay, 0)
		g.joinDeadline = now.Add(delay)
	} else {
		g.delayPhase = false
		g.joinDeadline = now.Add(timeout)
	}
	g.transition(statePreparingRebalance, now)
	c.lg.Debug("preparing rebalance", "group", g.id, "generation", g.generation, "members", len(g.members))
}

// tryCompleteJoin completes the join phase once every member has rejoined
// (except during the initial delay, which always runs out).
func (c *Coordinator) tryCompleteJoin(g *group, now time.Time) {
	if g.is(statePreparingRebalance) && !g.delayPhase && g.allJoined() {
		c.completeJoin(g, now)
	}
}

// completeJoin is Kafka's onCompleteJoin: drop dynamic members that did not
// rejoin, start the next generation, answer every parked JoinGroup.
func (c *Coordinator) completeJoin(g *group, now time.Time) {
	for _, m := range g.orderedMembers() {
		if m.join == nil && m.instanceID == "" {
			c.lg.Info("removing member that did not rejoin in time", "group", g.id, "member", m.id)
			g.remove(m.id)
		}
	}
	if g.is(stateDead) {
		return
	}
	if !c.electJoinedLeader(g) && len(g.members) > 0 {
		// Only static members that have not rejoined are left: wait
		// for them, or for their sessions to end.
		g.delayPhase = false
		g.joinDeadline = now.Add(g.rebalanceTimeout())
		return
	}
	g.generation++
	g.pendingSync = map[string]bool{}
	g.joinDeadline = time.Time{}
	g.delayPhase = false
	if len(g.members) == 0 {
		g.protocol = ""
		g.computeSubscribed()
		g.transition(stateEmpty, now)
		if err := c.storeGroup(g, now); err != nil {
			c.lg.Warn("storing empty group failed", "group", g.id, "err", err)
		}
		return
	}
	g.protocol = g.selectProtocol()
	g.computeSubscribed()
	g.transition(stateCompletingRebalance, now)
	c.lg.Debug("rebalance joined", "group", g.id, "generation", g.generation, "protocol", g.protocol, "leader", g.leader, "members", len(g.members))
	for _, m := range g.orderedMembers() {
		if m.join != nil {
			m.join <- c.joinResponse(g, m, g.leader == m.id)
			m.join = nil
		}
		m.lastHeartbeat = now
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	g.syncDeadline = now.Add(g.rebalanceTimeout())
}

// electJoinedLeader keeps the leader if it rejoined, or picks a member
// that did; false when no member rejoined.
func (c *Coordinator) electJoinedLeader(g *group) bool {
	if g.leader == "" {
		return false
	}
	if g.members[g.leader].join != nil {
		return true
	}
	for _, m := range g.orderedMembers() {
		if m.join != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// removeMember is Kafka's removeMemberAndUpdateGroup.
func (c *Coordinator) removeMember(g *group, m *member, now time.Time) {
	if m.join != nil {
		m.join <- joinError(m.id, kerr.UnknownMemberID.Code)
		m.join = nil
	}
	if m.sync != nil {
		m.sync <- &kmsg.SyncGroupResponse{ErrorCode: kerr.UnknownMemberID.Code}
		m.sync = nil
	}
	g.remove(m.id)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		c.maybePrepareRebalance(g, now)
		c.tryCompleteJoin(g, now)
	case statePreparingRebalance:
		c.tryCompleteJoin(g, now)
	}
}

// tickGroup runs a group's deadlines.
func (c *Coordinator) tickGroup(g *group, now time.Time) {
	for id, deadline := range g.pending {
		if !now.Before(deadline) {
			delete(g.pending, id)
			c.tryCompleteJoin(g, now)
		}
	}
	for _, m := range g.orderedMembers() {
		if g.members[m.id] != m {
			continue // removed by an earlier expiry in this loop
		}
		alive := true
		switch {
		case m.join != nil:
			alive = !m.isNew || now.Before(m.lastHeartbeat.Add(newMemberJoinTimeout))
		case m.sync != nil:
		default:
			alive = now.Before(m.lastHeartbeat.Add(m.sessionTimeout))
		}
		if !alive {
			c.lg.Info("member session expired", "group", g.id, "member", m.id, "instance", m.instanceID)
			c.removeMember(g, m, now)
		}
	}
	if g.is(statePreparingRebalance) && !g.joinDeadline.IsZero() && !now.Before(g.joinDeadline) {
		if g.delayPhase && g.newMemberAdded && g.delayRemaining > 0 {
			d := min(c.cfg.InitialRebalanceDelay, g.delayRemaining)
			g.newMemberAdded = false
			g.delayRemaining -= d
			g.joinDeadline = now.Add(d)
		} else {
			c.completeJoin(g, now)
		}
	}
	if !g.syncDeadline.IsZero() && !now.Before(g.syncDeadline) {
		g.syncDeadline = time.Time{}
		if (g.is(stateCompletingRebalance) || g.is(stateStable)) && len(g.pendingSync) > 0 {
			for id := range g.pendingSync {
				c.lg.Info("removing member that did not sync in time", "group", g.id, "member", id)
				if m := g.members[id]; m != nil {
					if m.sync != nil {
						m.sync <- &kmsg.SyncGroupResponse{ErrorCode: kerr.UnknownMemberID.Code}
						m.sync = nil
					}
				}
				g.remove(id)
			}
			c.prepareRebalance(g, now)
			c.tryCompleteJoin(g, now)
		}
	}
}

// propagateAssignmentError clears the assignments and answers every parked
// SyncGroup with code.
func (c *Coordinator) propagateAssignmentError(g *group, code int16) {
	for _, m := range g.members {
		m.assignment = nil
		if m.sync != nil {
			m.sync <- &kmsg.SyncGroupResponse{ErrorCode: code}
			m.sync = nil
		}
	}
}

// SyncGroup serves a SyncGroup request (v0-v5; v5 checks protocol type and
// name). The leader's request carries the assignment; every member's
// request blocks until the leader's has been stored.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, error) {
	c.mu.Lock()
	resp, wait := c.sync(req)
	c.mu.Unlock()
	if resp == nil {
		select {
		case resp = <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return resp, nil
}

func syncError(code int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.ErrorCode = code
	return r
}

func (c *Coordinator) sync(req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, chan *kmsg.SyncGroupResponse) {
	now := c.cfg.Now()
	if err := c.validate(req.Group, apiOther); err != nil {
		return syncError(err.Code), nil
	}
	g := c.classic(req.Group)
	if g == nil {
		return syncError(kerr.UnknownMemberID.Code), nil
	}
	instanceID := ""
	if req.InstanceID != nil {
		instanceID = *req.InstanceID
	}
	m := g.members[req.MemberID]
	switch {
	case g.is(stateDead):
		return syncError(kerr.CoordinatorNotAvailable.Code), nil
	case g.staticFenced(req.MemberID, instanceID):
		return syncError(kerr.FencedInstanceID.Code), nil
	case m == nil:
		return syncError(kerr.UnknownMemberID.Code), nil
	case req.Generation != g.generation:
		return syncError(kerr.IllegalGeneration.Code), nil
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		return syncError(kerr.InconsistentGroupProtocol.Code), nil
	}
	switch g.state {
	case stateEmpty:
		return syncError(kerr.UnknownMemberID.Code), nil
	case statePreparingRebalance:
		return syncError(kerr.RebalanceInProgress.Code), nil
	case stateStable:
		delete(g.pendingSync, m.id)
		m.lastHeartbeat = now
		return c.syncResponse(g, m), nil
	}
	// CompletingRebalance.
	if m.sync != nil {
		m.sync <- syncError(kerr.RebalanceInProgress.Code)
	}
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	m.sync = ch
	delete(g.pendingSync, m.id)
	if g.leader != m.id {
		return nil, ch
	}
	assignment := map[string][]byte{}
	for _, a := range req.GroupAssignment {
		assignment[a.MemberID] = append([]byte(nil), a.MemberAssignment...)
	}
	old := map[string][]byte{}
	for id, o := range g.members {
		old[id] = o.assignment
		o.assignment = assignment[id]
		if o.assignment == nil {
			o.assignment = []byte{}
		}
	}
	if err := c.storeGroup(g, now); err != nil {
		for id, o := range g.members {
			o.assignment = old[id]
		}
		c.propagateAssignmentError(g, storeErrorCode(err))
		c.maybePrepareRebalance(g, now)
		return nil, ch
	}
	g.transition(stateStable, now)
	for _, o := range g.members {
		if o.sync != nil {
			o.sync <- c.syncResponse(g, o)
			o.sync = nil
			o.lastHeartbeat = now
		}
	}
	return nil, ch
}

func (c *Coordinator) syncResponse(g *group, m *member) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	pt, pn := g.protocolType, g.protocol
	r.ProtocolType, r.Protocol = &pt, &pn
	r.MemberAssignment = m.assignment
	if r.MemberAssignment == nil {
		r.MemberAssignment = []byte{}
	}
	return r
}

// Heartbeat serves a Heartbeat request (v0-v4; v3+ carries the instance id).
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := kmsg.NewPtrHeartbeatResponse()
	r.ErrorCode = c.heartbeat(req)
	return r
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if err := c.validate(req.Group, apiOther); err != nil {
		if err == kerr.CoordinatorLoadInProgress {
			return 0 // Kafka answers blindly while loading
		}
		return err.Code
	}
	g := c.classic(req.Group)
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	instanceID := ""
	if req.InstanceID != nil {
		instanceID = *req.InstanceID
	}
	m := g.members[req.MemberID]
	switch {
	case g.is(stateDead):
		return kerr.CoordinatorNotAvailable.Code
	case g.staticFenced(req.MemberID, instanceID):
		return kerr.FencedInstanceID.Code
	case m == nil:
		return kerr.UnknownMemberID.Code
	case req.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	switch g.state {
	case stateEmpty:
		return kerr.UnknownMemberID.Code
	case statePreparingRebalance:
		m.lastHeartbeat = c.cfg.Now()
		return kerr.RebalanceInProgress.Code
	}
	m.lastHeartbeat = c.cfg.Now()
	return 0
}

// LeaveGroup serves a LeaveGroup request: v0-v2 name one member (its error
// is the top-level error), v3+ a batch of members, which may name a static
// member by instance id alone (administrative removal).
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	r := kmsg.NewPtrLeaveGroupResponse()
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	if err := c.validate(req.Group, apiOther); err != nil {
		r.ErrorCode = err.Code
		return r
	}
	g := c.classic(req.Group)
	if g != nil && g.is(stateDead) {
		r.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return r
	}
	for _, lm := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = lm.MemberID, lm.InstanceID
		instanceID := ""
		if lm.InstanceID != nil {
			instanceID = *lm.InstanceID
		}
		switch {
		case g == nil:
			rm.ErrorCode = kerr.UnknownMemberID.Code
		case lm.MemberID == "":
			if id, ok := g.static[instanceID]; ok && instanceID != "" {
				c.removeMember(g, g.members[id], now)
			} else {
				rm.ErrorCode = kerr.UnknownMemberID.Code
			}
		case isPending(g, lm.MemberID):
			delete(g.pending, lm.MemberID)
			c.tryCompleteJoin(g, now)
		case g.staticFenced(lm.MemberID, instanceID):
			rm.ErrorCode = kerr.FencedInstanceID.Code
		case g.members[lm.MemberID] != nil:
			c.removeMember(g, g.members[lm.MemberID], now)
		default:
			rm.ErrorCode = kerr.UnknownMemberID.Code
		}
		r.Members = append(r.Members, rm)
	}
	if req.Version < 3 {
		r.ErrorCode = r.Members[0].ErrorCode
		r.Members = nil
	}
	return r
}

func isPending(g *group, id string) bool {
	_, ok := g.pending[id]
	return ok
}
