package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestDeleteGroupDropsPendingTxnOffsets follows Kafka's
// OffsetMetadataManager: an empty group with pending transactional offsets
// can be deleted; the pending offsets go with it, so the transaction's
// later commit marker commits nothing for it, live and after a replay.
func TestDeleteGroupDropsPendingTxnOffsets(t *testing.T) {
	f := newFixture(t, nil)
	c := f.c
	// "g" has a committed offset and a pending one from producer 5.
	if code := c.CommitOffsets(commitReq("g", "", -1, "t", map[int32]int64{0: 3})).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("OffsetCommit: code %d", code)
	}
	if code := c.CommitTxnOffsets(txnCommit("g", 5, 10)).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("TxnOffsetCommit: code %d", code)
	}
	// "p" exists only through producer 6's pending offsets.
	c.CommitTxnOffsets(txnCommit("p", 6, 20))
	// "keep" is untouched: its pending offset must survive the deletions.
	c.CommitTxnOffsets(txnCommit("keep", 6, 30))

	res := c.DeleteGroups([]string{"g", "p"})
	codeIs(t, "delete group with pending offsets", res[0].ErrorCode, nil)
	codeIs(t, "delete pending-only group", res[1].ErrorCode, nil)
	if c.HasPendingTxnOffsets("g", "t", 0) || c.HasPendingTxnOffsets("p", "t", 0) {
		t.Fatal("pending offsets of a deleted group are still reported")
	}
	if !c.HasPendingTxnOffsets("keep", "t", 0) {
		t.Fatal("another group's pending offset was dropped")
	}
	codeIs(t, "delete again", c.DeleteGroups([]string{"g"})[0].ErrorCode, kerr.GroupIDNotFound)

	// A restart before the markers: replay drops them too.
	c.Close()
	c = f.start()
	if c.HasPendingTxnOffsets("g", "t", 0) || c.HasPendingTxnOffsets("p", "t", 0) {
		t.Fatal("pending offsets of a deleted group came back in replay")
	}
	if !c.HasPendingTxnOffsets("keep", "t", 0) {
		t.Fatal("another group's pending offset lost in replay")
	}

	f.marker(c, "g", 5, true)
	f.marker(c, "p", 6, true)
	if c.PartitionFor("keep") != c.PartitionFor("p") {
		f.marker(c, "keep", 6, true) // the marker lands in every partition of the transaction
	}
	for _, g := range []string{"g", "p"} {
		if got := f.committed(c, g); got != -1 {
			t.Fatalf("group %s: commit marker after the deletion committed %d", g, got)
		}
		if d := c.DescribeGroup(g); d.State != "Dead" {
			t.Fatalf("group %s recreated by the marker: %+v", g, d)
		}
	}
	if got := f.committed(c, "keep"); got != 30 {
		t.Fatalf("keep: %d, want 30", got)
	}
	c.Close()
	c = f.start()
	for _, g := range []string{"g", "p"} {
		if got := f.committed(c, g); got != -1 {
			t.Fatalf("group %s after replay: %d", g, got)
		}
	}
	if got := f.committed(c, "keep"); got != 30 {
		t.Fatalf("keep after replay: %d, want 30", got)
	}
}

// TestGroupWithPendingTxnOffsetsNotExpired: like Kafka, offset expiration
// keeps a partition whose offset a transaction may still replace, and
// keeps the empty group while it has pending offsets.
func TestGroupWithPendingTxnOffsetsNotExpired(t *testing.T) {
	f := newFixture(t, nil)
	c := f.c
	c.CommitOffsets(commitReq("g", "", -1, "t", map[int32]int64{0: 3}))
	c.CommitTxnOffsets(txnCommit("g", 5, 10))
	c.mu.Lock()
	c.expireOffsets(f.cfg.Now().Add(f.cfg.OffsetsRetention * 2))
	c.mu.Unlock()
	if got := f.committed(c, "g"); got != 3 {
		t.Fatalf("offset with a pending transactional one expired: %d", got)
	}
	f.marker(c, "g", 5, true)
	if got := f.committed(c, "g"); got != 10 {
		t.Fatalf("after the commit marker: %d, want 10", got)
	}
}
