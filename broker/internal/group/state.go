package group

import (
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is a classic group's state; the names are Kafka's, as
// DescribeGroups and ListGroups show them.
type state int8

const (
	stateEmpty state = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s state) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	}
	return "Dead"
}

type protocol struct {
	name     string
	metadata []byte
}

// member is one member of a classic group.
type member struct {
	id               string
	instanceID       string // "" for a dynamic member
	clientID         string
	clientHost       string
	rebalanceTimeout time.Duration
	sessionTimeout   time.Duration
	protocolType     string
	protocols        []protocol
	assignment       []byte

	lastHeartbeat time.Time
	// isNew marks a member that joined in the current rebalance and has
	// never received a JoinGroup response: it cannot heartbeat, so it is
	// timed out by newMemberJoinTimeout instead of its session timeout.
	isNew bool
	// join and sync are the parked JoinGroup / SyncGroup requests of the
	// member, nil when it is not waiting.
	join chan *kmsg.JoinGroupResponse
	sync chan *kmsg.SyncGroupResponse
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.name == protocol {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether a rejoin carries the same protocols, in which
// case Kafka does not rebalance a follower.
func (m *member) matches(ps []protocol) bool {
	return slices.EqualFunc(m.protocols, ps, func(a, b protocol) bool {
		return a.name == b.name && string(a.metadata) == string(b.metadata)
	})
}

// offset is one committed offset.
type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  time.Time
	// expireTime is set only by OffsetCommit v2-v4 with a retention time:
	// those commits keep Kafka's pre-2.1 per-offset expiry.
	expireTime time.Time
}

type tp struct {
	topic     string
	partition int32
}

// group is one classic group and its committed offsets.
type group struct {
	id           string
	partition    int32
	state        state
	stateTime    time.Time
	protocolType string // "" when the group has no protocol (offsets only)
	protocol     string // the protocol chosen for the generation
	generation   int32
	leader       string

	members map[string]*member
	order   []string          // member ids in join order (Kafka's LinkedHashMap)
	static  map[string]string // group.instance.id → member id
	// pending are member ids handed out with MEMBER_ID_REQUIRED, with the
	// time they expire unless the member joins with them.
	pending map[string]time.Time
	// pendingSync are the members that got a JoinGroup response for this
	// generation but have not sent SyncGroup yet.
	pendingSync map[string]bool

	// joinDeadline ends the PreparingRebalance phase; delayPhase is set
	// while it is group.initial.rebalance.delay.ms for a new group, which
	// is extended while members keep arriving (newMemberAdded), up to
	// delayRemaining.
	joinDeadline   time.Time
	delayPhase     bool
	newMemberAdded bool
	delayRemaining time.Duration
	// syncDeadline ends the wait for SyncGroups after a join completed.
	syncDeadline time.Time

	offsets map[tp]*offset
	// subscribed are the topics the members of a "consumer" group
	// subscribe to, nil when unknown.
	subscribed map[string]bool

	// consumer is set for a group of the consumer protocol (KIP-848);
	// such a group has no classic members, and its state is Empty or
	// Stable here (the finer state is consumer.stateName()).
	consumer *cgroup
	// written are the consumer-group records last stored, by key, so that
	// only changes are appended and a deletion knows what to tombstone.
	written map[string][]byte
}

func newGroup(id string, partition int32, now time.Time) *group {
	return &group{
		id:          strings.Clone(id), // request strings alias request bytes
		partition:   partition,
		stateTime:   now,
		members:     map[string]*member{},
		static:      map[string]string{},
		pending:     map[string]time.Time{},
		pendingSync: map[string]bool{},
		offsets:     map[tp]*offset{},
	}
}

func (g *group) transition(s state, now time.Time) {
	g.state = s
	g.stateTime = now
}

func (g *group) is(s state) bool { return g.state == s }

func (g *group) orderedMembers() []*member {
	out := make([]*member, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, g.members[id])
	}
	return out
}

func (g *group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	if m.instanceID != "" {
		g.static[m.instanceID] = m.id
	}
	delete(g.pending, m.id)
}

func (g *group) remove(id string) {
	m := g.members[id]
	if m == nil {
		return
	}
	delete(g.members, id)
	g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == id })
	if m.instanceID != "" && g.static[m.instanceID] == id {
		delete(g.static, m.instanceID)
	}
	if g.leader == id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	delete(g.pending, id)
	delete(g.pendingSync, id)
}

// replaceStatic gives a static member a new member id (a restart of the
// static member with an empty member id), keeping its place and metadata.
func (g *group) replaceStatic(instanceID, oldID, newID string) *member {
	m := g.members[oldID]
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = newID
		}
	}
	g.static[instanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	return m
}

// staticFenced reports Kafka's isStaticMemberFenced: the instance id is
// known under another member id.
func (g *group) staticFenced(memberID, instanceID string) bool {
	if instanceID == "" {
		return false
	}
	cur, ok := g.static[instanceID]
	return ok && cur != memberID
}

func (g *group) awaitingJoin() int {
	n := 0
	for _, m := range g.members {
		if m.join != nil {
			n++
		}
	}
	return n
}

func (g *group) allJoined() bool {
	return g.awaitingJoin() == len(g.members) && len(g.pending) == 0
}

// supports is Kafka's supportsProtocols: an empty group takes any
// non-empty protocol list; otherwise the protocol type must match and one
// protocol must be supported by every member.
func (g *group) supports(protocolType string, ps []protocol) bool {
	if g.is(stateEmpty) {
		return protocolType != "" && len(ps) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range ps {
		if g.supportedBy(p.name) == len(g.members) {
			return true
		}
	}
	return false
}

func (g *group) supportedBy(name string) int {
	n := 0
	for _, m := range g.members {
		if slices.ContainsFunc(m.protocols, func(p protocol) bool { return p.name == name }) {
			n++
		}
	}
	return n
}

// selectProtocol is Kafka's vote: among the protocols every member
// supports, each member votes for the first in its own preference order;
// the most votes win (ties go to the earliest member's preference).
func (g *group) selectProtocol() string {
	members := g.orderedMembers()
	if len(members) == 0 {
		return ""
	}
	candidates := map[string]bool{}
	for _, p := range members[0].protocols {
		if g.supportedBy(p.name) == len(members) {
			candidates[p.name] = true
		}
	}
	votes := map[string]int{}
	for _, m := range members {
		for _, p := range m.protocols {
			if candidates[p.name] {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range members[0].protocols {
		if candidates[p.name] && votes[p.name] > bestVotes {
			best, bestVotes = p.name, votes[p.name]
		}
	}
	return best
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// computeSubscribed decodes the "consumer" protocol subscriptions of the
// chosen protocol; any undecodable member makes the set unknown.
func (g *group) computeSubscribed() {
	g.subscribed = nil
	if g.protocolType != "consumer" || (g.protocol == "" && len(g.members) > 0) {
		return
	}
	set := map[string]bool{} // empty for a group with no members
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return
		}
		for _, t := range meta.Topics {
			set[t] = true
		}
	}
	g.subscribed = set
}

// subscribedTo reports Kafka's isSubscribedToTopic: when the topics are
// unknown, a "consumer" group is taken to subscribe to everything (safe
// for OffsetDelete), any other group to nothing.
func (g *group) subscribedTo(topic string) bool {
	if g.subscribed == nil {
		return g.protocolType == "consumer"
	}
	return g.subscribed[topic]
}

// failWaiters answers every parked request with code (the group moved or
// the coordinator closed).
func (g *group) failWaiters(code int16) {
	for _, m := range g.members {
		if m.join != nil {
			m.join <- &kmsg.JoinGroupResponse{ErrorCode: code, MemberID: m.id, Generation: -1}
			m.join = nil
		}
		if m.sync != nil {
			m.sync <- &kmsg.SyncGroupResponse{ErrorCode: code}
			m.sync = nil
		}
	}
}
