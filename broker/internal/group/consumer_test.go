package group

import (
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicSet is the fake server's topic list.
type topicSet struct {
	mu sync.Mutex
	m  map[string]TopicInfo
}

func (s *topicSet) get() map[string]TopicInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m)
}

func (s *topicSet) set(name string, partitions int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ti, ok := s.m[name]
	if !ok {
		ti.ID = [16]byte{byte(len(s.m) + 1), 0xAA}
	}
	ti.Partitions = partitions
	s.m[name] = ti
}

func (s *topicSet) id(name string) [16]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[name].ID
}

type cfix struct {
	*fixture
	topics *topicSet
}

func newConsumerFixture(t *testing.T, mod func(*Config)) *cfix {
	ts := &topicSet{m: map[string]TopicInfo{}}
	ts.set("t", 6)
	f := newFixture(t, func(c *Config) {
		c.Topics = ts.get
		if mod != nil {
			mod(c)
		}
	})
	return &cfix{f, ts}
}

type hbOpts struct {
	member, instance, regex, assignor string
	epoch                             int32
	topics                            []string
	owned                             map[string][]int32 // nil: not sent
}

// hb sends one ConsumerGroupHeartbeat v1 for group "cg".
func (f *cfix) hb(o hbOpts) *kmsg.ConsumerGroupHeartbeatResponse {
	f.t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = 1
	req.Group, req.MemberID, req.MemberEpoch = "cg", o.member, o.epoch
	req.RebalanceTimeoutMillis = -1
	if o.epoch == 0 {
		req.RebalanceTimeoutMillis = 60000
		req.SubscribedTopicNames = o.topics
		if o.topics == nil && o.regex == "" {
			req.SubscribedTopicNames = []string{"t"}
		}
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	}
	if o.regex != "" {
		req.SubscribedTopicRegex = &o.regex
	}
	if o.instance != "" {
		req.InstanceID = &o.instance
	}
	if o.assignor != "" {
		req.ServerAssignor = &o.assignor
	}
	if o.owned != nil {
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for topic, ps := range o.owned {
			req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: f.topics.id(topic), Partitions: ps})
		}
	}
	return f.c.ConsumerHeartbeat(Client{ID: "cl", Host: "/127.0.0.1"}, req)
}

// assigned flattens a response's assignment to topic name → partitions;
// nil when the response carries no assignment.
func (f *cfix) assigned(resp *kmsg.ConsumerGroupHeartbeatResponse) map[string][]int32 {
	if resp.Assignment == nil {
		return nil
	}
	names := map[[16]byte]string{}
	for n, ti := range f.topics.get() {
		names[ti.ID] = n
	}
	out := map[string][]int32{}
	for _, t := range resp.Assignment.Topics {
		out[names[t.TopicID]] = t.Partitions
	}
	return out
}

func count(a map[string][]int32) int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func wantCode(t *testing.T, resp *kmsg.ConsumerGroupHeartbeatResponse, want *kerr.Error) {
	t.Helper()
	if resp.ErrorCode != want.Code {
		t.Fatalf("error %v, want %v", kerr.ErrorForCode(resp.ErrorCode), want)
	}
}

func ok(t *testing.T, resp *kmsg.ConsumerGroupHeartbeatResponse) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	if resp.ErrorCode != 0 {
		msg := ""
		if resp.ErrorMessage != nil {
			msg = *resp.ErrorMessage
		}
		t.Fatalf("heartbeat: %v %s", kerr.ErrorForCode(resp.ErrorCode), msg)
	}
	return resp
}

func (f *cfix) describe() kmsg.ConsumerGroupDescribeResponseGroup {
	return f.c.ConsumerDescribe([]string{"cg"})[0]
}

// mem is a test member's view of itself: its epoch and what it owns.
type mem struct {
	id, instance string
	epoch        int32
	owned        map[string][]int32
}

// beat heartbeats as m (joining at epoch 0) and applies the response the
// way a client does: the new epoch, and the assignment when one is sent.
func (f *cfix) beat(m *mem) *kmsg.ConsumerGroupHeartbeatResponse {
	f.t.Helper()
	o := hbOpts{member: m.id, instance: m.instance, epoch: m.epoch}
	if m.epoch > 0 {
		o.owned = m.owned
		if o.owned == nil {
			o.owned = map[string][]int32{}
		}
	}
	r := ok(f.t, f.hb(o))
	m.epoch = r.MemberEpoch
	if a := f.assigned(r); a != nil {
		m.owned = a
	}
	return r
}

func TestConsumerJoinUniformSpread(t *testing.T) {
	f := newConsumerFixture(t, nil)
	a, b, c := &mem{id: "a"}, &mem{id: "b"}, &mem{id: "c"}
	r := f.beat(a)
	if a.epoch != 1 || count(a.owned) != 6 || r.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("first member: epoch %d, assignment %v, interval %d", a.epoch, a.owned, r.HeartbeatIntervalMillis)
	}
	// b and c join; a revokes, then everyone settles at 2 each.
	f.beat(b)
	f.beat(c)
	for range 4 {
		for _, m := range []*mem{a, b, c} {
			f.beat(m)
		}
	}
	seen := map[int32]bool{}
	for _, m := range []*mem{a, b, c} {
		if len(m.owned["t"]) != 2 || m.epoch != 3 {
			t.Fatalf("member %s owns %v at epoch %d", m.id, m.owned, m.epoch)
		}
		for _, p := range m.owned["t"] {
			seen[p] = true
		}
	}
	if len(seen) != 6 {
		t.Fatalf("partitions not all assigned once: %v %v %v", a.owned, b.owned, c.owned)
	}
	d := f.describe()
	if d.State != "Stable" || d.Epoch != 3 || d.AssignmentEpoch != 3 || d.AssignorName != "uniform" || len(d.Members) != 3 {
		t.Fatalf("describe: %+v", d)
	}
	lg, _ := f.c.ListGroups(nil, []string{"consumer"})
	if len(lg) != 1 || lg[0].GroupType != "consumer" || lg[0].GroupState != "Stable" || lg[0].ProtocolType != "consumer" {
		t.Fatalf("list: %+v", lg)
	}
	if lg, _ := f.c.ListGroups(nil, []string{"classic"}); len(lg) != 0 {
		t.Fatalf("a consumer group listed as classic: %+v", lg)
	}
	if dg := f.c.DescribeGroup("cg"); dg.State != "Dead" || len(dg.Members) != 0 {
		t.Fatalf("DescribeGroups of a consumer group: %+v", dg)
	}
}

// TestConsumerPendingRevocation walks Kafka's CurrentAssignmentBuilder
// across three members: a new member gets a partition only once its
// previous owner has revoked it, and a member's epoch stays put while it
// has partitions to revoke.
func TestConsumerPendingRevocation(t *testing.T) {
	f := newConsumerFixture(t, nil)
	a, b, c := &mem{id: "a"}, &mem{id: "b"}, &mem{id: "c"}
	f.beat(a) // owns 0..5 at epoch 1
	f.beat(b)
	if b.epoch != 2 || count(b.owned) != 0 {
		t.Fatalf("b joined at epoch %d with %v: a still owns everything", b.epoch, b.owned)
	}
	if d := f.describe(); d.State != "Reconciling" {
		t.Fatalf("state %s, want Reconciling", d.State)
	}
	// a is told to keep half; it has not revoked yet (it heartbeats with
	// all six), so its epoch stays 1.
	all := a.owned
	r := ok(t, f.hb(hbOpts{member: "a", epoch: 1, owned: all}))
	kept := f.assigned(r)["t"]
	if r.MemberEpoch != 1 || len(kept) != 3 {
		t.Fatalf("a: epoch %d, kept %v", r.MemberEpoch, kept)
	}
	// Still owning all six, a stays at epoch 1 with the same answer.
	if r := ok(t, f.hb(hbOpts{member: "a", epoch: 1, owned: all})); r.MemberEpoch != 1 || r.Assignment != nil {
		t.Fatalf("a before revoking: %+v", r)
	}
	// b gets nothing: a has not revoked.
	f.beat(b)
	if count(b.owned) != 0 {
		t.Fatalf("b got %v before a revoked", b.owned)
	}
	// c joins meanwhile: epoch 3.
	f.beat(c)
	if c.epoch != 3 || count(c.owned) != 0 {
		t.Fatalf("c: epoch %d, %v", c.epoch, c.owned)
	}
	// a revokes, then follows the epoch-3 target (one more revocation).
	a.owned = map[string][]int32{"t": kept}
	for range 3 {
		f.beat(a)
	}
	if a.epoch != 3 || len(a.owned["t"]) != 2 {
		t.Fatalf("a after revoking: epoch %d, %v", a.epoch, a.owned)
	}
	for _, m := range []*mem{b, c} {
		f.beat(m)
		if m.epoch != 3 || len(m.owned["t"]) != 2 {
			t.Fatalf("%s: epoch %d, %v", m.id, m.epoch, m.owned)
		}
		for _, p := range m.owned["t"] {
			for _, q := range a.owned["t"] {
				if p == q {
					t.Fatalf("%s got partition %d that a still owns", m.id, p)
				}
			}
		}
	}
	if b.owned["t"][0] == c.owned["t"][0] {
		t.Fatalf("b and c own the same partition: %v %v", b.owned, c.owned)
	}
	if d := f.describe(); d.State != "Stable" {
		t.Fatalf("state %s, want Stable", d.State)
	}
}

func TestConsumerFencingAndErrors(t *testing.T) {
	f := newConsumerFixture(t, func(c *Config) { c.ConsumerMaxSize = 2 })
	wantCode(t, f.hb(hbOpts{member: "a", epoch: 3}), kerr.GroupIDNotFound)
	ok(t, f.hb(hbOpts{member: "a"}))
	wantCode(t, f.hb(hbOpts{member: "a", epoch: 2}), kerr.FencedMemberEpoch)
	wantCode(t, f.hb(hbOpts{member: "zz", epoch: 1}), kerr.UnknownMemberID)
	wantCode(t, f.hb(hbOpts{member: "b", assignor: "sticky"}), kerr.UnsupportedAssignor)
	wantCode(t, f.hb(hbOpts{member: "b", regex: "("}), kerr.InvalidRegularExpression)
	wantCode(t, f.hb(hbOpts{member: ""}), kerr.InvalidRequest)
	ok(t, f.hb(hbOpts{member: "b", assignor: "range"}))
	wantCode(t, f.hb(hbOpts{member: "c"}), kerr.GroupMaxSizeReached)
	if d := f.describe(); d.AssignorName != "range" {
		t.Fatalf("assignor %q, want range (named by a member)", d.AssignorName)
	}

	// Offsets: v9 with the member's epoch (a is at 1), not older
	// versions or other epochs.
	commit := func(version int16, member string, epoch int32) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.MemberID, req.Generation = version, "cg", member, epoch
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 5
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return f.c.CommitOffsets(req).Topics[0].Partitions[0].ErrorCode
	}
	for _, c := range []struct {
		version int16
		member  string
		epoch   int32
		want    *kerr.Error
	}{
		{9, "a", 0, kerr.StaleMemberEpoch},
		{8, "a", 1, kerr.UnsupportedVersion},
		{9, "", -1, kerr.UnknownMemberID},
		{9, "a", 1, nil},
	} {
		code := commit(c.version, c.member, c.epoch)
		if want := int16(0); c.want != nil && code != c.want.Code || c.want == nil && code != want {
			t.Fatalf("commit %+v: %v", c, kerr.ErrorForCode(code))
		}
	}
	member := "a"
	if _, err := f.c.FetchMemberOffsets("cg", &member, 0, nil); err != kerr.StaleMemberEpoch {
		t.Fatalf("fetch with a stale epoch: %v", err)
	}
	if got, err := f.c.FetchMemberOffsets("cg", &member, 1, nil); err != nil || got[0].Partitions[0].Offset != 5 {
		t.Fatalf("fetch: %v %+v", err, got)
	}
	// A classic member cannot join a consumer group with members.
	jr, _ := f.c.join(Client{}, joinReq(joinOpts{group: "cg", protocols: []string{"range"}}))
	if jr.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("classic join: %v", kerr.ErrorForCode(jr.ErrorCode))
	}
	// Nor a consumer-protocol member a classic group with members.
	f.joinSync(t)
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version, req.Group, req.MemberID, req.RebalanceTimeoutMillis = 1, "classic", "m", 1000
	req.SubscribedTopicNames = []string{"t"}
	if r := f.c.ConsumerHeartbeat(Client{}, req); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("consumer heartbeat to a classic group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

// joinSync puts one classic member into group "classic".
func (f *cfix) joinSync(t *testing.T) {
	t.Helper()
	jr := f.newMember(joinOpts{group: "classic", protocols: []string{"range"}})
	if jr.ErrorCode != 0 {
		t.Fatalf("classic join: %v", kerr.ErrorForCode(jr.ErrorCode))
	}
}

func TestConsumerLeaveAndSessionExpiry(t *testing.T) {
	f := newConsumerFixture(t, nil)
	a, b := &mem{id: "a"}, &mem{id: "b"}
	f.beat(a)
	f.beat(b)
	for range 3 {
		f.beat(a)
		f.beat(b)
	}
	if a.epoch != 2 || len(a.owned["t"]) != 3 || len(b.owned["t"]) != 3 {
		t.Fatalf("a %+v b %+v", a, b)
	}
	// b leaves: a gets everything at a new epoch.
	if r := f.hb(hbOpts{member: "b", epoch: -1}); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	f.beat(a)
	if a.epoch != 3 || count(a.owned) != 6 {
		t.Fatalf("after the leave: %+v", a)
	}
	// a stops heartbeating: after the session timeout (45 s) it is gone.
	f.tick(44 * time.Second)
	if d := f.describe(); len(d.Members) != 1 {
		t.Fatalf("expired too early: %+v", d)
	}
	f.tick(2 * time.Second)
	if d := f.describe(); len(d.Members) != 0 || d.State != "Empty" || d.Epoch != 4 {
		t.Fatalf("after the session timeout: %+v", d)
	}
	wantCode(t, f.hb(hbOpts{member: "a", epoch: 3}), kerr.UnknownMemberID)
}

func TestConsumerStaticRejoin(t *testing.T) {
	f := newConsumerFixture(t, nil)
	a, b := &mem{id: "a", instance: "ia"}, &mem{id: "b", instance: "ib"}
	f.beat(a)
	f.beat(b)
	for range 3 {
		f.beat(a)
		f.beat(b)
	}
	aParts := a.owned["t"]
	if a.epoch != 2 || len(aParts) != 3 {
		t.Fatalf("a: %+v", a)
	}
	// a restarts: leaves with -2, keeping its assignment.
	if r := f.hb(hbOpts{member: "a", instance: "ia", epoch: -2}); r.ErrorCode != 0 || r.MemberEpoch != -2 {
		t.Fatalf("static leave: %+v", r)
	}
	epoch := f.describe().Epoch
	// Another process with ib while b is alive: not released.
	wantCode(t, f.hb(hbOpts{member: "x", instance: "ib"}), kerr.UnreleasedInstanceID)
	// a comes back under a new member id: same partitions, same epoch, no
	// new group epoch.
	a2 := &mem{id: "a2", instance: "ia"}
	f.beat(a2)
	if a2.epoch != 2 || f.describe().Epoch != epoch || !slices.Equal(a2.owned["t"], aParts) {
		t.Fatalf("static rejoin: %+v (had %v); group epoch %d→%d", a2, aParts, epoch, f.describe().Epoch)
	}
	wantCode(t, f.hb(hbOpts{member: "a", instance: "ia", epoch: 2}), kerr.UnknownMemberID)
	// A static member that left and never came back expires with its
	// session; b, heartbeating, stays and then gets everything.
	ok(t, f.hb(hbOpts{member: "a2", instance: "ia", epoch: -2}))
	for range 50 {
		f.tick(time.Second)
		f.beat(b)
	}
	if d := f.describe(); len(d.Members) != 1 || count(b.owned) != 6 {
		t.Fatalf("the departed static member did not expire: %+v; b %+v", d.Members, b)
	}
}

func (f *cfix) describeMember(id string) kmsg.ConsumerGroupDescribeResponseGroupMember {
	for _, m := range f.describe().Members {
		if m.MemberID == id {
			return m
		}
	}
	f.t.Fatalf("no member %s", id)
	return kmsg.ConsumerGroupDescribeResponseGroupMember{}
}

func TestConsumerMetadataChanges(t *testing.T) {
	f := newConsumerFixture(t, nil)
	r := ok(t, f.hb(hbOpts{member: "a", topics: []string{"t", "later"}}))
	if count(f.assigned(r)) != 6 {
		t.Fatalf("assignment %v", f.assigned(r))
	}
	// Partitions added to t: the next tick bumps the epoch.
	f.topics.set("t", 8)
	f.tick(time.Second)
	r = ok(t, f.hb(hbOpts{member: "a", epoch: r.MemberEpoch, owned: f.assigned(r)}))
	if r.MemberEpoch != 2 || len(f.assigned(r)["t"]) != 8 {
		t.Fatalf("after adding partitions: epoch %d, %v", r.MemberEpoch, f.assigned(r))
	}
	// A subscribed topic is created.
	f.topics.set("later", 2)
	f.tick(time.Second)
	r = ok(t, f.hb(hbOpts{member: "a", epoch: r.MemberEpoch}))
	if r.MemberEpoch != 3 || len(f.assigned(r)["later"]) != 2 {
		t.Fatalf("after creating a subscribed topic: epoch %d, %v", r.MemberEpoch, f.assigned(r))
	}

	// Regex subscription picks up a topic created later.
	f.topics.set("orders-eu", 1)
	r = ok(t, f.hb(hbOpts{member: "b", regex: "orders-.*"}))
	if got := f.assigned(r); len(got["orders-eu"]) != 1 || len(got) != 1 {
		t.Fatalf("regex member: %v", got)
	}
	epoch := r.MemberEpoch
	f.topics.set("orders-us", 3)
	f.topics.set("xorders-us", 3) // no match: the whole name must match
	f.tick(time.Second)
	r = ok(t, f.hb(hbOpts{member: "b", epoch: epoch}))
	if got := f.assigned(r); len(got["orders-us"]) != 3 || len(got["orders-eu"]) != 1 || len(got) != 2 {
		t.Fatalf("regex after a new topic: %v", got)
	}
	if m := f.describeMember("b"); m.SubscribedTopicRegex == nil || *m.SubscribedTopicRegex != "orders-.*" {
		t.Fatalf("describe regex: %+v", m)
	}
}

func TestConsumerReplay(t *testing.T) {
	f := newConsumerFixture(t, nil)
	a, b := &mem{id: "a", instance: "ia"}, &mem{id: "b"}
	f.beat(a)
	r := ok(t, f.hb(hbOpts{member: "b", regex: "t"}))
	b.epoch, b.owned = r.MemberEpoch, f.assigned(r)
	f.beat(a) // a is now revoking half
	before := f.describe()

	f.c.Close()
	f.c = f.start()
	after := f.describe()
	if after.Epoch != before.Epoch || after.AssignmentEpoch != before.AssignmentEpoch || len(after.Members) != 2 {
		t.Fatalf("replay: before %+v\nafter %+v", before, after)
	}
	for i := range after.Members {
		bm, am := before.Members[i], after.Members[i]
		if bm.MemberID != am.MemberID || bm.MemberEpoch != am.MemberEpoch || len(bm.Assignment.TopicPartitions) != len(am.Assignment.TopicPartitions) ||
			len(bm.TargetAssignment.TopicPartitions) != len(am.TargetAssignment.TopicPartitions) || (bm.InstanceID == nil) != (am.InstanceID == nil) ||
			(bm.SubscribedTopicRegex == nil) != (am.SubscribedTopicRegex == nil) {
			t.Fatalf("member %d: before %+v\nafter %+v", i, bm, am)
		}
	}
	// The members carry on where they were: a finishes revoking, b gets
	// its partitions.
	for range 3 {
		f.beat(a)
		f.beat(b)
	}
	if a.epoch != 2 || count(a.owned) != 3 || count(b.owned) != 3 || f.describe().Epoch != before.Epoch {
		t.Fatalf("after restart: a %+v b %+v, epoch %d", a, b, f.describe().Epoch)
	}
	// Both leave and the group is deleted: after a restart it is gone.
	ok(t, f.hb(hbOpts{member: "a", instance: "ia", epoch: -1}))
	ok(t, f.hb(hbOpts{member: "b", epoch: -1}))
	if res := f.c.DeleteGroups([]string{"cg"}); res[0].ErrorCode != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(res[0].ErrorCode))
	}
	f.c.Close()
	f.c = f.start()
	if d := f.describe(); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("deleted group after restart: %+v", d)
	}
}
