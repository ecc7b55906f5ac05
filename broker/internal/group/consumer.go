package group

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Member epochs with a meaning of their own in ConsumerGroupHeartbeat.
const (
	epochJoin        = 0
	epochLeave       = -1
	epochStaticLeave = -2
)

// mstate is a consumer-protocol member's reconciliation state, Kafka's
// MemberState.
type mstate int8

const (
	// mStable: the member owns its whole share of the target at its epoch.
	mStable mstate = iota
	// mUnrevoked: the member must give up partitionsPendingRevocation
	// before it gets anything new (its epoch does not move meanwhile).
	mUnrevoked
	// mUnreleased: the member is at the target epoch but some of its
	// target partitions are still owned by others.
	mUnreleased
)

func (s mstate) String() string {
	switch s {
	case mUnrevoked:
		return "UNREVOKED_PARTITIONS"
	case mUnreleased:
		return "UNRELEASED_PARTITIONS"
	}
	return "STABLE"
}

// cmember is one member of a consumer-protocol group.
type cmember struct {
	id         string
	instanceID string
	rackID     string
	clientID   string
	clientHost string

	epoch, prevEpoch int32
	state            mstate
	rebalanceTimeout time.Duration
	topicNames       []string // SubscribedTopicNames, sorted
	regex            string   // SubscribedTopicRegex, "" for none
	re               *regexp.Regexp
	serverAssignor   string // "" when the client named none

	assigned assignment // what the member owns and was told it owns
	revoking assignment // what it still owns but must give up

	lastHeartbeat time.Time
	// revokeDeadline is when a member in mUnrevoked is fenced for not
	// revoking (its rebalance timeout); zero otherwise.
	revokeDeadline time.Time
}

// subscribes reports whether the member subscribes to an existing topic.
// A regex matches internal topics too, as Kafka's resolution does (a
// client that does not want them excludes them in its pattern).
func (m *cmember) subscribes(topic string) bool {
	if _, ok := slices.BinarySearch(m.topicNames, topic); ok {
		return true
	}
	return m.re != nil && m.re.MatchString(topic)
}

// cgroup is the consumer-protocol (KIP-848) state of a group; the group's
// offsets stay in the enclosing [group].
type cgroup struct {
	epoch       int32 // the group epoch: bumped on every membership or metadata change
	targetEpoch int32 // the epoch the target assignment was computed at
	assignor    string
	members     map[string]*cmember
	static      map[string]string     // instance id → member id
	target      map[string]assignment // member id → target assignment
	// metaSig describes the subscribed topics (names, ids, partition
	// counts) the target was computed from; a change bumps the epoch.
	metaSig string
	// sigUnknown is set after a replay: metaSig is not stored.
	sigUnknown bool
}

func newCGroup() *cgroup {
	return &cgroup{
		members: map[string]*cmember{},
		static:  map[string]string{},
		target:  map[string]assignment{},
	}
}

// stateName is the group state that ConsumerGroupDescribe and ListGroups
// show (Kafka's ConsumerGroupState).
func (cg *cgroup) stateName() string {
	switch {
	case len(cg.members) == 0:
		return "Empty"
	case cg.epoch > cg.targetEpoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.state != mStable || m.epoch != cg.targetEpoch {
			return "Reconciling"
		}
	}
	return "Stable"
}

// ownedByOthers reports whether a partition is still owned (assigned or
// pending revocation) by a member other than self: Kafka's
// currentPartitionEpoch(...) != -1.
func (cg *cgroup) ownedByOthers(self string, t topicID, p int32) bool {
	for id, m := range cg.members {
		if id != self && (m.assigned.has(t, p) || m.revoking.has(t, p)) {
			return true
		}
	}
	return false
}

// topics asks the server for the current topics; outside the lock, since
// the server answers from its own locked registry.
func (c *Coordinator) topics() map[string]TopicInfo {
	if c.cfg.Topics == nil {
		return nil
	}
	return c.cfg.Topics()
}

// assignorSupported reports whether the broker offers an assignor.
func (c *Coordinator) assignorSupported(name string) bool {
	return slices.Contains(c.cfg.ConsumerAssignors, name)
}

func newUUIDString() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// heartbeatRequestError is Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
func (c *Coordinator) heartbeatRequestError(req *kmsg.ConsumerGroupHeartbeatRequest) (*kerr.Error, string) {
	switch {
	case req.MemberID == "" && (req.Version >= 1 || req.MemberEpoch != epochJoin):
		return kerr.InvalidRequest, "MemberId can't be empty."
	case req.InstanceID != nil && *req.InstanceID == "":
		return kerr.InvalidRequest, "InstanceId can't be empty."
	case req.RackID != nil && *req.RackID == "":
		return kerr.InvalidRequest, "RackId can't be empty."
	case req.MemberEpoch < epochStaticLeave:
		return kerr.InvalidRequest, "MemberEpoch is invalid."
	case req.MemberEpoch == epochStaticLeave && req.InstanceID == nil:
		return kerr.InvalidRequest, "InstanceId can't be null."
	case req.MemberEpoch == epochJoin && req.RebalanceTimeoutMillis == -1:
		return kerr.InvalidRequest, "RebalanceTimeoutMs must be provided in first request."
	case req.MemberEpoch == epochJoin && len(req.Topics) > 0:
		return kerr.InvalidRequest, "TopicPartitions must be empty when (re-)joining."
	case req.MemberEpoch == epochJoin && req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
		return kerr.InvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
	case req.ServerAssignor != nil && !c.assignorSupported(*req.ServerAssignor):
		return kerr.UnsupportedAssignor, fmt.Sprintf("ServerAssignor %s is not supported. Supported assignors: %s.", *req.ServerAssignor, strings.Join(c.cfg.ConsumerAssignors, ", "))
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		if _, err := compileRegex(*req.SubscribedTopicRegex); err != nil {
			return kerr.InvalidRegularExpression, fmt.Sprintf("SubscribedTopicRegex %s is invalid: %v", *req.SubscribedTopicRegex, err)
		}
	}
	return nil, ""
}

// compileRegex compiles a subscription regex with Java's matches()
// semantics: the whole topic name must match.
func compileRegex(s string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + s + `)$`)
}

// ConsumerHeartbeat serves ConsumerGroupHeartbeat (v0-v1): joining with
// epoch 0, heartbeats that carry the owned partitions and get the next
// assignment, and leaving with epoch -1 (or -2 for a static member, which
// keeps its assignment for the session timeout). The target assignment is
// computed here by the group's server-side assignor; a member gets a
// partition only once its previous owner has revoked it.
func (c *Coordinator) ConsumerHeartbeat(cl Client, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	topics := c.topics()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	resp.MemberEpoch = req.MemberEpoch
	fail := func(err *kerr.Error, msg string) *kmsg.ConsumerGroupHeartbeatResponse {
		resp.ErrorCode = err.Code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp
	}
	if err := c.validate(req.Group, apiOther); err != nil {
		return fail(err, "")
	}
	if err, msg := c.heartbeatRequestError(req); err != nil {
		return fail(err, msg)
	}
	memberID := strings.Clone(req.MemberID)
	if memberID == "" {
		memberID = newUUIDString() // v0: the coordinator names the member
	}
	instanceID := ""
	if req.InstanceID != nil {
		instanceID = strings.Clone(*req.InstanceID)
	}
	g := c.groups[req.Group]
	if g != nil && g.is(stateDead) {
		g = nil
	}
	if req.MemberEpoch < 0 {
		if g == nil || g.consumer == nil {
			return fail(kerr.GroupIDNotFound, fmt.Sprintf("Group %s not found.", req.Group))
		}
		return c.consumerLeave(g, memberID, instanceID, req.MemberEpoch, topics, now, resp)
	}
	if g == nil || g.consumer == nil {
		if req.MemberEpoch != epochJoin {
			return fail(kerr.GroupIDNotFound, fmt.Sprintf("Group %s not found.", req.Group))
		}
		if g != nil && len(g.members) > 0 {
			return fail(kerr.GroupIDNotFound, fmt.Sprintf("Group %s is a classic group with members; online upgrade to a consumer group is not supported.", req.Group))
		}
		if g == nil {
			g = newGroup(req.Group, c.PartitionFor(req.Group), now)
			c.groups[g.id] = g
		}
		c.becomeConsumer(g, now)
	}
	cg := g.consumer
	var m *cmember
	bump := false
	if req.MemberEpoch == epochJoin {
		if instanceID != "" {
			if oldID, ok := cg.static[instanceID]; ok && oldID != memberID {
				old := cg.members[oldID]
				if old.epoch != epochStaticLeave {
					return fail(kerr.UnreleasedInstanceID, fmt.Sprintf("Static member %s with instance id %s is not released yet.", oldID, instanceID))
				}
				m = c.replaceStaticMember(cg, old, memberID)
			}
		}
		if m == nil {
			m = cg.members[memberID]
		}
		switch {
		case m == nil:
			if len(cg.members) >= c.cfg.ConsumerMaxSize {
				return fail(kerr.GroupMaxSizeReached, fmt.Sprintf("The consumer group has reached its maximum capacity of %d members.", c.cfg.ConsumerMaxSize))
			}
			m = &cmember{id: memberID, assigned: assignment{}, revoking: assignment{}}
			cg.members[memberID] = m
			bump = true
		case m.epoch == epochStaticLeave:
			// A static member back under the same id resumes.
			m.epoch = m.prevEpoch
		case m.id == memberID && (m.epoch != epochJoin || m.assigned.count() > 0 || m.revoking.count() > 0):
			// A known member rejoining with epoch 0 abandoned its
			// partitions: it starts over from an empty assignment.
			m.prevEpoch, m.epoch = m.epoch, epochJoin
			m.assigned, m.revoking = assignment{}, assignment{}
			m.state, m.revokeDeadline = mStable, time.Time{}
		}
		if instanceID != "" {
			m.instanceID = instanceID
			cg.static[instanceID] = m.id
		}
	} else {
		m = cg.members[memberID]
		switch {
		case m == nil:
			return fail(kerr.UnknownMemberID, fmt.Sprintf("Member %s is not a member of group %s.", memberID, g.id))
		case instanceID != "" && cg.static[instanceID] != memberID:
			return fail(kerr.FencedInstanceID, fmt.Sprintf("Static member %s with instance id %s is fenced by another member.", memberID, instanceID))
		}
		if err := epochError(m, req); err != nil {
			return fail(err, fmt.Sprintf("The consumer group member has epoch %d, the coordinator knows %d. The member must abandon all its partitions and rejoin.", req.MemberEpoch, m.epoch))
		}
	}

	// The member's subscription and client details.
	m.clientID, m.clientHost = strings.Clone(cl.ID), cl.Host
	if req.RackID != nil {
		m.rackID = strings.Clone(*req.RackID)
	}
	if req.RebalanceTimeoutMillis >= 0 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if req.SubscribedTopicNames != nil {
		names := make([]string, len(req.SubscribedTopicNames))
		for i, n := range req.SubscribedTopicNames {
			names[i] = strings.Clone(n)
		}
		slices.Sort(names)
		names = slices.Compact(names)
		if !slices.Equal(names, m.topicNames) {
			m.topicNames = names
			bump = true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regex {
		m.regex = strings.Clone(*req.SubscribedTopicRegex)
		m.re = nil
		if m.regex != "" {
			m.re, _ = compileRegex(m.regex) // validated above
		}
		bump = true
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.serverAssignor {
		m.serverAssignor = strings.Clone(*req.ServerAssignor)
		bump = true
	}
	m.lastHeartbeat = now
	c.refreshConsumer(g, topics, bump, now)

	before := m.assigned.clone()
	c.reconcile(cg, m, req.Topics, now)
	if err := c.persistConsumer(g, now); err != nil {
		c.lg.Warn("storing consumer group failed", "group", g.id, "err", err)
		resp.ErrorCode = storeErrorCode(err)
		return resp
	}

	resp.MemberID = &m.id
	resp.MemberEpoch = m.epoch
	resp.HeartbeatIntervalMillis = int32(c.cfg.ConsumerHeartbeatInterval.Milliseconds())
	full := req.MemberEpoch == epochJoin || (req.RebalanceTimeoutMillis != -1 && req.SubscribedTopicNames != nil && req.Topics != nil)
	if full || !before.equal(m.assigned) {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		for _, tid := range sortedTopicIDs(m.assigned) {
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID, t.Partitions = tid, slices.Clone(m.assigned[tid])
			a.Topics = append(a.Topics, t)
		}
		resp.Assignment = &a
	}
	return resp
}

// epochError is Kafka's throwIfConsumerGroupMemberEpochIsInvalid: a member
// may be one epoch behind only if its response was lost and it owns no
// more than it was assigned since.
func epochError(m *cmember, req *kmsg.ConsumerGroupHeartbeatRequest) *kerr.Error {
	switch {
	case req.MemberEpoch > m.epoch:
		return kerr.FencedMemberEpoch
	case req.MemberEpoch < m.epoch:
		if req.MemberEpoch != m.prevEpoch || !ownedSubset(req.Topics, m.assigned) {
			return kerr.FencedMemberEpoch
		}
	}
	return nil
}

func ownedSubset(owned []kmsg.ConsumerGroupHeartbeatRequestTopic, a assignment) bool {
	if owned == nil {
		return true
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if !a.has(t.TopicID, p) {
				return false
			}
		}
	}
	return true
}

// ownsAny is Kafka's ownsRevokedPartitions: a nil owned list (a heartbeat
// that did not say) counts as still owning them.
func ownsAny(owned []kmsg.ConsumerGroupHeartbeatRequestTopic, a assignment) bool {
	if owned == nil {
		return true
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if a.has(t.TopicID, p) {
				return true
			}
		}
	}
	return false
}

func sortedTopicIDs(a assignment) []topicID {
	ids := make([]topicID, 0, len(a))
	for t, ps := range a {
		if len(ps) > 0 {
			ids = append(ids, t)
		}
	}
	slices.SortFunc(ids, func(x, y topicID) int { return slices.Compare(x[:], y[:]) })
	return ids
}

// becomeConsumer turns a group that has no classic members (new, or
// holding only offsets) into a consumer-protocol group.
func (c *Coordinator) becomeConsumer(g *group, now time.Time) {
	g.consumer = newCGroup()
	g.protocolType = "consumer"
	g.protocol, g.leader, g.generation = "", "", 0
	g.subscribed = map[string]bool{}
	g.transition(stateEmpty, now)
}

// replaceStaticMember hands a static member that left with epoch -2 over
// to its new member id: the new member resumes the old one's epoch and
// assignment, so a restart moves no partitions.
func (c *Coordinator) replaceStaticMember(cg *cgroup, old *cmember, newID string) *cmember {
	delete(cg.members, old.id)
	if t, ok := cg.target[old.id]; ok {
		delete(cg.target, old.id)
		cg.target[newID] = t
	}
	m := *old
	m.id = newID // the caller resumes its epoch from -2
	cg.members[newID] = &m
	cg.static[m.instanceID] = newID
	return &m
}

// consumerLeave handles epoch -1 (leave) and -2 (a static member's
// temporary leave).
func (c *Coordinator) consumerLeave(g *group, memberID, instanceID string, epoch int32, topics map[string]TopicInfo, now time.Time, resp *kmsg.ConsumerGroupHeartbeatResponse) *kmsg.ConsumerGroupHeartbeatResponse {
	cg := g.consumer
	m := cg.members[memberID]
	if instanceID != "" {
		id, ok := cg.static[instanceID]
		switch {
		case !ok:
			resp.ErrorCode = kerr.UnknownMemberID.Code
			return resp
		case id != memberID:
			resp.ErrorCode = kerr.FencedInstanceID.Code
			return resp
		}
	}
	if m == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp
	}
	resp.MemberID, resp.MemberEpoch = &m.id, epoch
	if epoch == epochStaticLeave {
		if m.epoch != epochStaticLeave {
			m.prevEpoch, m.epoch = m.epoch, epochStaticLeave
		}
		if err := c.persistConsumer(g, now); err != nil {
			c.lg.Warn("storing consumer group failed", "group", g.id, "err", err)
			resp.ErrorCode = storeErrorCode(err)
		}
		return resp
	}
	c.removeConsumerMember(g, m, now)
	c.refreshConsumer(g, topics, true, now)
	if err := c.persistConsumer(g, now); err != nil {
		c.lg.Warn("storing consumer group failed", "group", g.id, "err", err)
		resp.ErrorCode = storeErrorCode(err)
	}
	return resp
}

// removeConsumerMember drops a member and releases what it owned.
func (c *Coordinator) removeConsumerMember(g *group, m *cmember, now time.Time) {
	cg := g.consumer
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != "" && cg.static[m.instanceID] == m.id {
		delete(cg.static, m.instanceID)
	}
	if len(cg.members) == 0 {
		g.transition(stateEmpty, now)
	}
}

// resolve lists the existing topics a member subscribes to, sorted.
func resolve(m *cmember, topics map[string]TopicInfo) []string {
	var out []string
	for name := range topics {
		if m.subscribes(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// refreshConsumer bumps the group epoch when asked to or when the topics
// the members subscribe to changed (created, deleted, partitions added),
// and recomputes the target assignment when the epoch moved past it.
func (c *Coordinator) refreshConsumer(g *group, topics map[string]TopicInfo, bump bool, now time.Time) {
	cg := g.consumer
	subscribed := map[string]bool{}
	var sig strings.Builder
	used := map[string]bool{}
	for _, m := range cg.members {
		for _, n := range m.topicNames {
			subscribed[n] = true
		}
		for _, n := range resolve(m, topics) {
			subscribed[n] = true
			used[n] = true
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&sig, "%s/%x/%d;", n, topics[n].ID, topics[n].Partitions)
	}
	g.subscribed = subscribed
	if s := sig.String(); s != cg.metaSig {
		cg.metaSig = s
		bump = bump || !cg.sigUnknown
	}
	cg.sigUnknown = false
	if bump {
		cg.epoch++
	}
	if len(cg.members) > 0 {
		g.transition(stateStable, g.stateTime)
	}
	if cg.epoch <= cg.targetEpoch {
		return
	}
	cg.assignor = c.preferredAssignor(cg)
	members := make([]assignMember, 0, len(cg.members))
	for _, m := range cg.members {
		members = append(members, assignMember{id: m.id, topics: resolve(m, topics)})
	}
	cg.target = assign(cg.assignor, members, topics, cg.target)
	cg.targetEpoch = cg.epoch
	c.lg.Debug("consumer group target assignment", "group", g.id, "epoch", cg.epoch, "assignor", cg.assignor, "members", len(members))
}

// preferredAssignor is the assignor most members name, the broker's
// first configured one when none does (Kafka's
// computePreferredServerAssignor); ties go to the smaller name.
func (c *Coordinator) preferredAssignor(cg *cgroup) string {
	votes := map[string]int{}
	for _, m := range cg.members {
		if m.serverAssignor != "" {
			votes[m.serverAssignor]++
		}
	}
	best, n := "", 0
	for name, v := range votes {
		if v > n || v == n && name < best {
			best, n = name, v
		}
	}
	if best == "" {
		return c.cfg.ConsumerAssignors[0]
	}
	return best
}

// reconcile moves a member toward its target assignment: Kafka's
// CurrentAssignmentBuilder. owned is what the member says it owns (nil
// when it did not say).
func (c *Coordinator) reconcile(cg *cgroup, m *cmember, owned []kmsg.ConsumerGroupHeartbeatRequestTopic, now time.Time) {
	switch m.state {
	case mStable:
		if m.epoch != cg.targetEpoch {
			c.nextAssignment(cg, m, m.epoch, owned, now)
		}
	case mUnrevoked:
		if !ownsAny(owned, m.revoking) {
			c.nextAssignment(cg, m, m.epoch+1, owned, now)
		}
	case mUnreleased:
		c.nextAssignment(cg, m, m.epoch, owned, now)
	}
}

// nextAssignment is Kafka's computeNextAssignment.
func (c *Coordinator) nextAssignment(cg *cgroup, m *cmember, epoch int32, owned []kmsg.ConsumerGroupHeartbeatRequestTopic, now time.Time) {
	target := cg.target[m.id]
	kept, revoking, adding := assignment{}, assignment{}, assignment{}
	unreleased := false
	all := map[topicID]bool{}
	for t := range target {
		all[t] = true
	}
	for t := range m.assigned {
		all[t] = true
	}
	for t := range all {
		for _, p := range m.assigned[t] {
			if target.has(t, p) {
				kept.add(t, p)
			} else {
				revoking.add(t, p)
			}
		}
		for _, p := range target[t] {
			switch {
			case m.assigned.has(t, p):
			case cg.ownedByOthers(m.id, t, p):
				unreleased = true
			default:
				adding.add(t, p)
			}
		}
	}
	setEpoch := func(e int32) {
		if e != m.epoch {
			m.prevEpoch, m.epoch = m.epoch, e
		}
	}
	switch {
	case revoking.count() > 0 && ownsAny(owned, revoking):
		m.state = mUnrevoked
		setEpoch(epoch)
		m.assigned, m.revoking = kept, revoking
		if m.revokeDeadline.IsZero() {
			m.revokeDeadline = now.Add(m.rebalanceTimeout)
		}
		return
	default:
		for t, ps := range adding {
			for _, p := range ps {
				kept.add(t, p)
			}
		}
		m.state = mStable
		if unreleased {
			m.state = mUnreleased
		}
		setEpoch(cg.targetEpoch)
		m.assigned, m.revoking = kept, assignment{}
		m.revokeDeadline = time.Time{}
	}
}

// tickConsumer expires members whose session ended (static members that
// left with -2 included) and fences those that did not revoke within
// their rebalance timeout; metadata changes bump the epoch.
func (c *Coordinator) tickConsumer(g *group, topics map[string]TopicInfo, now time.Time) {
	cg := g.consumer
	bump, epoch := false, cg.epoch
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := cg.members[id]
		expired := !now.Before(m.lastHeartbeat.Add(c.cfg.ConsumerSessionTimeout))
		stuck := m.state == mUnrevoked && !m.revokeDeadline.IsZero() && !now.Before(m.revokeDeadline)
		if expired || stuck {
			c.lg.Info("removing consumer group member", "group", g.id, "member", id, "session_expired", expired, "revocation_timed_out", stuck)
			c.removeConsumerMember(g, m, now)
			bump = true
		}
	}
	if topics != nil || bump {
		c.refreshConsumer(g, topics, bump, now)
	}
	if cg.epoch == epoch {
		return // nothing to store
	}
	if err := c.persistConsumer(g, now); err != nil {
		c.lg.Warn("storing consumer group failed", "group", g.id, "err", err)
	}
}

// ConsumerDescribe answers ConsumerGroupDescribe (v0-v1). topics names the
// assignment's topic ids.
func (c *Coordinator) ConsumerDescribe(ids []string) []kmsg.ConsumerGroupDescribeResponseGroup {
	topics := c.topics()
	names := map[topicID]string{}
	for n, ti := range topics {
		names[ti.ID] = n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]kmsg.ConsumerGroupDescribeResponseGroup, 0, len(ids))
	for _, id := range ids {
		r := kmsg.NewConsumerGroupDescribeResponseGroup()
		r.Group = id
		if err := c.validate(id, apiOther); err != nil {
			r.ErrorCode = err.Code
			out = append(out, r)
			continue
		}
		g := c.groups[id]
		switch {
		case g == nil || g.is(stateDead):
			r.ErrorCode = kerr.GroupIDNotFound.Code
			msg := fmt.Sprintf("Group %s not found.", id)
			r.ErrorMessage = &msg
		case g.consumer == nil:
			r.ErrorCode = kerr.GroupIDNotFound.Code
			msg := fmt.Sprintf("Group %s is not a consumer group.", id)
			r.ErrorMessage = &msg
		default:
			cg := g.consumer
			r.State, r.Epoch, r.AssignmentEpoch, r.AssignorName = cg.stateName(), cg.epoch, cg.targetEpoch, cg.assignor
			if r.AssignorName == "" {
				r.AssignorName = c.cfg.ConsumerAssignors[0]
			}
			mids := make([]string, 0, len(cg.members))
			for mid := range cg.members {
				mids = append(mids, mid)
			}
			slices.Sort(mids)
			for _, mid := range mids {
				m := cg.members[mid]
				rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
				rm.MemberID, rm.MemberEpoch = m.id, m.epoch
				if m.instanceID != "" {
					iid := m.instanceID
					rm.InstanceID = &iid
				}
				if m.rackID != "" {
					rack := m.rackID
					rm.RackID = &rack
				}
				rm.ClientID, rm.ClientHost = m.clientID, m.clientHost
				rm.SubscribedTopics = slices.Clone(m.topicNames)
				if rm.SubscribedTopics == nil {
					rm.SubscribedTopics = []string{}
				}
				if m.regex != "" {
					re := m.regex
					rm.SubscribedTopicRegex = &re
				}
				rm.Assignment = describeAssignment(m.assigned, names)
				rm.TargetAssignment = describeAssignment(cg.target[m.id], names)
				rm.MemberType = 1 // consumer protocol
				r.Members = append(r.Members, rm)
			}
		}
		out = append(out, r)
	}
	return out
}

func describeAssignment(a assignment, names map[topicID]string) kmsg.Assignment {
	var out kmsg.Assignment
	out.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for _, tid := range sortedTopicIDs(a) {
		out.TopicPartitions = append(out.TopicPartitions, kmsg.AssignmentTopicPartition{TopicID: tid, Topic: names[tid], Partitions: slices.Clone(a[tid])})
	}
	slices.SortFunc(out.TopicPartitions, func(x, y kmsg.AssignmentTopicPartition) int { return cmp.Compare(x.Topic, y.Topic) })
	return out
}

// validateConsumerCommit is Kafka's ConsumerGroup.validateOffsetCommit: a
// commit without a member is allowed only to an empty group; a member of
// the consumer protocol must use OffsetCommit v9+ and its current epoch.
func validateConsumerCommit(cg *cgroup, version int16, memberID string, epoch int32) *kerr.Error {
	if epoch < 0 && len(cg.members) == 0 {
		return nil
	}
	m := cg.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID
	case version < 9:
		return kerr.UnsupportedVersion
	case epoch != m.epoch:
		return kerr.StaleMemberEpoch
	}
	return nil
}

// validateConsumerFetch is Kafka's ConsumerGroup.validateOffsetFetch for
// OffsetFetch v9+ (memberID nil: not a member).
func validateConsumerFetch(cg *cgroup, memberID *string, epoch int32) *kerr.Error {
	if memberID == nil && epoch < 0 {
		return nil
	}
	id := ""
	if memberID != nil {
		id = *memberID
	}
	m := cg.members[id]
	switch {
	case m == nil:
		return kerr.UnknownMemberID
	case epoch != m.epoch:
		return kerr.StaleMemberEpoch
	}
	return nil
}

// classic returns a group for the classic APIs (SyncGroup, Heartbeat,
// LeaveGroup): a consumer-protocol group has no classic members, so it is
// answered as unknown, UNKNOWN_MEMBER_ID.
func (c *Coordinator) classic(id string) *group {
	g := c.groups[id]
	if g != nil && g.consumer != nil {
		return nil
	}
	return g
}

// becomeClassic turns an empty consumer-protocol group back into a
// classic one keeping its offsets, as Kafka replaces an empty consumer
// group on a classic JoinGroup.
func (c *Coordinator) becomeClassic(g *group, now time.Time) {
	g.consumer = nil
	if err := c.persistConsumer(g, now); err != nil { // tombstones
		c.lg.Warn("removing consumer group records failed", "group", g.id, "err", err)
	}
	g.protocolType, g.subscribed = "", nil
	g.transition(stateEmpty, now)
}
