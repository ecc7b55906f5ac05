package broker_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
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

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopics(ctxT(t), partitions, 1, configs, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp[name].Err; err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

// produceN produces n keyed records with headers, acks=all, and returns them
// per partition in acknowledged order.
func produceN(t *testing.T, cl *kgo.Client, topic string, n int) map[int32][]*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{
			Topic:   topic,
			Key:     []byte("key-" + strconv.Itoa(i%17)),
			Value:   []byte(fmt.Sprintf("value-%d-%0100d", i, i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}},
		})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out := map[int32][]*kgo.Record{}
	for _, r := range recs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

// consumeAll reads want records from the start of topic.
func consumeAll(t *testing.T, addr, topic string, want int, opts ...kgo.Opt) map[int32][]*kgo.Record {
	t.Helper()
	cl := client(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	out := map[int32][]*kgo.Record{}
	got := 0
	ctx := ctxT(t)
	for got < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, want, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], r)
			got++
		})
	}
	return out
}

func samePerPartition(t *testing.T, want, got map[int32][]*kgo.Record) {
	t.Helper()
	for p, ws := range want {
		gs := got[p]
		if len(gs) != len(ws) {
			t.Fatalf("partition %d: got %d records, want %d", p, len(gs), len(ws))
		}
		for i := range ws {
			w, g := ws[i], gs[i]
			if g.Offset != w.Offset || string(g.Key) != string(w.Key) || string(g.Value) != string(w.Value) ||
				len(g.Headers) != 1 || string(g.Headers[0].Value) != string(w.Headers[0].Value) {
				t.Fatalf("partition %d record %d: got offset %d %q=%q, want offset %d %q=%q", p, i, g.Offset, g.Key, g.Value, w.Offset, w.Key, w.Value)
			}
		}
	}
}

func TestProduceConsumeEveryCodec(t *testing.T) {
	b := brokertest.Start(t)
	adm := kadm.NewClient(client(t, b.Addr()))
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "codec-" + name
			createTopic(t, adm, topic, 3, nil)
			p := client(t, b.Addr(), kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(kgo.AllISRAcks()))
			want := produceN(t, p, topic, 500)
			samePerPartition(t, want, consumeAll(t, b.Addr(), topic, 500))
		})
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("log.segment.bytes", "20000"))
	adm := kadm.NewClient(client(t, b.Addr()))
	createTopic(t, adm, "durable", 4, map[string]*string{"retention.ms": kadm.StringPtr("86400000")})
	want := produceN(t, client(t, b.Addr()), "durable", 2000)

	b = b.Restart(t)
	samePerPartition(t, want, consumeAll(t, b.Addr(), "durable", 2000))

	// Offsets continue where they were, and the topic config is kept.
	more := produceN(t, client(t, b.Addr()), "durable", 10)
	for p, rs := range more {
		if rs[0].Offset != int64(len(want[p])) {
			t.Fatalf("partition %d: first offset after restart %d, want %d", p, rs[0].Offset, len(want[p]))
		}
	}
	adm = kadm.NewClient(client(t, b.Addr()))
	rc, err := adm.DescribeTopicConfigs(ctxT(t), "durable")
	if err != nil {
		t.Fatal(err)
	}
	c, err := rc.On("durable", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range c.Configs {
		if e.Key == "retention.ms" {
			found = e.MaybeValue() == "86400000" && e.Source == kmsg.ConfigSourceDynamicTopicConfig
		}
	}
	if !found {
		t.Fatalf("retention.ms override lost after restart: %+v", c.Configs)
	}
}

func TestLongPollWakesOnAppend(t *testing.T) {
	b := brokertest.Start(t)
	adm := kadm.NewClient(client(t, b.Addr()))
	createTopic(t, adm, "poll", 1, nil)
	ctx := ctxT(t)
	prod := client(t, b.Addr())
	cons := client(t, b.Addr(), kgo.ConsumeTopics("poll"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(30*time.Second))
	// After the first record, the consumer's next fetch is parked at the
	// broker for up to 30s; the second produce must wake it.
	for i := range 2 {
		sent := time.Now()
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "poll", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		fs := cons.PollFetches(ctx)
		if fs.NumRecords() != 1 {
			t.Fatalf("poll %d: %d records, errors %v", i, fs.NumRecords(), fs.Errors())
		}
		if d := time.Since(sent); i == 1 && d > 15*time.Second {
			t.Fatalf("record arrived %v after produce; the long poll was not woken by the append", d)
		}
	}
}

func TestFetchFromMiddleOfBatchReturnsWholeBatch(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr(), kgo.ProducerLinger(50*time.Millisecond))
	adm := kadm.NewClient(cl)
	createTopic(t, adm, "mid", 1, nil)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "mid", Partition: 0, Value: []byte{byte(i)}})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.MaxWaitMillis = 100
	req.MaxBytes = 1 << 20
	td, err := adm.ListTopics(ctxT(t), "mid")
	if err != nil {
		t.Fatal(err)
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "mid"
	rt.TopicID = td["mid"].ID // kgo sends the newest version both sides know (v13+ names topics by ID)
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = 5
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || sp.HighWatermark != 10 {
		t.Fatalf("fetch: error %d, high watermark %d", sp.ErrorCode, sp.HighWatermark)
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(sp.RecordBatches); err != nil {
		t.Fatal(err)
	}
	if rb.FirstOffset > 5 || rb.FirstOffset+int64(rb.LastOffsetDelta) < 5 {
		t.Fatalf("first batch covers %d..%d, not offset 5", rb.FirstOffset, rb.FirstOffset+int64(rb.LastOffsetDelta))
	}
}

func TestAdmin(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("auto.create.topics.enable", "false"))
	cl := client(t, b.Addr())
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)

	// validate_only creates nothing.
	vr, err := adm.ValidateCreateTopics(ctx, 2, 1, nil, "checked")
	if err != nil || vr["checked"].Err != nil {
		t.Fatalf("validate: %v %v", err, vr["checked"].Err)
	}
	if td, _ := adm.ListTopics(ctx); td.Has("checked") {
		t.Fatal("validate_only created the topic")
	}
	// Names Kafka rejects.
	for _, bad := range []string{"", ".", "..", "has space", "a/b", string(make([]byte, 250))} {
		r, err := adm.CreateTopics(ctx, 1, 1, nil, bad)
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(r[bad].Err, kerr.InvalidTopicException) {
			t.Fatalf("topic %q: got %v, want INVALID_TOPIC_EXCEPTION", bad, r[bad].Err)
		}
	}
	// Unknown config and bad value.
	r, _ := adm.CreateTopics(ctx, 1, 1, map[string]*string{"retention.mss": kadm.StringPtr("1")}, "cfg")
	if !errors.Is(r["cfg"].Err, kerr.InvalidConfig) {
		t.Fatalf("unknown config: %v", r["cfg"].Err)
	}
	r, _ = adm.CreateTopics(ctx, 1, 3, nil, "rf")
	if !errors.Is(r["rf"].Err, kerr.InvalidReplicationFactor) {
		t.Fatalf("rf 3 on one broker: %v", r["rf"].Err)
	}
	createTopic(t, adm, "t1", 2, map[string]*string{"max.message.bytes": kadm.StringPtr("2000")})
	r, _ = adm.CreateTopics(ctx, 1, 1, nil, "t1")
	if !errors.Is(r["t1"].Err, kerr.TopicAlreadyExists) {
		t.Fatalf("duplicate: %v", r["t1"].Err)
	}
	r, _ = adm.CreateTopics(ctx, 1, 1, nil, "__consumer_offsets")
	if r["__consumer_offsets"].Err == nil {
		t.Fatal("clients must not create internal topics")
	}

	// Oversized record → MESSAGE_TOO_LARGE, and nothing stored.
	big := make([]byte, 5000)
	rand.Read(big) // incompressible, so kgo's default compression cannot shrink it
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "t1", Value: big}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("oversized record: %v", err)
	}
	// Produce to a missing topic with auto-creation off.
	p2 := client(t, b.Addr(), kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(2*time.Second))
	if err := p2.ProduceSync(ctx, &kgo.Record{Topic: "missing", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("produce to a missing topic succeeded with auto.create.topics.enable=false")
	}

	// Partitions grow, never shrink.
	cp, err := adm.CreatePartitions(ctx, 2, "t1")
	if err != nil || cp["t1"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, cp["t1"].Err)
	}
	cp, _ = adm.UpdatePartitions(ctx, 1, "t1")
	if !errors.Is(cp["t1"].Err, kerr.InvalidPartitions) {
		t.Fatalf("shrink: %v", cp["t1"].Err)
	}
	td, err := adm.ListTopics(ctx, "t1")
	if err != nil || len(td["t1"].Partitions) != 4 {
		t.Fatalf("t1 partitions after grow: %v %v", err, td["t1"].Partitions)
	}

	// ListOffsets: earliest, latest, by time, max timestamp; DeleteRecords.
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: "t1", Partition: 0, Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	pc := client(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, rec := range recs { // one batch each, so timestamps land in separate batches
		if err := pc.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	end, _ := adm.ListEndOffsets(ctx, "t1")
	if o, _ := end.Lookup("t1", 0); o.Offset != 20 {
		t.Fatalf("end offset %d, want 20", o.Offset)
	}
	after, _ := adm.ListOffsetsAfterMilli(ctx, base.Add(5*time.Minute+time.Second).UnixMilli(), "t1")
	if o, _ := after.Lookup("t1", 0); o.Offset != 6 {
		t.Fatalf("offset after minute 5: %d, want 6", o.Offset)
	}
	maxTS, _ := adm.ListMaxTimestampOffsets(ctx, "t1")
	if o, _ := maxTS.Lookup("t1", 0); o.Offset != 19 || o.Timestamp != base.Add(19*time.Minute).UnixMilli() {
		t.Fatalf("max timestamp offset %d at %d", o.Offset, o.Timestamp)
	}
	dr, err := adm.DeleteRecords(ctx, kadm.Offsets{"t1": {0: {Topic: "t1", Partition: 0, At: 7}}})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := dr.Lookup("t1", 0); d.Err != nil || d.LowWatermark != 7 {
		t.Fatalf("delete records: %+v", d)
	}
	start, _ := adm.ListStartOffsets(ctx, "t1")
	if o, _ := start.Lookup("t1", 0); o.Offset != 7 {
		t.Fatalf("start offset after delete records: %d", o.Offset)
	}

	// DescribeConfigs: the override and a broker default with their sources.
	rc, err := adm.DescribeTopicConfigs(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := rc.On("t1", nil)
	srcs := map[string]kmsg.ConfigSource{}
	for _, e := range c.Configs {
		srcs[e.Key] = e.Source
	}
	if srcs["max.message.bytes"] != kmsg.ConfigSourceDynamicTopicConfig || srcs["retention.ms"] != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("config sources: %v", srcs)
	}
	bc, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil || len(bc) != 1 || len(bc[0].Configs) < 20 {
		t.Fatalf("broker configs: %v %v", err, bc)
	}

	// DescribeLogDirs and DescribeCluster.
	ld, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(0)
	ld.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { size += p.Size })
	})
	if size == 0 {
		t.Fatal("log dirs report no data")
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dcr, err := dc.RequestWith(ctx, cl)
	if err != nil || dcr.ClusterID == "" || len(dcr.Brokers) != 1 {
		t.Fatalf("describe cluster: %v %+v", err, dcr)
	}

	// Delete.
	dt, err := adm.DeleteTopics(ctx, "t1")
	if err != nil || dt["t1"].Err != nil {
		t.Fatalf("delete: %v %v", err, dt["t1"].Err)
	}
	// A new client: kgo caches metadata answers for a few seconds.
	if td, _ := kadm.NewClient(client(t, b.Addr())).ListTopics(ctx); td.Has("t1") {
		t.Fatalf("t1 still listed after delete: %+v", td["t1"])
	}
}

func TestAutoCreateOnMetadata(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("num.partitions", "3"))
	cl := client(t, b.Addr(), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	td, err := kadm.NewClient(cl).ListTopics(ctxT(t), "auto")
	if err != nil || len(td["auto"].Partitions) != 3 {
		t.Fatalf("auto-created topic: %v %+v", err, td["auto"])
	}

	// Raw, as Kafka answers: the Metadata that creates the topic says
	// LEADER_NOT_AVAILABLE with no partitions, the next one shows them.
	for _, version := range []int16{0, 4, 6, 12} {
		name := fmt.Sprintf("auto-raw-v%d", version)
		req := kmsg.NewPtrMetadataRequest()
		req.Version, req.AllowAutoTopicCreation = version, true
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
		for i, want := range []struct {
			code       int16
			partitions int
		}{{kerr.LeaderNotAvailable.Code, 0}, {0, 3}} {
			resp := rawRequest(t, b.Addr(), req).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != want.code || len(resp.Topics[0].Partitions) != want.partitions {
				t.Fatalf("metadata v%d #%d for a missing topic: %+v, want error %d with %d partitions", version, i+1, resp.Topics, want.code, want.partitions)
			}
		}
	}
}

func kadmClient(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

// TestCloseLeavesNoGoroutine starts a broker, uses it, stops it, and checks
// that every goroutine it started has returned.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	b := brokertest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "g", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after stop:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// TestZstdNeedsProduceV7 sends a zstd batch with Produce v6 on a raw
// connection: Kafka answers UNSUPPORTED_COMPRESSION_TYPE (KIP-110), and v7
// accepts the same batch.
func TestZstdNeedsProduceV7(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, kadm.NewClient(client(t, b.Addr())), "z", 1, nil)
	for _, tc := range []struct {
		version int16
		want    int16
	}{{6, kerr.UnsupportedCompressionType.Code}, {7, 0}} {
		recs, err := batch.AppendBatch(nil, batch.Header{Attributes: batch.CompressionZstd, ProducerID: -1, BaseSequence: -1, ProducerEpoch: -1},
			[]batch.Record{{Timestamp: time.Now().UnixMilli(), Value: []byte("zstd value")}})
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = tc.version, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "z"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = recs
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rawRequest(t, b.Addr(), req).(*kmsg.ProduceResponse)
		if got := resp.Topics[0].Partitions[0].ErrorCode; got != tc.want {
			t.Fatalf("Produce v%d with zstd: error %d, want %d", tc.version, got, tc.want)
		}
	}
	// Fetch below v10 cannot carry zstd either; v10 can.
	for _, tc := range []struct {
		version int16
		want    int16
	}{{9, kerr.UnsupportedCompressionType.Code}, {10, 0}} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes = tc.version, -1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "z"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		sp := rawRequest(t, b.Addr(), req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if sp.ErrorCode != tc.want || (tc.want == 0 && len(sp.RecordBatches) == 0) {
			t.Fatalf("Fetch v%d of zstd data: error %d (want %d), %d bytes", tc.version, sp.ErrorCode, tc.want, len(sp.RecordBatches))
		}
	}
}

// rawRequest sends one request at exactly its version on a new connection.
func rawRequest(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	skip := 4
	if resp.IsFlexible() {
		skip++ // empty header tags
	}
	if err := resp.ReadFrom(body[skip:]); err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestStopMidGroupAndTransaction stops the broker while a group consumer is
// a member (its heartbeats and fetches in flight) and a transaction is open,
// and checks that no goroutine of the broker outlives Stop. The clients are
// still running at that moment, so goroutines are told apart by stack.
func TestStopMidGroupAndTransaction(t *testing.T) {
	b := brokertest.Start(t)
	adm := kadmClient(client(t, b.Addr()))
	createTopic(t, adm, "busy", 3, nil)
	ctx := ctxT(t)

	tx, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("stop-mid-txn"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Topic: "busy", Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup("stop-mid-group"), kgo.ConsumeTopics("busy"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	for { // wait until the consumer is a member with partitions
		d, err := adm.DescribeGroups(ctx, "stop-mid-group")
		if err == nil && d["stop-mid-group"].State == "Stable" {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		cons.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			t.Fatal("the group never became stable")
		}
	}
	brokerStacks := func() (string, bool) {
		buf := make([]byte, 4<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		return stacks, strings.Contains(stacks, "sluicehq/sluice/broker/internal")
	}
	if _, running := brokerStacks(); !running {
		t.Fatal("no broker goroutine found while it runs: the stack matcher is wrong")
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stacks, left := brokerStacks()
		if !left {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker goroutines left after Stop:\n%s", stacks)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	// The clients talk to a stopped broker now; closing them must not
	// hang on it.
	start := time.Now()
	tx.Close()
	cons.Close()
	t.Logf("closing the clients of the stopped broker took %v", time.Since(start))
}
