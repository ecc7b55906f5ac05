package broker_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/brokertest"
	"github.com/sluicehq/sluice/broker/internal/batch"
)

// TestIdempotentKgoProducer: kgo's producer is idempotent by default; with
// InitProducerId advertised it gets a producer id, and every record is
// stored exactly once, in order per partition.
func TestIdempotentKgoProducer(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr(), kgo.MaxBufferedRecords(1000))
	createTopic(t, kadmClient(cl), "idem", 3, nil)
	const n = 3000
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "idem", Key: []byte(strconv.Itoa(i % 11)), Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b.Addr(), "idem", n, kgo.ReadUncommitted())
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
	seen := map[string]bool{}
	last := map[int32]int{}
	for _, r := range got {
		if r.ProducerID < 0 {
			t.Fatalf("record %s stored without a producer id: the producer was not idempotent", r.Value)
		}
		v, _ := strconv.Atoi(string(r.Value))
		if seen[string(r.Value)] {
			t.Fatalf("record %d stored twice", v)
		}
		seen[string(r.Value)] = true
		if prev, ok := last[r.Partition]; ok && v <= prev {
			t.Fatalf("partition %d: record %d after %d", r.Partition, v, prev)
		}
		last[r.Partition] = v
	}
}

type rawProducer struct {
	t     *testing.T
	cl    *kgo.Client
	topic string
}

func (p rawProducer) initProducerID(version int16) (int64, int16) {
	p.t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = version
	req.TransactionTimeoutMillis = 60000
	req.ProducerID, req.ProducerEpoch = -1, -1
	resp, err := req.RequestWith(ctxT(p.t), p.cl)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		p.t.Fatalf("InitProducerId v%d: %v", version, err)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// produce sends one batch of n records with the given producer id, epoch
// and first sequence to partition 0 and returns the base offset and error.
func (p rawProducer) produce(pid int64, epoch int16, seq int32, n int) (int64, error) {
	p.t.Helper()
	values := make([]string, n)
	for i := range values {
		values[i] = "seq-" + strconv.Itoa(int(seq)+i)
	}
	return p.send(batch.Header{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, values)
}

// send writes one batch with header h (its producer fields and attributes)
// holding values to partition 0 with a raw Produce v9, acks=all, and
// returns the partition's base offset and error.
func (p rawProducer) send(h batch.Header, values []string) (int64, error) {
	p.t.Helper()
	rs := make([]batch.Record, len(values))
	now := time.Now().UnixMilli()
	for i, v := range values {
		rs[i] = batch.Record{Offset: int64(i), Timestamp: now, Value: []byte(v)}
	}
	b, err := batch.AppendBatch(nil, h, rs)
	if err != nil {
		p.t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = p.topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = b
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(p.t), p.cl)
	if err != nil {
		p.t.Fatal(err)
	}
	sp := resp.Topics[0].Partitions[0]
	return sp.BaseOffset, kerr.ErrorForCode(sp.ErrorCode)
}

func (p rawProducer) mustProduce(pid int64, epoch int16, seq int32, n int, wantOffset int64) {
	p.t.Helper()
	off, err := p.produce(pid, epoch, seq, n)
	if err != nil || off != wantOffset {
		p.t.Fatalf("producer %d epoch %d seq %d: offset %d, %v; want offset %d", pid, epoch, seq, off, err, wantOffset)
	}
}

func (p rawProducer) mustFail(pid int64, epoch int16, seq int32, want error) {
	p.t.Helper()
	if _, err := p.produce(pid, epoch, seq, 1); err != want {
		p.t.Fatalf("producer %d epoch %d seq %d: %v, want %v", pid, epoch, seq, err, want)
	}
}

// TestIdempotentRawProduce drives the sequence rules over the wire: a
// resent batch gets its first offset back and is stored once, across a
// restart too; a gap and a stale epoch are refused with Kafka's codes.
func TestIdempotentRawProduce(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	createTopic(t, kadmClient(cl), "raw", 1, nil)
	p := rawProducer{t, cl, "raw"}

	pid, epoch := p.initProducerID(0)
	pid2, epoch2 := p.initProducerID(4)
	if pid < 0 || epoch != 0 || epoch2 != 0 || pid2 == pid {
		t.Fatalf("InitProducerId: %d/%d then %d/%d", pid, epoch, pid2, epoch2)
	}
	p.mustProduce(pid, 0, 0, 3, 0)
	p.mustProduce(pid, 0, 0, 3, 0) // the retry: first offset, no append
	p.mustProduce(pid, 0, 3, 2, 3)
	p.mustProduce(pid, 0, 3, 2, 3)
	p.mustFail(pid, 0, 9, kerr.OutOfOrderSequenceNumber)

	b = b.Restart(t)
	cl = client(t, b.Addr())
	p.cl = cl
	p.mustProduce(pid, 0, 3, 2, 3) // still recognised after the restart
	p.mustProduce(pid, 0, 0, 3, 0)
	p.mustProduce(pid, 0, 5, 1, 5)
	if pid3, _ := p.initProducerID(3); pid3 == pid || pid3 == pid2 {
		t.Fatalf("producer id %d handed out again after a restart", pid3)
	}

	p.mustProduce(pid, 1, 0, 1, 6) // a new epoch starts at 0
	p.mustFail(pid, 0, 6, kerr.InvalidProducerEpoch)
	p.mustFail(pid, 2, 1, kerr.OutOfOrderSequenceNumber)

	got := readAll(t, b.Addr(), "raw", 7, kgo.ReadUncommitted())
	var vals []string
	for _, r := range got {
		vals = append(vals, string(r.Value))
	}
	if want := "seq-0 seq-1 seq-2 seq-3 seq-4 seq-5 seq-0"; strings.Join(vals, " ") != want {
		t.Fatalf("log holds %q, want %q", vals, want)
	}
}

// TestInitProducerIDRequests covers the request checks: a transactional
// id is refused until the transaction coordinator exists, a half-set
// producer id/epoch is invalid, and a KIP-360 re-init gets a new id.
func TestInitProducerIDRequests(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	// kgo sends InitProducerId to the transaction coordinator it looks up
	// (and retries), so talk to the broker directly.
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctxT(t), cl)
	if err != nil || len(md.Brokers) != 1 {
		t.Fatalf("metadata: %v %+v", err, md)
	}
	direct := cl.Broker(int(md.Brokers[0].NodeID))
	ask := func(txn *string, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
		t.Helper()
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 5
		req.TransactionalID, req.TransactionTimeoutMillis = txn, 60000
		req.ProducerID, req.ProducerEpoch = pid, epoch
		resp, err := req.RequestWith(ctxT(t), direct)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// A transactional id before __transaction_state exists: this broker is
	// not (yet) its coordinator, as Kafka answers; FindCoordinator creates
	// the topic, and then the id gets a producer id.
	txn := "tx"
	if r := ask(&txn, -1, -1); r.ErrorCode != kerr.NotCoordinator.Code || r.ProducerID != -1 {
		t.Fatalf("transactional before FindCoordinator: %+v", r)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKeys = 4, 1, []string{txn}
	if r, err := fc.RequestWith(ctxT(t), direct); err != nil || r.Coordinators[0].ErrorCode != 0 {
		t.Fatalf("FindCoordinator for %s: %+v %v", txn, r, err)
	}
	if r := ask(&txn, -1, -1); r.ErrorCode != 0 || r.ProducerID < 0 || r.ProducerEpoch != 0 {
		t.Fatalf("transactional after FindCoordinator: %+v", r)
	}
	if r := ask(nil, 5, -1); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("half-set id/epoch: %+v", r)
	}
	first := ask(nil, -1, -1)
	again := ask(nil, first.ProducerID, first.ProducerEpoch)
	if first.ErrorCode != 0 || again.ErrorCode != 0 || again.ProducerID == first.ProducerID || again.ProducerEpoch != 0 {
		t.Fatalf("re-init: %+v then %+v", first, again)
	}
}

// TestConfluentKafkaIdempotent: librdkafka with enable.idempotence=True
// produces, and every record is read back exactly once.
func TestConfluentKafkaIdempotent(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "-c", "import confluent_kafka")
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	createTopic(t, kadmClient(cl), "pyidem", 3, nil)
	out := run(t, "", "/usr/bin/python3", "testdata/confluent_idempotent.py", b.Addr(), "pyidem", "3", "3000")
	if strings.TrimSpace(out) != "ok 3000" {
		t.Fatalf("python: %s", out)
	}
}

// TestProducerIDExpiration: producer.id.expiration.ms (a dynamic broker
// config) reaches every partition log; once a producer has been idle that
// long the retention check forgets it, and its next batch starts afresh at
// any sequence instead of being answered OUT_OF_ORDER_SEQUENCE_NUMBER.
func TestProducerIDExpiration(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("log.retention.check.interval.ms", "20"))
	cl := client(t, b.Addr())
	adm := kadmClient(cl)
	createTopic(t, adm, "expiring", 1, nil)
	p := rawProducer{t, cl, "expiring"}
	pid, _ := p.initProducerID(4)
	p.mustProduce(pid, 0, 0, 2, 0)
	p.mustFail(pid, 0, 7, kerr.OutOfOrderSequenceNumber) // remembered: a gap

	set := "200"
	resp, err := adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "producer.id.expiration.ms", Value: &set}})
	if err != nil || resp[0].Err != nil {
		t.Fatalf("setting producer.id.expiration.ms: %v %+v", err, resp)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := p.produce(pid, 0, 7, 1)
		if err == nil {
			break // forgotten: a new producer may start at any sequence
		}
		if !errors.Is(err, kerr.OutOfOrderSequenceNumber) || time.Now().After(deadline) {
			t.Fatalf("producer never expired: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling the retention check
	}
}
