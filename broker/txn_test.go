package broker_test

import (
	"context"
	"fmt"
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

// readAll reads topic from the start with the given isolation level until
// want records arrived (or the deadline), then polls briefly so that
// records past the wanted ones (a duplicate, an aborted record) are caught.
func readAll(t *testing.T, addr, topic string, want int, iso kgo.IsolationLevel) []*kgo.Record {
	t.Helper()
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if ctx.Err() == nil {
				t.Errorf("fetch: %v", err)
			}
		})
		out = append(out, fs.Records()...)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	return append(out, cl.PollFetches(short).Records()...)
}

func txnProduce(t *testing.T, cl *kgo.Client, topic, prefix string, n int, commit kgo.TransactionEndTry) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		cl.Produce(ctxT(t), &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: fmt.Appendf(nil, "%s-%d", prefix, i)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctxT(t), commit); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}

func countPrefix(recs []*kgo.Record) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		out[strings.SplitN(string(r.Value), "-", 2)[0]]++
	}
	return out
}

// TestTxnCommitAbort: a transactional producer commits one transaction,
// aborts one and commits another; read_committed sees only the committed
// records, read_uncommitted all of them; the admin APIs describe the
// transactional id and its producer.
func TestTxnCommitAbort(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr(), kgo.TransactionalID("tx-commit-abort"))
	adm := kadmClient(client(t, b.Addr()))
	createTopic(t, adm, "txn", 3, nil)

	txnProduce(t, cl, "txn", "c1", 30, kgo.TryCommit)
	txnProduce(t, cl, "txn", "ab", 20, kgo.TryAbort)
	txnProduce(t, cl, "txn", "c2", 10, kgo.TryCommit)

	committed := countPrefix(readAll(t, b.Addr(), "txn", 40, kgo.ReadCommitted()))
	if committed["c1"] != 30 || committed["c2"] != 10 || committed["ab"] != 0 || len(committed) != 2 {
		t.Fatalf("read_committed saw %v, want c1:30 c2:10", committed)
	}
	all := countPrefix(readAll(t, b.Addr(), "txn", 60, kgo.ReadUncommitted()))
	if all["c1"] != 30 || all["c2"] != 10 || all["ab"] != 20 {
		t.Fatalf("read_uncommitted saw %v, want c1:30 ab:20 c2:10", all)
	}

	ds, err := adm.DescribeTransactions(ctxT(t), "tx-commit-abort")
	if err != nil {
		t.Fatal(err)
	}
	d, ok := ds["tx-commit-abort"]
	if !ok || d.Err != nil || d.State != "CompleteCommit" || d.ProducerID < 0 {
		t.Fatalf("describe: %+v", d)
	}
	ls, err := adm.ListTransactions(ctxT(t), []int64{d.ProducerID}, []string{"CompleteCommit"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.TransactionalIDs()) != 1 {
		t.Fatalf("list: %+v", ls)
	}
	if ls, _ := adm.ListTransactions(ctxT(t), nil, []string{"Ongoing"}); len(ls.TransactionalIDs()) != 0 {
		t.Fatalf("list ongoing: %+v", ls)
	}
	ps, err := adm.DescribeProducers(ctxT(t), kadm.TopicsSet{"txn": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	ps.EachProducer(func(p kadm.DescribedProducer) {
		if p.ProducerID == d.ProducerID && p.CurrentTxnStartOffset == -1 {
			found = true
		}
	})
	if !found {
		t.Fatalf("describe producers: %+v", ps)
	}
}

// TestTxnFencing: a second producer with the same transactional id fences
// the first, whose open transaction is aborted.
func TestTxnFencing(t *testing.T) {
	b := brokertest.Start(t)
	adm := kadmClient(client(t, b.Addr()))
	createTopic(t, adm, "fence", 1, nil)
	old := client(t, b.Addr(), kgo.TransactionalID("tx-fence"))
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctxT(t), &kgo.Record{Topic: "fence", Value: []byte("zombie-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cur := client(t, b.Addr(), kgo.TransactionalID("tx-fence"))
	txnProduce(t, cur, "fence", "live", 3, kgo.TryCommit)
	if err := old.EndTransaction(ctxT(t), kgo.TryCommit); err == nil {
		t.Fatal("the fenced producer committed")
	}
	got := countPrefix(readAll(t, b.Addr(), "fence", 3, kgo.ReadCommitted()))
	if got["live"] != 3 || got["zombie"] != 0 {
		t.Fatalf("read_committed saw %v", got)
	}
}

// TestTxnEtl: consume → produce → commit offsets in one transaction with
// GroupTransactSession; every input record appears exactly once in the
// output, and the group's committed offsets are the input's end.
func TestTxnEtl(t *testing.T) {
	b := brokertest.Start(t)
	adm := kadmClient(client(t, b.Addr()))
	createTopic(t, adm, "etl-in", 2, nil)
	createTopic(t, adm, "etl-out", 2, nil)
	const n = 500
	in := client(t, b.Addr())
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "etl-in", Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := in.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(b.Addr()),
		kgo.TransactionalID("tx-etl"),
		kgo.ConsumerGroup("etl"),
		kgo.ConsumeTopics("etl-in"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ctx := ctxT(t)
	done := 0
	for done < n && ctx.Err() == nil {
		fs := sess.PollFetches(ctx)
		if err := fs.Err0(); err != nil && ctx.Err() == nil {
			t.Fatalf("poll: %v", err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Topic: "etl-out", Key: r.Key, Value: append([]byte("out-"), r.Value...)}, nil)
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if committed {
			done += fs.NumRecords()
		}
	}
	out := readAll(t, b.Addr(), "etl-out", n, kgo.ReadCommitted())
	seen := map[string]bool{}
	for _, r := range out {
		if seen[string(r.Value)] {
			t.Fatalf("%s in the output twice", r.Value)
		}
		seen[string(r.Value)] = true
	}
	if len(seen) != n {
		t.Fatalf("output has %d distinct records, want %d", len(seen), n)
	}
	offs, err := adm.FetchOffsets(ctxT(t), "etl")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != n {
		t.Fatalf("committed offsets sum to %d, want %d", sum, n)
	}

	// The committed offsets and transaction state survive a restart.
	sess.Close()
	b = b.Restart(t)
	adm = kadmClient(client(t, b.Addr()))
	offs, err = adm.FetchOffsets(ctxT(t), "etl")
	if err != nil {
		t.Fatal(err)
	}
	sum = 0
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != n {
		t.Fatalf("after restart committed offsets sum to %d, want %d", sum, n)
	}
}

// TestTxnRestartMidTransaction: a broker restart with a transaction open;
// the coordinator reloads it as Ongoing and aborts it at its timeout, so
// read_committed consumers get past it and never see its records.
func TestTxnRestartMidTransaction(t *testing.T) {
	b := brokertest.Start(t)
	adm := kadmClient(client(t, b.Addr()))
	createTopic(t, adm, "mid", 1, nil)
	open := client(t, b.Addr(), kgo.TransactionalID("tx-mid"), kgo.TransactionTimeout(3*time.Second))
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := open.ProduceSync(ctxT(t), &kgo.Record{Topic: "mid", Value: fmt.Appendf(nil, "open-%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	open.Close()
	b = b.Restart(t)
	adm = kadmClient(client(t, b.Addr()))
	d, err := adm.DescribeTransactions(ctxT(t), "tx-mid")
	if err != nil {
		t.Fatal(err)
	}
	if st := d["tx-mid"].State; st != "Ongoing" && st != "CompleteAbort" {
		t.Fatalf("after restart tx-mid is %q", st)
	}
	other := client(t, b.Addr(), kgo.TransactionalID("tx-after"))
	txnProduce(t, other, "mid", "after", 4, kgo.TryCommit)
	got := countPrefix(readAll(t, b.Addr(), "mid", 4, kgo.ReadCommitted()))
	if got["after"] != 4 || got["open"] != 0 {
		t.Fatalf("read_committed saw %v, want after:4", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		d, err := adm.DescribeTransactions(ctxT(t), "tx-mid")
		if err == nil && d["tx-mid"].State == "CompleteAbort" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tx-mid not aborted by its timeout: %+v %v", d, err)
		}
		<-poll.C
	}
}

// TestConfluentKafkaTxn: librdkafka's transactional producer commits one
// transaction and aborts one (read_committed sees the committed only,
// read_uncommitted both), then a consume-transform-produce loop with
// send_offsets_to_transaction gives exactly-once output.
func TestConfluentKafkaTxn(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "-c", "import confluent_kafka")
	b := brokertest.Start(t)
	adm := kadmClient(client(t, b.Addr()))
	for _, name := range []string{"pytxn", "pytxn-in", "pytxn-out"} {
		createTopic(t, adm, name, 1, nil)
	}
	out := run(t, "", "/usr/bin/python3", "testdata/confluent_txn.py", b.Addr(), "pytxn", "pytxn-in", "pytxn-out")
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("python: %s", out)
	}
}

// TestTxnProduceVerification: KIP-890 part 1 — a transactional batch to a
// partition not added to the producer's transaction is refused with
// INVALID_TXN_STATE; after AddPartitionsToTxn it is stored.
func TestTxnProduceVerification(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	adm := kadmClient(cl)
	createTopic(t, adm, "verify", 1, nil)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorType, fc.CoordinatorKey = 1, "tx-verify"
	if r, err := fc.RequestWith(ctxT(t), cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("FindCoordinator: %+v %v", r, err)
	}
	ip := kmsg.NewPtrInitProducerIDRequest()
	id := "tx-verify"
	ip.TransactionalID, ip.TransactionTimeoutMillis = &id, 60000
	ir, err := ip.RequestWith(ctxT(t), cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %+v %v", ir, err)
	}
	produce := func() int16 {
		t.Helper()
		rec := []batch.Record{{Timestamp: time.Now().UnixMilli(), Value: []byte("v")}}
		bb, err := batch.AppendBatch(nil, batch.Header{Attributes: 0x10, ProducerID: ir.ProducerID, ProducerEpoch: ir.ProducerEpoch, BaseSequence: 0}, rec)
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis, req.TransactionID = 9, -1, 10000, &id
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "verify"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = bb
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(); code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce before AddPartitionsToTxn: code %d, want INVALID_TXN_STATE", code)
	}
	ap := kmsg.NewPtrAddPartitionsToTxnRequest()
	ap.TransactionalID, ap.ProducerID, ap.ProducerEpoch = id, ir.ProducerID, ir.ProducerEpoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "verify", []int32{0}
	ap.Topics = append(ap.Topics, at)
	if r, err := ap.RequestWith(ctxT(t), cl); err != nil || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AddPartitionsToTxn: %+v %v", r, err)
	}
	if code := produce(); code != 0 {
		t.Fatalf("produce after AddPartitionsToTxn: code %d", code)
	}
}
