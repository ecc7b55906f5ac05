package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// recKey identifies a consumed record.
type recKey struct {
	partition int32
	offset    int64
}

// groupConsumer is a kgo group member with manual commits.
func groupConsumer(t *testing.T, addr, group, topic string, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts := append([]kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ClientID("sluice-test"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, extra...)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// pollInto polls cl once (briefly) and adds what it got to seen, returning
// how many of the records were seen before (read twice).
func pollInto(t *testing.T, cl *kgo.Client, seen map[recKey]bool) (dups int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	fs := cl.PollFetches(ctx)
	for _, e := range fs.Errors() {
		if !errors.Is(e.Err, context.DeadlineExceeded) {
			t.Fatalf("poll: %v", e.Err)
		}
	}
	fs.EachRecord(func(r *kgo.Record) {
		k := recKey{r.Partition, r.Offset}
		if seen[k] {
			dups++
		}
		seen[k] = true
	})
	return dups
}

func commit(t *testing.T, cl *kgo.Client) {
	t.Helper()
	if err := cl.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// waitGroup polls DescribeGroups until ok accepts the group.
func waitGroup(t *testing.T, adm *kadm.Client, group string, ok func(kadm.DescribedGroup) bool) kadm.DescribedGroup {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last kadm.DescribedGroup
	for time.Now().Before(deadline) {
		ds, err := adm.DescribeGroups(ctxT(t), group)
		if err == nil {
			last = ds[group]
			if last.Err == nil && ok(last) {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	t.Fatalf("group %s never reached the expected state; last: state %s, %d members, err %v", group, last.State, len(last.Members), last.Err)
	return last
}

func assignedCount(m kadm.DescribedGroupMember) int {
	a, ok := m.Assigned.AsConsumer()
	if !ok {
		return 0
	}
	n := 0
	for _, t := range a.Topics {
		n += len(t.Partitions)
	}
	return n
}

// TestGroupSplitLeaveAndTakeOver: two consumers share a 6-partition topic,
// one leaves after committing, and the other takes over every partition,
// continuing from the committed offsets with nothing lost or read twice.
func TestGroupSplitLeaveAndTakeOver(t *testing.T) {
	for _, bal := range []struct {
		name string
		opt  kgo.Opt
	}{
		{"cooperative-sticky", kgo.Balancers(kgo.CooperativeStickyBalancer())},
		{"range", kgo.Balancers(kgo.RangeBalancer())},
	} {
		t.Run(bal.name, func(t *testing.T) {
			b := brokertest.Start(t)
			adm := kadm.NewClient(client(t, b.Addr()))
			group := "g-" + bal.name
			// split: each member owns 3 partitions (the cooperative
			// protocol needs a second rebalance to hand revoked
			// partitions over, which the scenario's polling drives).
			members := func(n, each int) func() bool {
				return func() bool {
					ds, err := adm.DescribeGroups(ctxT(t), group)
					if err != nil || ds[group].State != "Stable" || len(ds[group].Members) != n {
						return false
					}
					for _, m := range ds[group].Members {
						if assignedCount(m) != each {
							return false
						}
					}
					return true
				}
			}
			splitLeaveTakeOver(t, b.Addr(), "split-"+bal.name, group, []kgo.Opt{bal.opt}, members(2, 3), members(1, 6), func() {
				d := waitGroup(t, adm, group, func(d kadm.DescribedGroup) bool { return true })
				if d.ProtocolType != "consumer" || d.Protocol != bal.name || d.Members[0].ClientID != "sluice-test" || d.Members[0].ClientHost == "" {
					t.Fatalf("describe: type %q protocol %q client %q host %q", d.ProtocolType, d.Protocol, d.Members[0].ClientID, d.Members[0].ClientHost)
				}
			})
		})
	}
}

// splitLeaveTakeOver is the scenario both group protocols must pass: two
// consumers (with opts) join group on a new 6-partition topic until split
// reports each owns 3 partitions, describe checks the group, both read 300
// records between them with none twice and commit; one leaves, and once
// alone reports the other owns all 6, that one reads 300 new records, none
// twice and none of the committed first round.
func splitLeaveTakeOver(t *testing.T, addr, topic, group string, opts []kgo.Opt, split, alone func() bool, describe func()) {
	t.Helper()
	prod := client(t, addr)
	createTopic(t, kadm.NewClient(prod), topic, 6, nil)
	a := groupConsumer(t, addr, group, topic, opts...)
	defer a.Close()
	bc := groupConsumer(t, addr, group, topic, opts...)
	closedB := false
	defer func() {
		if !closedB {
			bc.Close()
		}
	}()
	seenA, seenB := map[recKey]bool{}, map[recKey]bool{}
	deadline := time.Now().Add(45 * time.Second)
	for !split() {
		pollInto(t, a, seenA)
		pollInto(t, bc, seenB)
		if time.Now().After(deadline) {
			t.Fatal("the two consumers never got 3 partitions each")
		}
	}
	describe()
	produceN(t, prod, topic, 300)
	union := map[recKey]bool{}
	for len(union) < 300 {
		if pollInto(t, a, seenA)+pollInto(t, bc, seenB) > 0 {
			t.Fatal("a consumer read a record twice")
		}
		for k := range seenA {
			union[k] = true
		}
		for k := range seenB {
			union[k] = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of 300 records", len(union))
		}
	}
	if len(seenA) == 0 || len(seenB) == 0 || len(seenA)+len(seenB) != 300 {
		t.Fatalf("the consumers did not split the topic: a read %d, b read %d", len(seenA), len(seenB))
	}
	commit(t, a)
	commit(t, bc)
	bc.Close() // leaves the group
	closedB = true

	deadline = time.Now().Add(30 * time.Second)
	for !alone() {
		if time.Now().After(deadline) {
			t.Fatal("the remaining consumer never got all 6 partitions")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	produceN(t, prod, topic, 300)
	after := map[recKey]bool{}
	for len(after) < 300 {
		if dups := pollInto(t, a, after); dups > 0 {
			t.Fatalf("%d records read twice after the takeover", dups)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the leave, a read %d of the 300 new records", len(after))
		}
	}
	for k := range after {
		if union[k] {
			t.Fatalf("record %+v of the first round, committed, was read again", k)
		}
	}
}

// TestGroupSurvivesRestart: committed offsets and the group survive a
// broker restart; the running consumer resumes, and a new one starts
// from the committed offsets.
func TestGroupSurvivesRestart(t *testing.T) {
	b := brokertest.Start(t)
	addr := b.Addr()
	prod := client(t, addr)
	adm := kadm.NewClient(prod)
	createTopic(t, adm, "rs", 3, nil)
	produceN(t, prod, "rs", 90)

	a := groupConsumer(t, addr, "rg", "rs")
	defer a.Close()
	seen := map[recKey]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 90 {
		pollInto(t, a, seen)
		if time.Now().After(deadline) {
			t.Fatalf("read %d of 90", len(seen))
		}
	}
	commit(t, a)
	before, err := adm.FetchOffsets(ctxT(t), "rg")
	if err != nil || before.Error() != nil {
		t.Fatal(err, before.Error())
	}
	descBefore := waitGroup(t, adm, "rg", func(d kadm.DescribedGroup) bool { return d.State == "Stable" })

	b = b.Restart(t)
	adm2 := kadm.NewClient(client(t, b.Addr()))
	after, err := adm2.FetchOffsets(ctxT(t), "rg")
	if err != nil || after.Error() != nil {
		t.Fatal(err, after.Error())
	}
	for p := range int32(3) {
		x, _ := before.Lookup("rs", p)
		y, ok := after.Lookup("rs", p)
		if !ok || x.At != y.At || x.At <= 0 {
			t.Fatalf("partition %d: committed %d before the restart, %d (found %v) after", p, x.At, y.At, ok)
		}
	}
	// The group came back as it was: its member resumes by heartbeating.
	descAfter := waitGroup(t, adm2, "rg", func(d kadm.DescribedGroup) bool { return d.State == "Stable" })
	if len(descAfter.Members) != 1 || descAfter.Members[0].MemberID != descBefore.Members[0].MemberID {
		t.Fatalf("members after restart: %+v, before: %+v", descAfter.Members, descBefore.Members)
	}

	produceN(t, client(t, b.Addr()), "rs", 30)
	deadline = time.Now().Add(30 * time.Second)
	for len(seen) < 120 {
		if dups := pollInto(t, a, seen); dups > 0 {
			t.Fatalf("%d records read twice after the restart", dups)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the consumer read %d of 120", len(seen))
		}
	}
	commit(t, a)
	a.Close()

	// A new member of the group starts from the committed offsets.
	c := groupConsumer(t, b.Addr(), "rg", "rs")
	defer c.Close()
	produceN(t, client(t, b.Addr()), "rs", 3)
	got := map[recKey]bool{}
	deadline = time.Now().Add(30 * time.Second)
	for len(got) < 3 {
		pollInto(t, c, got)
		if time.Now().After(deadline) {
			t.Fatalf("new member read %d of 3", len(got))
		}
	}
	for k := range got {
		if seen[k] {
			t.Fatalf("new member re-read committed record %+v", k)
		}
	}
}

// TestGroupAdmin: kadm's group APIs against a live and an empty group.
func TestGroupAdmin(t *testing.T) {
	b := brokertest.Start(t)
	addr := b.Addr()
	prod := client(t, addr)
	adm := kadm.NewClient(prod)
	createTopic(t, adm, "at", 2, nil)
	createTopic(t, adm, "other", 1, nil)
	produceN(t, prod, "at", 20)

	// A simple consumer's commits (no membership) with metadata round-trip.
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "other", Partition: 0, At: 7, LeaderEpoch: 0, Metadata: "meta-7"})
	if err := adm.CommitAllOffsets(ctxT(t), "simple", os); err != nil {
		t.Fatal(err)
	}
	fo, err := adm.FetchOffsets(ctxT(t), "simple")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fo.Lookup("other", 0); !ok || o.At != 7 || o.Metadata != "meta-7" || o.LeaderEpoch != 0 {
		t.Fatalf("fetched %+v (found %v)", o, ok)
	}

	a := groupConsumer(t, addr, "live", "at")
	defer a.Close()
	seen := map[recKey]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 20 {
		pollInto(t, a, seen)
		if time.Now().After(deadline) {
			t.Fatalf("read %d of 20", len(seen))
		}
	}
	commit(t, a)
	// A commit for a topic the group does not subscribe to, by the member.
	a.CommitOffsetsSync(ctxT(t), map[string]map[int32]kgo.EpochOffset{"other": {0: {Epoch: -1, Offset: 3}}}, nil)

	d := waitGroup(t, adm, "live", func(d kadm.DescribedGroup) bool { return d.State == "Stable" })
	if len(d.Members) != 1 || assignedCount(d.Members[0]) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	lg, err := adm.ListGroups(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(lg) != 2 || lg["live"].State != "Stable" || lg["simple"].State != "Empty" || lg["live"].ProtocolType != "consumer" {
		t.Fatalf("list: %+v", lg)
	}
	stable, err := adm.ListGroups(ctxT(t), "Stable")
	if err != nil || len(stable) != 1 {
		t.Fatalf("list Stable: %v %+v", err, stable)
	}

	dg, err := adm.DeleteGroups(ctxT(t), "live", "nope")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(dg["live"].Err, kerr.NonEmptyGroup) || !errors.Is(dg["nope"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete: live %v, nope %v", dg["live"].Err, dg["nope"].Err)
	}
	ts := kadm.TopicsSet{}
	ts.Add("at", 0)
	ts.Add("other", 0)
	do, err := adm.DeleteOffsets(ctxT(t), "live", ts)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := do.Lookup("at", 0); !errors.Is(e, kerr.GroupSubscribedToTopic) {
		t.Fatalf("offset delete of a subscribed topic: %v", e)
	}
	if e, ok := do.Lookup("other", 0); !ok || e != nil {
		t.Fatalf("offset delete of an unsubscribed topic: %v", e)
	}

	a.Close() // leaves: the group is empty
	waitGroup(t, adm, "live", func(d kadm.DescribedGroup) bool { return d.State == "Empty" })
	dg, err = adm.DeleteGroups(ctxT(t), "live", "simple")
	if err != nil || dg["live"].Err != nil || dg["simple"].Err != nil {
		t.Fatalf("delete empty groups: %v %v %v", err, dg["live"].Err, dg["simple"].Err)
	}
	lg, err = adm.ListGroups(ctxT(t))
	if err != nil || len(lg) != 0 {
		t.Fatalf("list after delete: %v %+v", err, lg)
	}
	fo, err = adm.FetchOffsets(ctxT(t), "live")
	if err != nil || len(fo) != 0 {
		t.Fatalf("offsets after delete: %v %+v", err, fo)
	}
	// Deleted stays deleted across a restart (tombstones).
	b = b.Restart(t)
	lg, err = kadm.NewClient(client(t, b.Addr())).ListGroups(ctxT(t))
	if err != nil || len(lg) != 0 {
		t.Fatalf("list after restart: %v %+v", err, lg)
	}
}

// TestGroupOldAndNewVersions drives the group APIs with raw requests at
// their oldest and newest versions: v0 joins (no MEMBER_ID_REQUIRED),
// batched FindCoordinator keys, OffsetFetch v1 and v8 (several groups,
// null topics for all commits).
func TestGroupOldAndNewVersions(t *testing.T) {
	b := brokertest.Start(t)
	addr := b.Addr()
	createTopic(t, kadm.NewClient(client(t, addr)), "vt", 2, nil)

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 0, "old"
	if r := rawRequest(t, addr, fc).(*kmsg.FindCoordinatorResponse); r.ErrorCode != 0 || r.NodeID < 0 || r.Port <= 0 {
		t.Fatalf("FindCoordinator v0: %+v", r)
	}
	fc = kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKeys = 4, []string{"a", "b"}
	if r := rawRequest(t, addr, fc).(*kmsg.FindCoordinatorResponse); len(r.Coordinators) != 2 || r.Coordinators[1].Key != "b" || r.Coordinators[1].ErrorCode != 0 {
		t.Fatalf("FindCoordinator v4: %+v", r)
	}
	fc.CoordinatorType = 1
	if r := rawRequest(t, addr, fc).(*kmsg.FindCoordinatorResponse); r.Coordinators[0].ErrorCode != 0 || r.Coordinators[0].NodeID < 0 {
		t.Fatalf("FindCoordinator for a transaction: %+v", r)
	}

	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.RetentionTimeMillis = 2, "old", -1
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic = "vt"
	meta := "x"
	ot.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5, Metadata: &meta}, {Partition: 9, Offset: 1}}
	oc.Topics = append(oc.Topics, ot)
	ocr := rawRequest(t, addr, oc).(*kmsg.OffsetCommitResponse)
	if ocr.Topics[0].Partitions[0].ErrorCode != 0 || ocr.Topics[0].Partitions[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("OffsetCommit v2: %+v", ocr)
	}

	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 1, "old"
	of.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "vt", Partitions: []int32{0, 1}}}
	ofr := rawRequest(t, addr, of).(*kmsg.OffsetFetchResponse)
	if p := ofr.Topics[0].Partitions; p[0].Offset != 5 || *p[0].Metadata != "x" || p[1].Offset != -1 {
		t.Fatalf("OffsetFetch v1: %+v", p)
	}
	of = kmsg.NewPtrOffsetFetchRequest()
	of.Version = 8
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "old"}, {Group: "none", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "vt", Partitions: []int32{0}}}}}
	ofr = rawRequest(t, addr, of).(*kmsg.OffsetFetchResponse)
	if len(ofr.Groups) != 2 || len(ofr.Groups[0].Topics) != 1 || ofr.Groups[0].Topics[0].Partitions[0].Offset != 5 || ofr.Groups[1].Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("OffsetFetch v8: %+v", ofr.Groups)
	}

	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Version, jg.Group, jg.SessionTimeoutMillis, jg.ProtocolType = 0, "v0", 10000, "consumer"
	jg.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0}}}
	jr := rawRequest(t, addr, jg).(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != jr.MemberID || *jr.Protocol != "range" {
		t.Fatalf("JoinGroup v0: %+v", jr)
	}
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Version, sg.Group, sg.Generation, sg.MemberID = 0, "v0", jr.Generation, jr.MemberID
	sg.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte("a")}}
	if sr := rawRequest(t, addr, sg).(*kmsg.SyncGroupResponse); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a" {
		t.Fatalf("SyncGroup v0: %+v", sr)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.Generation, hb.MemberID = 0, "v0", jr.Generation, jr.MemberID
	if hr := rawRequest(t, addr, hb).(*kmsg.HeartbeatResponse); hr.ErrorCode != 0 {
		t.Fatalf("Heartbeat v0: %v", kerr.ErrorForCode(hr.ErrorCode))
	}
	lg := kmsg.NewPtrLeaveGroupRequest()
	lg.Version, lg.Group, lg.MemberID = 0, "v0", jr.MemberID
	if lr := rawRequest(t, addr, lg).(*kmsg.LeaveGroupResponse); lr.ErrorCode != 0 {
		t.Fatalf("LeaveGroup v0: %v", kerr.ErrorForCode(lr.ErrorCode))
	}
	if lr := rawRequest(t, addr, lg).(*kmsg.LeaveGroupResponse); lr.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("second LeaveGroup v0: %v", kerr.ErrorForCode(lr.ErrorCode))
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version, dg.Groups = 0, []string{"v0", "never"}
	dr := rawRequest(t, addr, dg).(*kmsg.DescribeGroupsResponse)
	if dr.Groups[0].State != "Empty" || dr.Groups[0].ProtocolType != "consumer" || dr.Groups[1].State != "Dead" {
		t.Fatalf("DescribeGroups v0: %+v", dr.Groups)
	}
}
