package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// stableFetch is one partition's OffsetFetch answer.
type stableFetch struct {
	offset int64
	code   int16
}

// offsetFetch asks for partitions 0 and 1 of topic in group at exactly
// version v (v8+ through the groups array; a raw request, since kgo picks
// its own version) and returns them by partition.
func offsetFetch(t *testing.T, addr string, v int16, group, topic string, requireStable bool) map[int32]stableFetch {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.RequireStable = v, requireStable
	out := map[int32]stableFetch{}
	if v >= 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.Partitions = topic, []int32{0, 1}
		rg.Topics = append(rg.Topics, rt)
		req.Groups = append(req.Groups, rg)
		resp := rawRequest(t, addr, req).(*kmsg.OffsetFetchResponse)
		if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || len(resp.Groups[0].Topics) != 1 {
			t.Fatalf("OffsetFetch v%d: %+v", v, resp)
		}
		for _, p := range resp.Groups[0].Topics[0].Partitions {
			out[p.Partition] = stableFetch{p.Offset, p.ErrorCode}
		}
		return out
	}
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0, 1}
	req.Topics = append(req.Topics, rt)
	resp := rawRequest(t, addr, req).(*kmsg.OffsetFetchResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 {
		t.Fatalf("OffsetFetch v%d: %+v", v, resp)
	}
	for _, p := range resp.Topics[0].Partitions {
		out[p.Partition] = stableFetch{p.Offset, p.ErrorCode}
	}
	return out
}

// TestOffsetFetchRequireStable: while a transaction's offset commit for
// partition 0 waits for its marker, OffsetFetch v7+ with RequireStable
// answers UNSTABLE_OFFSET_COMMIT for that partition only (per partition in
// v7, per group and partition in v8+), and without RequireStable the
// last stable offset; after the commit marker the new offset, after an
// abort the previous one.
func TestOffsetFetchRequireStable(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	createTopic(t, kadmClient(cl), "st", 2, nil)
	const (
		txnID = "tx-stable"
		group = "g-stable"
	)
	for _, fc := range []struct {
		typ int8
		key string
	}{{0, group}, {1, txnID}} {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType, req.CoordinatorKey = fc.typ, fc.key
		if r, err := req.RequestWith(ctxT(t), cl); err != nil || r.ErrorCode != 0 {
			t.Fatalf("FindCoordinator %d: %+v %v", fc.typ, r, err)
		}
	}

	// Partition 1 has a plain commit, stable throughout.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.Generation = 8, group, -1
	oct := kmsg.NewOffsetCommitRequestTopic()
	oct.Topic = "st"
	ocp := kmsg.NewOffsetCommitRequestTopicPartition()
	ocp.Partition, ocp.Offset = 1, 7
	oct.Partitions = append(oct.Partitions, ocp)
	oc.Topics = append(oc.Topics, oct)
	if r, err := oc.RequestWith(ctxT(t), cl); err != nil || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("OffsetCommit: %+v %v", r, err)
	}

	ip := kmsg.NewPtrInitProducerIDRequest()
	id := txnID
	ip.TransactionalID, ip.TransactionTimeoutMillis = &id, 60000
	ir, err := ip.RequestWith(ctxT(t), cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %+v %v", ir, err)
	}
	// txnCommit opens a transaction (AddOffsetsToTxn) and commits offset
	// for partition 0 in it.
	txnCommit := func(offset int64) {
		t.Helper()
		ao := kmsg.NewPtrAddOffsetsToTxnRequest()
		ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = txnID, ir.ProducerID, ir.ProducerEpoch, group
		if r, err := ao.RequestWith(ctxT(t), cl); err != nil || r.ErrorCode != 0 {
			t.Fatalf("AddOffsetsToTxn: %+v %v", r, err)
		}
		tc := kmsg.NewPtrTxnOffsetCommitRequest()
		tc.TransactionalID, tc.Group, tc.ProducerID, tc.ProducerEpoch = txnID, group, ir.ProducerID, ir.ProducerEpoch
		tc.Generation = -1
		tct := kmsg.NewTxnOffsetCommitRequestTopic()
		tct.Topic = "st"
		tcp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		tcp.Partition, tcp.Offset = 0, offset
		tct.Partitions = append(tct.Partitions, tcp)
		tc.Topics = append(tc.Topics, tct)
		if r, err := tc.RequestWith(ctxT(t), cl); err != nil || r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("TxnOffsetCommit: %+v %v", r, err)
		}
	}
	endTxn := func(commit bool) {
		t.Helper()
		et := kmsg.NewPtrEndTxnRequest()
		et.TransactionalID, et.ProducerID, et.ProducerEpoch, et.Commit = txnID, ir.ProducerID, ir.ProducerEpoch, commit
		if r, err := et.RequestWith(ctxT(t), cl); err != nil || r.ErrorCode != 0 {
			t.Fatalf("EndTxn(commit=%v): %+v %v", commit, r, err)
		}
	}
	unstable := kerr.UnstableOffsetCommit.Code
	// pendingCheck expects partition 0 unstable with RequireStable and
	// at stableOffset without it, at every version that has the flag.
	pendingCheck := func(stableOffset int64) {
		t.Helper()
		for _, v := range []int16{7, 8, 9} {
			if got := offsetFetch(t, b.Addr(), v, group, "st", true); got[0] != (stableFetch{-1, unstable}) || got[1] != (stableFetch{7, 0}) {
				t.Errorf("v%d RequireStable with a pending commit: %+v", v, got)
			}
			if got := offsetFetch(t, b.Addr(), v, group, "st", false); got[0] != (stableFetch{stableOffset, 0}) || got[1] != (stableFetch{7, 0}) {
				t.Errorf("v%d without RequireStable: %+v", v, got)
			}
		}
		// v6 has no RequireStable: the flag set in the struct is not
		// encoded, and the answer is the stable offset.
		if got := offsetFetch(t, b.Addr(), 6, group, "st", true); got[0] != (stableFetch{stableOffset, 0}) {
			t.Errorf("v6: %+v", got)
		}
	}
	// settle waits until the marker has reached the group coordinator and
	// partition 0 is stable at want, for every version.
	settle := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			got := offsetFetch(t, b.Addr(), 7, group, "st", true)
			if got[0] == (stableFetch{want, 0}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition 0 not stable at %d: %+v", want, got)
			}
			<-tick.C
		}
		for _, v := range []int16{8, 9} {
			if got := offsetFetch(t, b.Addr(), v, group, "st", true); got[0] != (stableFetch{want, 0}) || got[1] != (stableFetch{7, 0}) {
				t.Errorf("v%d after the marker: %+v", v, got)
			}
		}
	}

	txnCommit(42)
	pendingCheck(-1)
	endTxn(true)
	settle(42)

	txnCommit(50)
	pendingCheck(42)
	endTxn(false)
	settle(42)
}
