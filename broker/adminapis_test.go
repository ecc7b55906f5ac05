package broker_test

import (
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// The answers below are Apache Kafka 4's on a one-broker cluster with no
// authorizer (AclApis, the KRaft controller's ReplicationControlManager);
// the broker runs as node 3 so that "this node" is not the default id.
const adminNode = 3

func startAdminBroker(t *testing.T) (*brokertest.Broker, *kadm.Client) {
	t.Helper()
	b := brokertest.Start(t, brokertest.Property("node.id", "3"))
	adm := kadmClient(client(t, b.Addr()))
	createTopic(t, adm, "r", 2, nil)
	return b, adm
}

func strp(s string) *string { return &s }

// wantMsg fails unless got is the message want (nil: no message).
func wantMsg(t *testing.T, what string, got, want *string) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("%s: message %q, want none", what, *got)
	case want != nil && got == nil:
		t.Errorf("%s: no message, want %q", what, *want)
	case want != nil && *got != *want:
		t.Errorf("%s: message %q, want %q", what, *got, *want)
	}
}

func TestACLsWithoutAuthorizer(t *testing.T) {
	b, adm := startAdminBroker(t)
	ctx := ctxT(t)

	created, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics("r").Allow("User:alice").AllowHosts("*").
		Operations(kadm.OpRead, kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 2 {
		t.Fatalf("CreateACLs: %d results, want 2", len(created))
	}
	for _, c := range created {
		if !errors.Is(c.Err, kerr.SecurityDisabled) || c.ErrMessage != "No Authorizer is configured." {
			t.Errorf("CreateACLs %v: %v %q, want SECURITY_DISABLED %q", c.Operation, c.Err, c.ErrMessage, "No Authorizer is configured.")
		}
	}
	filter := kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	described, err := adm.DescribeACLs(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range described {
		if !errors.Is(d.Err, kerr.SecurityDisabled) || d.ErrMessage != "No Authorizer is configured on the broker" || len(d.Described) != 0 {
			t.Errorf("DescribeACLs: %v %q %v", d.Err, d.ErrMessage, d.Described)
		}
	}
	deleted, err := adm.DeleteACLs(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deleted {
		if !errors.Is(d.Err, kerr.SecurityDisabled) || d.ErrMessage != "No Authorizer is configured." || len(d.Deleted) != 0 {
			t.Errorf("DeleteACLs: %v %q %v", d.Err, d.ErrMessage, d.Deleted)
		}
	}

	// Raw requests at the oldest and newest versions.
	for _, v := range []int16{0, 3} {
		dr := kmsg.NewPtrDescribeACLsRequest()
		dr.Version = v
		dr.ResourceType, dr.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeLiteral
		dr.Operation, dr.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		if v > 0 {
			dr.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
		}
		d := rawRequest(t, b.Addr(), dr).(*kmsg.DescribeACLsResponse)
		if d.ErrorCode != kerr.SecurityDisabled.Code || len(d.Resources) != 0 {
			t.Errorf("DescribeAcls v%d: code %d, %d resources", v, d.ErrorCode, len(d.Resources))
		}
		wantMsg(t, "DescribeAcls", d.ErrorMessage, strp("No Authorizer is configured on the broker"))

		cr := kmsg.NewPtrCreateACLsRequest()
		cr.Version = v
		for _, name := range []string{"a", "b", "c"} {
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, name, kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host = "User:bob", "*"
			c.Operation, c.PermissionType = kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow
			cr.Creations = append(cr.Creations, c)
		}
		c := rawRequest(t, b.Addr(), cr).(*kmsg.CreateACLsResponse)
		if len(c.Results) != 3 {
			t.Fatalf("CreateAcls v%d: %d results, want 3", v, len(c.Results))
		}
		for _, res := range c.Results {
			if res.ErrorCode != kerr.SecurityDisabled.Code {
				t.Errorf("CreateAcls v%d: code %d", v, res.ErrorCode)
			}
			wantMsg(t, "CreateAcls", res.ErrorMessage, strp("No Authorizer is configured."))
		}

		xr := kmsg.NewPtrDeleteACLsRequest()
		xr.Version = v
		for range 2 {
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeGroup, kmsg.ACLResourcePatternTypeLiteral
			f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			xr.Filters = append(xr.Filters, f)
		}
		x := rawRequest(t, b.Addr(), xr).(*kmsg.DeleteACLsResponse)
		if len(x.Results) != 2 {
			t.Fatalf("DeleteAcls v%d: %d results, want 2", v, len(x.Results))
		}
		for _, res := range x.Results {
			if res.ErrorCode != kerr.SecurityDisabled.Code || len(res.MatchingACLs) != 0 {
				t.Errorf("DeleteAcls v%d: code %d, %d matching", v, res.ErrorCode, len(res.MatchingACLs))
			}
			wantMsg(t, "DeleteAcls", res.ErrorMessage, strp("No Authorizer is configured."))
		}
	}
}

// TestACLRequestWithUnknownElementClosesConnection: Kafka fails to parse an
// ACL request naming an UNKNOWN (0) operation and closes the connection.
func TestACLRequestWithUnknownElementClosesConnection(t *testing.T) {
	b, _ := startAdminBroker(t)
	dr := kmsg.NewPtrDescribeACLsRequest()
	dr.Version = 3
	dr.ResourceType, dr.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	dr.Operation, dr.PermissionType = 0, kmsg.ACLPermissionTypeAny
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(kmsg.NewRequestFormatter().AppendRequest(nil, dr, 1)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 4)); !errors.Is(err, io.EOF) {
		t.Fatalf("read %d bytes, err %v; want the connection closed (EOF)", n, err)
	}
}

func TestPartitionReassignments(t *testing.T) {
	b, adm := startAdminBroker(t)
	ctx := ctxT(t)
	// FindCoordinator creates __consumer_offsets, an internal topic the
	// controller treats like any other.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	if r := rawRequest(t, b.Addr(), fc).(*kmsg.FindCoordinatorResponse); r.ErrorCode != 0 {
		t.Fatalf("FindCoordinator: code %d", r.ErrorCode)
	}

	got, err := adm.AlterPartitionAssignments(ctx, kadm.AlterPartitionAssignmentsReq{
		"r":       {0: {adminNode}, 1: nil},
		"missing": {0: {adminNode}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if e := got["r"][0]; e.Err != nil {
		t.Errorf("r/0 to [%d]: %v %q", adminNode, e.Err, e.ErrMessage)
	}
	if e := got["r"][1]; !errors.Is(e.Err, kerr.NoReassignmentInProgress) || e.ErrMessage != "" {
		t.Errorf("r/1 cancel: %v %q, want NO_REASSIGNMENT_IN_PROGRESS", e.Err, e.ErrMessage)
	}
	if e := got["missing"][0]; !errors.Is(e.Err, kerr.UnknownTopicOrPartition) || e.ErrMessage != "Unable to find a topic named missing." {
		t.Errorf("missing/0: %v %q", e.Err, e.ErrMessage)
	}
	listed, err := adm.ListPartitionReassignments(ctx, nil)
	if err != nil || len(listed) != 0 {
		t.Errorf("ListPartitionReassignments(all) = %v, %v; want nothing", listed, err)
	}
	var named kadm.TopicsSet
	named.Add("r", 0, 1, 9)
	named.Add("missing", 0)
	if listed, err := adm.ListPartitionReassignments(ctx, named); err != nil || len(listed) != 0 {
		t.Errorf("ListPartitionReassignments(named) = %v, %v; want nothing", listed, err)
	}

	type want struct {
		code int16
		msg  *string
	}
	cases := []struct {
		topic    string
		part     int32
		replicas []int32
		want
	}{
		{"r", 0, []int32{adminNode}, want{0, nil}},
		{"r", 1, []int32{adminNode}, want{0, nil}},
		{"__consumer_offsets", 0, []int32{adminNode}, want{0, nil}},
		{"r", 0, nil, want{kerr.NoReassignmentInProgress.Code, nil}},
		{"r", 2, []int32{adminNode}, want{kerr.UnknownTopicOrPartition.Code, strp("Unable to find partition r:2.")}},
		{"r", -1, nil, want{kerr.UnknownTopicOrPartition.Code, strp("Unable to find partition r:-1.")}},
		{"nope", 0, nil, want{kerr.UnknownTopicOrPartition.Code, strp("Unable to find a topic named nope.")}},
		{"r", 0, []int32{}, want{kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes an empty replica list.")}},
		{"r", 0, []int32{adminNode, 7}, want{kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes broker 7, but no such broker is registered.")}},
		{"r", 0, []int32{7, 1}, want{kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes broker 1, but no such broker is registered.")}},
		{"r", 0, []int32{adminNode, adminNode}, want{kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes the broker 3 more than once.")}},
	}
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		req.Version = v
		req.AllowReplicationFactorChange = v == 0 // v1: forbid RF changes; none of the valid targets changes it
		for _, c := range cases {
			rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
			rt.Topic = c.topic
			rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
			rp.Partition, rp.Replicas = c.part, c.replicas
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp := rawRequest(t, b.Addr(), req).(*kmsg.AlterPartitionAssignmentsResponse)
		if resp.ErrorCode != 0 || resp.ErrorMessage != nil {
			t.Errorf("v%d: top-level code %d message %v", v, resp.ErrorCode, resp.ErrorMessage)
		}
		if v == 1 && resp.AllowReplicationFactorChange {
			t.Errorf("v1: AllowReplicationFactorChange not echoed as false")
		}
		if len(resp.Topics) != len(cases) {
			t.Fatalf("v%d: %d topics answered, want %d", v, len(resp.Topics), len(cases))
		}
		for i, c := range cases {
			rt := resp.Topics[i]
			if rt.Topic != c.topic || len(rt.Partitions) != 1 || rt.Partitions[0].Partition != c.part {
				t.Fatalf("v%d case %d: answered %+v", v, i, rt)
			}
			if p := rt.Partitions[0]; p.ErrorCode != c.code {
				t.Errorf("v%d %s/%d %v: code %d, want %d", v, c.topic, c.part, c.replicas, p.ErrorCode, c.code)
			} else {
				wantMsg(t, c.topic, p.ErrorMessage, c.msg)
			}
		}

		// Nothing to do: Kafka answers an empty response whose message
		// defaults to "".
		empty := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		empty.Version = v
		er := rawRequest(t, b.Addr(), empty).(*kmsg.AlterPartitionAssignmentsResponse)
		if er.ErrorCode != 0 || len(er.Topics) != 0 {
			t.Errorf("v%d empty: code %d, %d topics", v, er.ErrorCode, len(er.Topics))
		}
		wantMsg(t, "empty alter", er.ErrorMessage, strp(""))
	}

	// ListPartitionReassignments v0, everything and named (known, unknown).
	lr := kmsg.NewPtrListPartitionReassignmentsRequest()
	for _, topics := range [][]kmsg.ListPartitionReassignmentsRequestTopic{
		nil,
		{{Topic: "r", Partitions: []int32{0, 1, 5}}, {Topic: "missing", Partitions: []int32{0}}, {Topic: "__consumer_offsets", Partitions: []int32{0}}},
		{},
	} {
		lr.Topics = topics
		l := rawRequest(t, b.Addr(), lr).(*kmsg.ListPartitionReassignmentsResponse)
		if l.ErrorCode != 0 || l.ErrorMessage != nil || len(l.Topics) != 0 {
			t.Errorf("ListPartitionReassignments %v: code %d message %v topics %+v", topics, l.ErrorCode, l.ErrorMessage, l.Topics)
		}
	}
}

func TestElectLeaders(t *testing.T) {
	b, adm := startAdminBroker(t)
	ctx := ctxT(t)
	createTopic(t, adm, "s", 1, nil)

	for _, how := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		var set kadm.TopicsSet
		set.Add("r", 0, 1, 4)
		set.Add("missing", 0)
		got, err := adm.ElectLeaders(ctx, how, set)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []int32{0, 1} {
			if e := got["r"][p]; !errors.Is(e.Err, kerr.ElectionNotNeeded) || e.ErrMessage != "" {
				t.Errorf("how %d r/%d: %v %q, want ELECTION_NOT_NEEDED", how, p, e.Err, e.ErrMessage)
			}
		}
		if e := got["r"][4]; !errors.Is(e.Err, kerr.UnknownTopicOrPartition) || e.ErrMessage != "No such partition as r-4" {
			t.Errorf("how %d r/4: %v %q", how, e.Err, e.ErrMessage)
		}
		if e := got["missing"][0]; !errors.Is(e.Err, kerr.UnknownTopicOrPartition) || e.ErrMessage != "No such topic as missing" {
			t.Errorf("how %d missing/0: %v %q", how, e.Err, e.ErrMessage)
		}
	}

	// All partitions (null topics): every topic, none of its partitions
	// (Kafka leaves out ELECTION_NOT_NEEDED ones).
	for _, v := range []int16{0, 2} {
		req := kmsg.NewPtrElectLeadersRequest()
		req.Version = v
		resp := rawRequest(t, b.Addr(), req).(*kmsg.ElectLeadersResponse)
		var topics []string
		for _, rt := range resp.Topics {
			topics = append(topics, rt.Topic)
			if len(rt.Partitions) != 0 {
				t.Errorf("v%d all: topic %s lists %+v", v, rt.Topic, rt.Partitions)
			}
		}
		if resp.ErrorCode != 0 || !slices.Equal(topics, []string{"r", "s"}) {
			t.Errorf("v%d all: code %d topics %v, want r and s", v, resp.ErrorCode, topics)
		}

		req.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "s", Partitions: []int32{0, 1}}}
		resp = rawRequest(t, b.Addr(), req).(*kmsg.ElectLeadersResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("v%d s: %+v", v, resp.Topics)
		}
		ps := resp.Topics[0].Partitions
		if ps[0].Partition != 0 || ps[0].ErrorCode != kerr.ElectionNotNeeded.Code || ps[0].ErrorMessage != nil {
			t.Errorf("v%d s/0: %+v", v, ps[0])
		}
		if ps[1].Partition != 1 || ps[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("v%d s/1: %+v", v, ps[1])
		}
		wantMsg(t, "s/1", ps[1].ErrorMessage, strp("No such partition as s-1"))

		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		resp = rawRequest(t, b.Addr(), req).(*kmsg.ElectLeadersResponse)
		if resp.ErrorCode != 0 || len(resp.Topics) != 0 {
			t.Errorf("v%d empty: code %d topics %+v", v, resp.ErrorCode, resp.Topics)
		}
	}

	// An election type Kafka does not know: INVALID_REQUEST at the top and
	// on each named partition.
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version, req.ElectionType = 2, 5
	req.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "r", Partitions: []int32{0}}}
	resp := rawRequest(t, b.Addr(), req).(*kmsg.ElectLeadersResponse)
	if resp.ErrorCode != kerr.InvalidRequest.Code || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 ||
		resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("election type 5: %+v", resp)
	}
	wantMsg(t, "election type 5", resp.Topics[0].Partitions[0].ErrorMessage, strp("Unknown election type 5"))
}
