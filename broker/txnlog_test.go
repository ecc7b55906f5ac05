package broker_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/brokertest"
	"github.com/sluicehq/sluice/broker/internal/batch"
)

// produceTxn sends one transactional batch (attribute bit set) of the given
// values to partition 0 of p.topic and returns its base offset.
func (p rawProducer) produceTxn(pid int64, epoch int16, seq int32, values ...string) int64 {
	p.t.Helper()
	off, err := p.send(batch.Header{Attributes: 0x10, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, values)
	if err != nil {
		p.t.Fatalf("transactional produce of %v: %v", values, err)
	}
	return off
}

// marker ends producer pid's transaction in partition 0 through
// WriteTxnMarkers and returns the partition's error.
func (p rawProducer) marker(pid int64, epoch int16, commit bool) error {
	p.t.Helper()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = pid, epoch, commit
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = p.topic, []int32{0}
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	resp, err := req.RequestWith(ctxT(p.t), p.cl)
	if err != nil {
		p.t.Fatal(err)
	}
	return kerr.ErrorForCode(resp.Markers[0].Topics[0].Partitions[0].ErrorCode)
}

// latest answers ListOffsets -1 for partition 0 under an isolation level.
func (p rawProducer) latest(isolation int8) int64 {
	p.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.IsolationLevel = 5, isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = p.topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(p.t), p.cl)
	if err != nil {
		p.t.Fatal(err)
	}
	sp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		p.t.Fatal(err)
	}
	return sp.Offset
}

// topicID looks p.topic's id up with Metadata: kgo sends Fetch at the
// newest version both sides speak, which names topics by id.
func (p rawProducer) topicID() [16]byte {
	p.t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(p.topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(p.t), p.cl)
	if err != nil || len(resp.Topics) != 1 {
		p.t.Fatalf("metadata: %v", err)
	}
	return resp.Topics[0].TopicID
}

// fetch sends one Fetch for partition 0 from offset.
func (p rawProducer) fetch(ctx context.Context, id [16]byte, offset int64, isolation int8, maxWait int32) (*kmsg.FetchResponseTopicPartition, error) {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.IsolationLevel, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 11, isolation, maxWait, 1, 1<<20
	req.ReplicaID, req.SessionEpoch = -1, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = p.topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = offset, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, p.cl)
	if err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, errors.New("fetch answered without the partition")
	}
	return &resp.Topics[0].Partitions[0], nil
}

// consumeValues is readAll's records' values.
func consumeValues(t *testing.T, addr, topic string, want int, iso kgo.IsolationLevel) []string {
	t.Helper()
	var out []string
	for _, r := range readAll(t, addr, topic, want, iso) {
		out = append(out, string(r.Value))
	}
	return out
}

// TestReadCommitted drives a partition through a committed, an aborted and
// an open transaction with raw requests (InitProducerId, transactional
// Produce, WriteTxnMarkers) and checks what consumers see under each
// isolation level, ListOffsets, the Fetch fields, the long poll waking on a
// marker, and the open transaction surviving a restart.
func TestReadCommitted(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	createTopic(t, kadmClient(cl), "txn", 1, nil)
	p := rawProducer{t: t, cl: cl, topic: "txn"}
	pid, epoch := p.initProducerID(4)

	if off := p.produceTxn(pid, epoch, 0, "a1", "a2"); off != 0 { // 0-1
		t.Fatalf("first batch at %d", off)
	}
	if err := p.marker(pid, epoch, true); err != nil { // commit at 2
		t.Fatal(err)
	}
	p.produceTxn(pid, epoch, 2, "b1", "b2")             // 3-4
	if err := p.marker(pid, epoch, false); err != nil { // abort at 5
		t.Fatal(err)
	}
	if off := p.produceTxn(pid, epoch, 4, "c1"); off != 6 { // open
		t.Fatalf("open transaction at %d, want 6", off)
	}
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "txn", Value: []byte("plain")}).FirstErr(); err != nil { // 7
		t.Fatal(err)
	}

	if got, want := consumeValues(t, b.Addr(), "txn", 2, kgo.ReadCommitted()), []string{"a1", "a2"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed saw %v, want %v (nothing at or past the LSO 6)", got, want)
	}
	if got, want := consumeValues(t, b.Addr(), "txn", 6, kgo.ReadUncommitted()), []string{"a1", "a2", "b1", "b2", "c1", "plain"}; !slices.Equal(got, want) {
		t.Fatalf("read_uncommitted saw %v, want %v", got, want)
	}
	if u, c := p.latest(0), p.latest(1); u != 8 || c != 6 {
		t.Fatalf("ListOffsets latest: read_uncommitted %d read_committed %d, want 8 and 6", u, c)
	}
	id := p.topicID()
	sp, err := p.fetch(ctxT(t), id, 0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sp.HighWatermark != 8 || sp.LastStableOffset != 6 || len(sp.AbortedTransactions) != 1 ||
		sp.AbortedTransactions[0].ProducerID != pid || sp.AbortedTransactions[0].FirstOffset != 3 {
		t.Fatalf("read_committed fetch: err %v hw %d lso %d aborted %+v", kerr.ErrorForCode(sp.ErrorCode), sp.HighWatermark, sp.LastStableOffset, sp.AbortedTransactions)
	}
	if sp, err = p.fetch(ctxT(t), id, 0, 0, 0); err != nil || sp.LastStableOffset != 6 {
		t.Fatalf("read_uncommitted fetch: lso %d, %v", sp.LastStableOffset, err)
	}

	// Restart mid-transaction: the open transaction still pins the LSO.
	b = b.Restart(t)
	cl = client(t, b.Addr())
	p.cl = cl
	if u, c := p.latest(0), p.latest(1); u != 8 || c != 6 {
		t.Fatalf("after restart, ListOffsets latest: read_uncommitted %d read_committed %d, want 8 and 6", u, c)
	}

	// A read_committed long poll at the LSO waits out its MaxWait (data
	// past the LSO does not answer it) ...
	start := time.Now()
	if sp, err := p.fetch(ctxT(t), id, 6, 1, 300); err != nil || len(sp.RecordBatches) != 0 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("fetch at the LSO returned %d bytes after %v, %v", len(sp.RecordBatches), time.Since(start), err)
	}
	// ... and wakes when the commit marker moves the LSO, long before its
	// 15 s. (It is on a connection of its own: replies on one connection
	// go back in order.)
	type result struct {
		sp      *kmsg.FetchResponseTopicPartition
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	poller := rawProducer{t: t, cl: client(t, b.Addr()), topic: "txn"}
	go func() {
		start := time.Now()
		sp, err := poller.fetch(context.Background(), id, 6, 1, 15000)
		done <- result{sp, err, time.Since(start)}
	}()
	if err := p.marker(pid, epoch, true); err != nil { // commit at 8
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.elapsed > 10*time.Second || len(res.sp.RecordBatches) == 0 || res.sp.LastStableOffset != 9 {
		t.Fatalf("long poll after the commit: %v, %d bytes, lso %d", res.elapsed, len(res.sp.RecordBatches), res.sp.LastStableOffset)
	}
	if c := p.latest(1); c != 9 {
		t.Fatalf("read_committed latest %d after the commit, want 9", c)
	}
	if got, want := consumeValues(t, b.Addr(), "txn", 4, kgo.ReadCommitted()), []string{"a1", "a2", "c1", "plain"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed saw %v after the commit, want %v", got, want)
	}

	// A stale producer epoch's marker is refused per partition.
	if err := p.marker(pid, epoch-1, false); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("marker with an old epoch: %v", err)
	}
}

// TestReadCommittedBelowLogStart: after DeleteRecords past the start of an
// open transaction the LSO is never below the new log start, and a
// read_committed fetch below the log start is OFFSET_OUT_OF_RANGE rather
// than an empty answer.
func TestReadCommittedBelowLogStart(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	adm := kadmClient(cl)
	createTopic(t, adm, "txn-trim", 1, nil)
	p := rawProducer{t: t, cl: cl, topic: "txn-trim"}
	pid, epoch := p.initProducerID(4)
	plain := func() {
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "txn-trim", Value: []byte("plain")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p.produceTxn(pid, epoch, 0, "open") // 0: the transaction stays open
	plain()                             // 1
	p.produceTxn(pid, epoch, 1, "more") // 2: the producer outlives the trim
	plain()                             // 3
	if c := p.latest(1); c != 0 {
		t.Fatalf("read_committed latest %d with the transaction open at 0", c)
	}
	del, err := adm.DeleteRecords(ctxT(t), kadm.Offsets{"txn-trim": {0: {Topic: "txn-trim", Partition: 0, At: 2}}})
	if err != nil || del.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, del.Error())
	}
	id := p.topicID()
	sp, err := p.fetch(ctxT(t), id, 1, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(kerr.ErrorForCode(sp.ErrorCode), kerr.OffsetOutOfRange) || sp.LogStartOffset != 2 {
		t.Fatalf("read_committed fetch below the log start: %v, log start %d", kerr.ErrorForCode(sp.ErrorCode), sp.LogStartOffset)
	}
	if sp, err = p.fetch(ctxT(t), id, 2, 1, 0); err != nil || sp.ErrorCode != 0 || sp.LastStableOffset < 2 {
		t.Fatalf("read_committed fetch at the log start: %v, lso %d (want at least the log start 2)", kerr.ErrorForCode(sp.ErrorCode), sp.LastStableOffset)
	}
}
