package group

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memLog is an in-memory __consumer_offsets: a list of batches per
// partition. It can be made to fail appends.
type memLog struct {
	mu      sync.Mutex
	parts   map[int32][][]byte
	failErr error
}

func newMemLog() *memLog { return &memLog{parts: map[int32][][]byte{}} }

func (l *memLog) Append(p int32, b []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failErr != nil {
		return 0, l.failErr
	}
	l.parts[p] = append(l.parts[p], append([]byte(nil), b...))
	return int64(len(l.parts[p]) - 1), nil
}

func (l *memLog) Scan(p int32, fn func([]byte) error) error {
	l.mu.Lock()
	bs := append([][]byte(nil), l.parts[p]...)
	l.mu.Unlock()
	for _, b := range bs {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// clock is a fake clock the tests advance by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t     *testing.T
	c     *Coordinator
	log   *memLog
	clock *clock
	cfg   Config
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, log: newMemLog(), clock: &clock{now: time.UnixMilli(1_700_000_000_000)}}
	f.cfg = Config{Partitions: 4, InitialRebalanceDelay: -1, Now: f.clock.Now, RetentionCheckInterval: time.Minute}
	if mod != nil {
		mod(&f.cfg)
	}
	f.c = f.start()
	return f
}

// start builds a coordinator over the fixture's log and loads every
// partition (a broker start).
func (f *fixture) start() *Coordinator {
	f.t.Helper()
	c := New(f.cfg, f.log)
	for p := range f.cfg.Partitions {
		if err := c.Load(p); err != nil {
			f.t.Fatal(err)
		}
	}
	return c
}

// tick advances the clock and runs the coordinator's deadlines.
func (f *fixture) tick(d time.Duration) {
	f.clock.advance(d)
	f.c.Tick()
}

type joinOpts struct {
	group, member, instance string
	protocols               []string
	session, rebalance      time.Duration
	version                 int16
	metadata                []byte
}

func joinReq(o joinOpts) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	if o.version != 0 {
		r.Version = o.version
	}
	r.Group, r.MemberID, r.ProtocolType = o.group, o.member, "consumer"
	if o.instance != "" {
		r.InstanceID = &o.instance
	}
	r.SessionTimeoutMillis = 10000
	if o.session != 0 {
		r.SessionTimeoutMillis = int32(o.session.Milliseconds())
	}
	r.RebalanceTimeoutMillis = 20000
	if o.rebalance != 0 {
		r.RebalanceTimeoutMillis = int32(o.rebalance.Milliseconds())
	}
	if o.protocols == nil {
		o.protocols = []string{"range"}
	}
	for _, p := range o.protocols {
		rp := kmsg.NewJoinGroupRequestProtocol()
		rp.Name, rp.Metadata = p, o.metadata
		if rp.Metadata == nil {
			rp.Metadata = []byte("meta-" + p)
		}
		r.Protocols = append(r.Protocols, rp)
	}
	return r
}

// pendingJoin is a JoinGroup running in the background.
type pendingJoin struct {
	done chan struct{}
	resp *kmsg.JoinGroupResponse
	err  error
}

func (f *fixture) joinAsync(o joinOpts) *pendingJoin {
	pj := &pendingJoin{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	f.t.Cleanup(func() { cancel(); <-pj.done })
	go func() {
		defer close(pj.done)
		pj.resp, pj.err = f.c.JoinGroup(ctx, Client{ID: "cl", Host: "/127.0.0.1"}, joinReq(o))
	}()
	return pj
}

// wait returns the response once the join returned, failing after a
// deadline.
func (pj *pendingJoin) wait(t *testing.T) *kmsg.JoinGroupResponse {
	t.Helper()
	select {
	case <-pj.done:
	case <-time.After(5 * time.Second):
		t.Fatal("JoinGroup did not return")
	}
	if pj.err != nil {
		t.Fatal(pj.err)
	}
	return pj.resp
}

func (pj *pendingJoin) returned() bool {
	select {
	case <-pj.done:
		return true
	default:
		return false
	}
}

// waitParked waits until n members of a group are parked in JoinGroup, so
// that the test knows the coordinator has seen the requests.
func (f *fixture) waitParked(group string, n int) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.c.mu.Lock()
		g := f.c.groups[group]
		got := 0
		if g != nil {
			got = g.awaitingJoin()
		}
		f.c.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
	f.t.Fatalf("%d members never parked in JoinGroup", n)
}

// join runs the MEMBER_ID_REQUIRED round trip and then the real join,
// which must complete at once (the only member, or all joined).
func (f *fixture) newMember(o joinOpts) *kmsg.JoinGroupResponse {
	f.t.Helper()
	r := f.joinAsync(o).wait(f.t)
	if r.ErrorCode != kerr.MemberIDRequired.Code {
		f.t.Fatalf("first join: got %v, want MEMBER_ID_REQUIRED", kerr.ErrorForCode(r.ErrorCode))
	}
	o.member = r.MemberID
	return f.joinAsync(o).wait(f.t)
}

func (f *fixture) sync(group, member string, gen int32, assign map[string]string) *kmsg.SyncGroupResponse {
	f.t.Helper()
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group, r.MemberID, r.Generation = group, member, gen
	for m, a := range assign {
		ra := kmsg.NewSyncGroupRequestGroupAssignment()
		ra.MemberID, ra.MemberAssignment = m, []byte(a)
		r.GroupAssignment = append(r.GroupAssignment, ra)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := f.c.SyncGroup(ctx, r)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

func (f *fixture) heartbeat(group, member string, gen int32) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group, r.MemberID, r.Generation = group, member, gen
	return f.c.Heartbeat(r).ErrorCode
}

func (f *fixture) state(group string) string {
	return f.c.DescribeGroup(group).State
}

func codeIs(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Fatalf("%s: got %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

func TestPartitionForMatchesKafka(t *testing.T) {
	// abs(Java String.hashCode()) % 50, computed over UTF-16 code units
	// (a surrogate pair for the emoji) with int32 overflow.
	for _, c := range []struct {
		group string
		want  int32
	}{
		{"", 0},
		{"a", 47},
		{"my-group", 12}, // hashCode -1906497762
		{"console-consumer-1234", 9},
		{"\U0001F600grp", 36},
	} {
		if got := PartitionFor(c.group, 50); got != c.want {
			t.Errorf("PartitionFor(%q) = %d, want %d", c.group, got, c.want)
		}
	}
}

func TestJoinSyncHeartbeatSingleMember(t *testing.T) {
	f := newFixture(t, nil)
	r := f.newMember(joinOpts{group: "g"})
	codeIs(t, "join", r.ErrorCode, nil)
	if r.Generation != 1 || r.LeaderID != r.MemberID || len(r.Members) != 1 || *r.Protocol != "range" {
		t.Fatalf("join response: gen %d leader %q member %q members %d protocol %q", r.Generation, r.LeaderID, r.MemberID, len(r.Members), *r.Protocol)
	}
	if got := f.state("g"); got != "CompletingRebalance" {
		t.Fatalf("state %s", got)
	}
	codeIs(t, "heartbeat while completing", f.heartbeat("g", r.MemberID, 1), nil)
	s := f.sync("g", r.MemberID, 1, map[string]string{r.MemberID: "assigned"})
	codeIs(t, "sync", s.ErrorCode, nil)
	if string(s.MemberAssignment) != "assigned" {
		t.Fatalf("assignment %q", s.MemberAssignment)
	}
	if got := f.state("g"); got != "Stable" {
		t.Fatalf("state %s", got)
	}
	codeIs(t, "heartbeat", f.heartbeat("g", r.MemberID, 1), nil)
	codeIs(t, "heartbeat old generation", f.heartbeat("g", r.MemberID, 0), kerr.IllegalGeneration)
	codeIs(t, "heartbeat unknown member", f.heartbeat("g", "nobody", 1), kerr.UnknownMemberID)
	codeIs(t, "sync old generation", f.sync("g", r.MemberID, 0, nil).ErrorCode, kerr.IllegalGeneration)
}

func TestMemberIDRequiredAndOldVersions(t *testing.T) {
	f := newFixture(t, nil)
	r := f.joinAsync(joinOpts{group: "g"}).wait(t)
	codeIs(t, "v9 join with no member id", r.ErrorCode, kerr.MemberIDRequired)
	if r.MemberID == "" || r.Generation != -1 {
		t.Fatalf("MEMBER_ID_REQUIRED response: member %q generation %d", r.MemberID, r.Generation)
	}
	// v3 has no MEMBER_ID_REQUIRED: the member joins at once.
	r3 := f.joinAsync(joinOpts{group: "h", version: 3}).wait(t)
	codeIs(t, "v3 join", r3.ErrorCode, nil)
	// A made-up member id is unknown.
	codeIs(t, "unknown id", f.joinAsync(joinOpts{group: "h", member: "made-up"}).wait(t).ErrorCode, kerr.UnknownMemberID)
	// Bad session timeouts and groups.
	codeIs(t, "session too short", f.joinAsync(joinOpts{group: "g", session: time.Second}).wait(t).ErrorCode, kerr.InvalidSessionTimeout)
	codeIs(t, "empty group id", f.joinAsync(joinOpts{group: ""}).wait(t).ErrorCode, kerr.InvalidGroupID)
	codeIs(t, "inconsistent protocols", f.joinAsync(joinOpts{group: "h", protocols: []string{"other"}}).wait(t).ErrorCode, kerr.InconsistentGroupProtocol)
}

// twoMembers forms a stable group of a and b and returns their ids.
func (f *fixture) twoMembers(group string) (a, b string, gen int32) {
	f.t.Helper()
	ra := f.newMember(joinOpts{group: group, protocols: []string{"range", "roundrobin"}})
	f.sync(group, ra.MemberID, ra.Generation, map[string]string{ra.MemberID: "all"})
	// b joins: a must rejoin; the join completes when both are in.
	first := f.joinAsync(joinOpts{group: group, protocols: []string{"roundrobin", "range"}}).wait(f.t)
	pb := f.joinAsync(joinOpts{group: group, member: first.MemberID, protocols: []string{"roundrobin", "range"}})
	f.waitParked(group, 1)
	codeIs(f.t, "heartbeat during rebalance", f.heartbeat(group, ra.MemberID, ra.Generation), kerr.RebalanceInProgress)
	pa := f.joinAsync(joinOpts{group: group, member: ra.MemberID, protocols: []string{"range", "roundrobin"}})
	rb, ra2 := pb.wait(f.t), pa.wait(f.t)
	codeIs(f.t, "b join", rb.ErrorCode, nil)
	codeIs(f.t, "a rejoin", ra2.ErrorCode, nil)
	if ra2.Generation != 2 || rb.Generation != 2 || ra2.LeaderID != ra.MemberID || len(ra2.Members) != 2 || len(rb.Members) != 0 {
		f.t.Fatalf("generation %d/%d leader %q members %d/%d", ra2.Generation, rb.Generation, ra2.LeaderID, len(ra2.Members), len(rb.Members))
	}
	// A tie of votes goes to the first member's preference.
	if *rb.Protocol != "range" {
		f.t.Fatalf("protocol %q", *rb.Protocol)
	}
	return ra.MemberID, rb.MemberID, 2
}

func TestSecondMemberRebalance(t *testing.T) {
	f := newFixture(t, nil)
	a, b, gen := f.twoMembers("g")
	// b's sync waits for the leader's.
	done := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { done <- f.sync("g", b, gen, nil) }()
	sa := f.sync("g", a, gen, map[string]string{a: "p0", b: "p1"})
	codeIs(t, "leader sync", sa.ErrorCode, nil)
	sb := <-done
	codeIs(t, "follower sync", sb.ErrorCode, nil)
	if string(sa.MemberAssignment) != "p0" || string(sb.MemberAssignment) != "p1" {
		t.Fatalf("assignments %q %q", sa.MemberAssignment, sb.MemberAssignment)
	}
	// b leaves: a is told to rebalance and rejoins alone.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version, lr.Group = 5, "g"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = b
	lr.Members = append(lr.Members, lm)
	resp := f.c.LeaveGroup(lr)
	codeIs(t, "leave", resp.Members[0].ErrorCode, nil)
	codeIs(t, "heartbeat after leave", f.heartbeat("g", a, gen), kerr.RebalanceInProgress)
	r := f.joinAsync(joinOpts{group: "g", member: a}).wait(t)
	codeIs(t, "rejoin", r.ErrorCode, nil)
	if r.Generation != 3 || len(r.Members) != 1 {
		t.Fatalf("after leave: generation %d members %d", r.Generation, len(r.Members))
	}
}

func TestRebalanceTimeoutRemovesMembersThatDoNotRejoin(t *testing.T) {
	f := newFixture(t, nil)
	a, b, gen := f.twoMembers("g")
	done := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { done <- f.sync("g", b, gen, nil) }()
	f.sync("g", a, gen, map[string]string{a: "p0", b: "p1"})
	<-done
	// a rejoins (leader: forces a rebalance); b never does.
	pa := f.joinAsync(joinOpts{group: "g", member: a, protocols: []string{"range", "roundrobin"}})
	f.waitParked("g", 1)
	for range 2 { // b heartbeats within its 10 s session, but does not rejoin
		f.tick(9 * time.Second)
		codeIs(t, "b heartbeat", f.heartbeat("g", b, gen), kerr.RebalanceInProgress)
	}
	if pa.returned() {
		t.Fatal("join completed before the rebalance timeout")
	}
	f.tick(3 * time.Second) // past the 20 s rebalance timeout
	r := pa.wait(t)
	codeIs(t, "a join", r.ErrorCode, nil)
	if len(r.Members) != 1 || r.Generation != gen+1 {
		t.Fatalf("members %d generation %d", len(r.Members), r.Generation)
	}
	codeIs(t, "b after removal", f.heartbeat("g", b, gen), kerr.UnknownMemberID)
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, nil)
	r := f.newMember(joinOpts{group: "g", session: 10 * time.Second})
	f.sync("g", r.MemberID, r.Generation, map[string]string{r.MemberID: "x"})
	f.tick(9 * time.Second)
	codeIs(t, "heartbeat in time", f.heartbeat("g", r.MemberID, r.Generation), nil)
	f.tick(9 * time.Second)
	if got := f.state("g"); got != "Stable" {
		t.Fatalf("state %s after a heartbeat within the session", got)
	}
	f.tick(2 * time.Second)
	if got := f.state("g"); got != "Empty" {
		t.Fatalf("state %s after the session expired", got)
	}
	codeIs(t, "heartbeat of the expired member", f.heartbeat("g", r.MemberID, r.Generation), kerr.UnknownMemberID)
	// A pending member id (MEMBER_ID_REQUIRED) also expires.
	p := f.joinAsync(joinOpts{group: "g"}).wait(t)
	f.tick(11 * time.Second)
	codeIs(t, "expired pending id", f.joinAsync(joinOpts{group: "g", member: p.MemberID}).wait(t).ErrorCode, kerr.UnknownMemberID)
}

func TestStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	f := newFixture(t, nil)
	a := f.joinAsync(joinOpts{group: "g", instance: "ia"}).wait(t) // static: no MEMBER_ID_REQUIRED
	codeIs(t, "static join", a.ErrorCode, nil)
	f.sync("g", a.MemberID, a.Generation, map[string]string{a.MemberID: "mine"})
	// The process restarts: same instance id, no member id.
	r := f.joinAsync(joinOpts{group: "g", instance: "ia"}).wait(t)
	codeIs(t, "static rejoin", r.ErrorCode, nil)
	if r.MemberID == a.MemberID || r.Generation != a.Generation {
		t.Fatalf("rejoin: member %q (old %q) generation %d (old %d)", r.MemberID, a.MemberID, r.Generation, a.Generation)
	}
	// It was the leader: it is told so, with the members, and skips assigning.
	if r.LeaderID != r.MemberID || !r.SkipAssignment || len(r.Members) != 1 {
		t.Fatalf("leader %q skip %v members %d", r.LeaderID, r.SkipAssignment, len(r.Members))
	}
	if got := f.state("g"); got != "Stable" {
		t.Fatalf("state %s: a static restart must not rebalance", got)
	}
	s := f.sync("g", r.MemberID, r.Generation, nil)
	codeIs(t, "sync", s.ErrorCode, nil)
	if string(s.MemberAssignment) != "mine" {
		t.Fatalf("assignment %q, want the old one", s.MemberAssignment)
	}
	// The old incarnation is fenced.
	hb := kmsg.NewPtrHeartbeatRequest()
	iid := "ia"
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "g", a.MemberID, a.Generation, &iid
	codeIs(t, "old member heartbeat", f.c.Heartbeat(hb).ErrorCode, kerr.FencedInstanceID)

	// Before JoinGroup v9 the leader cannot skip the assignment: it is
	// given the old leader id, so that it does not think it leads.
	r5 := f.joinAsync(joinOpts{group: "g", instance: "ia", version: 5}).wait(t)
	codeIs(t, "v5 static rejoin", r5.ErrorCode, nil)
	if r5.LeaderID != r.MemberID || r5.MemberID == r.MemberID || len(r5.Members) != 0 || f.state("g") != "Stable" {
		t.Fatalf("v5 rejoin: leader %q (want the old %q), member %q, members %d, state %s", r5.LeaderID, r.MemberID, r5.MemberID, len(r5.Members), f.state("g"))
	}
}

func TestGroupMaxSize(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxSize = 1 })
	f.newMember(joinOpts{group: "g"})
	first := f.joinAsync(joinOpts{group: "g"}).wait(t)
	codeIs(t, "second member", f.joinAsync(joinOpts{group: "g", member: first.MemberID}).wait(t).ErrorCode, kerr.GroupMaxSizeReached)
}

func TestInitialRebalanceDelay(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.InitialRebalanceDelay = 3 * time.Second })
	first := f.joinAsync(joinOpts{group: "g"}).wait(t)
	pj := f.joinAsync(joinOpts{group: "g", member: first.MemberID})
	f.waitParked("g", 1)
	f.tick(2 * time.Second)
	if pj.returned() {
		t.Fatal("join completed before the initial delay")
	}
	f.tick(2 * time.Second)
	codeIs(t, "join", pj.wait(t).ErrorCode, nil)
}

func commitReq(group, member string, gen int32, topic string, offsets map[int32]int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 8
	r.Group, r.MemberID, r.Generation = group, member, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		meta := "m" + string(rune('0'+p))
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, o, 7, &meta
		rt.Partitions = append(rt.Partitions, rp)
	}
	r.Topics = append(r.Topics, rt)
	return r
}

func TestOffsetsCommitFetchAndGenerationChecks(t *testing.T) {
	f := newFixture(t, nil)
	// A simple consumer commits to a group with no members.
	resp := f.c.CommitOffsets(commitReq("simple", "", -1, "t", map[int32]int64{0: 10, 1: 20}))
	for _, p := range resp.Topics[0].Partitions {
		codeIs(t, "simple commit", p.ErrorCode, nil)
	}
	got, err := f.c.FetchOffsets("simple", []TopicPartitions{{"t", []int32{0, 1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []PartitionOffset{{0, 10, 7, "m0", false}, {1, 20, 7, "m1", false}, {2, -1, -1, "", false}}
	for i, w := range want {
		if got[0].Partitions[i] != w {
			t.Fatalf("partition %d: got %+v, want %+v", i, got[0].Partitions[i], w)
		}
	}
	all, _ := f.c.FetchOffsets("simple", nil)
	if len(all) != 1 || len(all[0].Partitions) != 2 {
		t.Fatalf("all offsets: %+v", all)
	}
	none, _ := f.c.FetchOffsets("nobody", []TopicPartitions{{"t", []int32{0}}})
	if none[0].Partitions[0].Offset != -1 {
		t.Fatalf("no commit: %+v", none)
	}

	// A group with a member: only the member of the current generation commits.
	r := f.newMember(joinOpts{group: "g"})
	codeIs(t, "commit while completing", f.c.CommitOffsets(commitReq("g", r.MemberID, r.Generation, "t", map[int32]int64{0: 1})).Topics[0].Partitions[0].ErrorCode, kerr.RebalanceInProgress)
	f.sync("g", r.MemberID, r.Generation, nil)
	codeIs(t, "member commit", f.c.CommitOffsets(commitReq("g", r.MemberID, r.Generation, "t", map[int32]int64{0: 5})).Topics[0].Partitions[0].ErrorCode, nil)
	codeIs(t, "old generation", f.c.CommitOffsets(commitReq("g", r.MemberID, r.Generation-1, "t", map[int32]int64{0: 5})).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
	codeIs(t, "unknown member", f.c.CommitOffsets(commitReq("g", "x", r.Generation, "t", map[int32]int64{0: 5})).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
	codeIs(t, "simple commit to a live group", f.c.CommitOffsets(commitReq("g", "", -1, "t", map[int32]int64{0: 5})).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
	codeIs(t, "generation for a gone group", f.c.CommitOffsets(commitReq("gone", "m", 3, "t", map[int32]int64{0: 5})).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)

	// A failed append is not committed and is reported.
	f.log.failErr = errors.New("disk full")
	codeIs(t, "failed append", f.c.CommitOffsets(commitReq("simple", "", -1, "t", map[int32]int64{0: 99})).Topics[0].Partitions[0].ErrorCode, kerr.CoordinatorNotAvailable)
	f.log.failErr = nil
	if got, _ := f.c.FetchOffsets("simple", []TopicPartitions{{"t", []int32{0}}}); got[0].Partitions[0].Offset != 10 {
		t.Fatalf("a failed commit changed the offset to %d", got[0].Partitions[0].Offset)
	}
}

// snapshot is the observable state of a coordinator's groups.
func snapshot(c *Coordinator) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for id, g := range c.groups {
		s := g.state.String() + " gen=" + itoa(int64(g.generation)) + " type=" + g.protocolType + " proto=" + g.protocol + " leader=" + g.leader
		for _, m := range g.orderedMembers() {
			s += " member=" + m.id + "/" + m.instanceID + "/" + string(m.assignment)
		}
		var offs []string
		for k, o := range g.offsets {
			offs = append(offs, k.topic+"["+itoa(int64(k.partition))+"]="+itoa(o.offset)+"/"+o.metadata+"/"+itoa(int64(o.leaderEpoch)))
		}
		slices.Sort(offs)
		out[id] = s + " " + strings.Join(offs, " ")
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestReplayGivesTheSameState(t *testing.T) {
	f := newFixture(t, nil)
	r := f.joinAsync(joinOpts{group: "g", instance: "i1"}).wait(t)
	f.sync("g", r.MemberID, r.Generation, map[string]string{r.MemberID: "asg"})
	f.c.CommitOffsets(commitReq("g", r.MemberID, r.Generation, "t", map[int32]int64{0: 3, 1: 4}))
	f.c.CommitOffsets(commitReq("g", r.MemberID, r.Generation, "t", map[int32]int64{0: 8}))
	f.c.CommitOffsets(commitReq("simple", "", -1, "u", map[int32]int64{2: 1}))
	f.c.CommitOffsets(commitReq("deleted", "", -1, "u", map[int32]int64{2: 1}))
	if res := f.c.DeleteGroups([]string{"deleted"}); res[0].ErrorCode != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(res[0].ErrorCode))
	}
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "simple"
	odt := kmsg.NewOffsetDeleteRequestTopic()
	odt.Topic = "u"
	odt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 2}}
	od.Topics = append(od.Topics, odt)
	if res := f.c.DeleteOffsets(od); res.ErrorCode != 0 || res.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete: %+v", res)
	}

	before := snapshot(f.c)
	if _, ok := before["deleted"]; ok {
		t.Fatal("deleted group still there")
	}
	if _, ok := before["simple"]; ok {
		t.Fatal("an empty group without offsets must be gone after OffsetDelete")
	}
	after := snapshot(f.start())
	if len(before) != len(after) {
		t.Fatalf("groups before %v, after replay %v", before, after)
	}
	for id, s := range before {
		if after[id] != s {
			t.Errorf("group %s:\nbefore %s\nafter  %s", id, s, after[id])
		}
	}
	// The replayed member resumes with a heartbeat.
	f.c = f.start()
	codeIs(t, "heartbeat after replay", f.heartbeat("g", r.MemberID, r.Generation), nil)
}

func TestOffsetExpiryForEmptyGroups(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.OffsetsRetention = time.Hour })
	r := f.newMember(joinOpts{group: "g"})
	f.sync("g", r.MemberID, r.Generation, nil)
	f.c.CommitOffsets(commitReq("g", r.MemberID, r.Generation, "t", map[int32]int64{0: 3}))
	f.tick(2 * time.Hour) // the member heartbeats? no: its session ends, the group empties
	if got := f.state("g"); got != "Empty" {
		t.Fatalf("state %s", got)
	}
	f.tick(30 * time.Minute)
	if got, _ := f.c.FetchOffsets("g", []TopicPartitions{{"t", []int32{0}}}); got[0].Partitions[0].Offset != 3 {
		t.Fatal("offset expired before the group was empty for the retention")
	}
	f.tick(31 * time.Minute)
	if got, _ := f.c.FetchOffsets("g", []TopicPartitions{{"t", []int32{0}}}); got[0].Partitions[0].Offset != -1 {
		t.Fatal("offset of an empty group did not expire")
	}
	if got := f.state("g"); got != "Dead" {
		t.Fatalf("state %s: an empty group without offsets is removed", got)
	}
	// The expiry was written: a restart does not bring them back.
	if s := snapshot(f.start()); len(s) != 0 {
		t.Fatalf("after replay: %v", s)
	}
}

func TestDescribeListDelete(t *testing.T) {
	f := newFixture(t, nil)
	r := f.newMember(joinOpts{group: "g", metadata: []byte("sub")})
	f.sync("g", r.MemberID, r.Generation, map[string]string{r.MemberID: "asg"})
	d := f.c.DescribeGroup("g")
	if d.State != "Stable" || d.Protocol != "range" || d.ProtocolType != "consumer" || len(d.Members) != 1 ||
		string(d.Members[0].MemberAssignment) != "asg" || string(d.Members[0].ProtocolMetadata) != "sub" || d.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("describe: %+v", d)
	}
	if d := f.c.DescribeGroup("nope"); d.State != "Dead" || d.ErrorCode != 0 {
		t.Fatalf("describe unknown: %+v", d)
	}
	f.c.CommitOffsets(commitReq("e", "", -1, "t", map[int32]int64{0: 1}))
	all, _ := f.c.ListGroups(nil, nil)
	stable, _ := f.c.ListGroups([]string{"stable"}, []string{"Classic"})
	consumers, _ := f.c.ListGroups(nil, []string{"consumer"})
	if len(all) != 2 || len(stable) != 1 || stable[0].Group != "g" || len(consumers) != 0 {
		t.Fatalf("list: all %v stable %v consumer-type %v", all, stable, consumers)
	}
	res := f.c.DeleteGroups([]string{"g", "e", "nope"})
	codeIs(t, "delete non-empty", res[0].ErrorCode, kerr.NonEmptyGroup)
	codeIs(t, "delete empty", res[1].ErrorCode, nil)
	codeIs(t, "delete unknown", res[2].ErrorCode, kerr.GroupIDNotFound)
}

func TestLoadInProgressAndNotCoordinator(t *testing.T) {
	f := newFixture(t, nil)
	c := New(f.cfg, f.log)
	codeIs(t, "unloaded partition", c.DescribeGroup("g").ErrorCode, kerr.NotCoordinator)
	c.mu.Lock()
	c.loaded[c.PartitionFor("g")] = false
	c.mu.Unlock()
	codeIs(t, "loading partition", c.DescribeGroup("g").ErrorCode, kerr.CoordinatorLoadInProgress)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group = "g"
	codeIs(t, "heartbeat while loading", c.Heartbeat(hb).ErrorCode, nil)
}

func TestTopicDeletedRemovesOffsets(t *testing.T) {
	f := newFixture(t, nil)
	f.c.CommitOffsets(commitReq("a", "", -1, "gone", map[int32]int64{0: 1, 1: 2}))
	f.c.CommitOffsets(commitReq("a", "", -1, "kept", map[int32]int64{0: 3}))
	f.c.CommitOffsets(commitReq("b", "", -1, "gone", map[int32]int64{0: 4}))
	f.c.TopicDeleted("gone")
	check := func(c *Coordinator) {
		t.Helper()
		got, _ := c.FetchOffsets("a", nil)
		if len(got) != 1 || got[0].Topic != "kept" {
			t.Fatalf("group a offsets: %+v", got)
		}
		if d := c.DescribeGroup("b"); d.State != "Dead" {
			t.Fatalf("group b, left with no offsets, is %s", d.State)
		}
	}
	check(f.c)
	check(f.start())
}

func TestStaticRejoinWithNewProtocolRebalances(t *testing.T) {
	f := newFixture(t, nil)
	a := f.joinAsync(joinOpts{group: "g", instance: "ia"}).wait(t)
	f.sync("g", a.MemberID, a.Generation, nil)
	// The restarted member now prefers another protocol: the group's
	// protocol changes, which takes a rebalance (completed at once: it
	// is the only member). Offering only the new one would be
	// INCONSISTENT_GROUP_PROTOCOL, as in Kafka.
	codeIs(t, "only a new protocol", f.joinAsync(joinOpts{group: "g", instance: "ia", protocols: []string{"roundrobin"}}).wait(t).ErrorCode, kerr.InconsistentGroupProtocol)
	r := f.joinAsync(joinOpts{group: "g", instance: "ia", protocols: []string{"roundrobin", "range"}}).wait(t)
	codeIs(t, "rejoin", r.ErrorCode, nil)
	if r.Generation != a.Generation+1 || *r.Protocol != "roundrobin" || r.LeaderID != r.MemberID {
		t.Fatalf("generation %d protocol %q leader %q member %q", r.Generation, *r.Protocol, r.LeaderID, r.MemberID)
	}
}
