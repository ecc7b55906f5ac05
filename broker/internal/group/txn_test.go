package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

func txnCommit(group string, pid int64, off int64) *kmsg.TxnOffsetCommitRequest {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 3
	req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = group, pid, 0, -1
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic = "t"
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = 0, off
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

// marker stores a transaction marker in the group's partition, as the
// transaction coordinator does, and reports it to the coordinator.
func (f *fixture) marker(c *Coordinator, group string, pid int64, commit bool) {
	f.t.Helper()
	typ := kmsg.ControlRecordKeyTypeAbort
	if commit {
		typ = kmsg.ControlRecordKeyTypeCommit
	}
	k := kmsg.ControlRecordKey{Type: typ}
	v := kmsg.EndTxnMarker{}
	b, err := batch.AppendBatch(nil, batch.Header{Attributes: 0x30, ProducerID: pid, ProducerEpoch: 0, BaseSequence: -1},
		[]batch.Record{{Key: k.AppendTo(nil), Value: v.AppendTo(nil)}})
	if err != nil {
		f.t.Fatal(err)
	}
	p := c.PartitionFor(group)
	if _, err := f.log.Append(p, b); err != nil {
		f.t.Fatal(err)
	}
	c.CompleteTxn(p, pid, commit)
}

func (f *fixture) committed(c *Coordinator, group string) int64 {
	f.t.Helper()
	got, err := c.FetchOffsets(group, []TopicPartitions{{"t", []int32{0}}})
	if err != nil {
		f.t.Fatal(err)
	}
	return got[0].Partitions[0].Offset
}

func TestTxnOffsets(t *testing.T) {
	f := newFixture(t, nil)
	c := f.c
	if code := c.CommitTxnOffsets(txnCommit("g", 5, 10)).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("TxnOffsetCommit: code %d", code)
	}
	if got := f.committed(c, "g"); got != -1 {
		t.Fatalf("pending offset visible before the marker: %d", got)
	}
	if !c.HasPendingTxnOffsets("g", "t", 0) {
		t.Fatal("no pending offset reported")
	}
	f.marker(c, "g", 5, true)
	if got := f.committed(c, "g"); got != 10 {
		t.Fatalf("after commit marker: %d, want 10", got)
	}
	c.CommitTxnOffsets(txnCommit("g", 6, 20))
	f.marker(c, "g", 6, false)
	if got := f.committed(c, "g"); got != 10 {
		t.Fatalf("after abort marker: %d, want 10", got)
	}
	c.CommitTxnOffsets(txnCommit("g", 7, 30))

	// Restart: replay gives the committed offset; pid 7 is still pending
	// and its commit marker, written after the restart, applies it.
	c.Close()
	c = f.start()
	if got := f.committed(c, "g"); got != 10 {
		t.Fatalf("after replay: %d, want 10", got)
	}
	if !c.HasPendingTxnOffsets("g", "t", 0) {
		t.Fatal("pending offset lost in replay")
	}
	f.marker(c, "g", 7, true)
	if got := f.committed(c, "g"); got != 30 {
		t.Fatalf("after the commit marker past a restart: %d, want 30", got)
	}
	c.Close()
	c = f.start()
	if got := f.committed(c, "g"); got != 30 || c.HasPendingTxnOffsets("g", "t", 0) {
		t.Fatalf("after a second replay: %d", got)
	}
}
