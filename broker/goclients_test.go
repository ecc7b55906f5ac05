package broker_test

// Tests with the two other Go Kafka clients users bring: IBM/sarama and
// segmentio/kafka-go. Each test does what a user of that client does and
// checks the answers, so a request version the broker refuses or a field
// it mis-encodes shows up here as a failing client call.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// saramaConfig is a sarama config for tests: the given protocol version,
// short timeouts, errors and successes returned to the caller.
func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = v
	c.ClientID = "sluice-sarama-test"
	c.Metadata.Retry.Backoff = 50 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Retry.Backoff = 50 * time.Millisecond
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.MaxWaitTime = 200 * time.Millisecond
	c.Consumer.Retry.Backoff = 50 * time.Millisecond
	return c
}

// saramaVersions are the protocol versions every sarama test runs with:
// the newest sarama knows, a 2.x one and 0.11, the oldest that writes
// record batches of magic 2 (what the broker stores; Produce v3).
var saramaVersions = []struct {
	name string
	v    sarama.KafkaVersion
}{
	{"newest", sarama.MaxVersion},
	{"v2.1", sarama.V2_1_0_0},
	{"v0.11", sarama.V0_11_0_0},
}

func saramaClient(t *testing.T, addr string, c *sarama.Config) sarama.Client {
	t.Helper()
	cl, err := sarama.NewClient([]string{addr}, c)
	if err != nil {
		t.Fatalf("sarama client: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func saramaAdmin(t *testing.T, addr string, c *sarama.Config) sarama.ClusterAdmin {
	t.Helper()
	adm, err := sarama.NewClusterAdmin([]string{addr}, c)
	if err != nil {
		t.Fatalf("sarama admin: %v", err)
	}
	t.Cleanup(func() { _ = adm.Close() })
	return adm
}

// sentRecord is what a test produced and expects to read back.
type sentRecord struct {
	partition int32
	offset    int64
	key, val  string
	header    string
}

// saramaMessages builds n keyed messages with one header each.
func saramaMessages(topic, tag string, n int) []*sarama.ProducerMessage {
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{
			Topic:   topic,
			Key:     sarama.StringEncoder("key-" + strconv.Itoa(i%7)),
			Value:   sarama.StringEncoder(fmt.Sprintf("%s-%d", tag, i)),
			Headers: []sarama.RecordHeader{{Key: []byte("i"), Value: []byte(strconv.Itoa(i))}},
		}
	}
	return msgs
}

func sent(m *sarama.ProducerMessage) sentRecord {
	k, _ := m.Key.Encode()
	v, _ := m.Value.Encode()
	return sentRecord{partition: m.Partition, offset: m.Offset, key: string(k), val: string(v), header: string(m.Headers[0].Value)}
}

// saramaReadAll reads every partition of topic from the oldest offset with
// sarama's PartitionConsumer until want records arrived, per partition in
// order, and compares them with what was sent.
func saramaReadAll(t *testing.T, cl sarama.Client, topic string, want []sentRecord) {
	t.Helper()
	wantBy := map[int32][]sentRecord{}
	for _, w := range want {
		wantBy[w.partition] = append(wantBy[w.partition], w)
	}
	for p := range wantBy {
		sort.Slice(wantBy[p], func(i, j int) bool { return wantBy[p][i].offset < wantBy[p][j].offset })
	}
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	deadline := time.After(20 * time.Second)
	for p, ws := range wantBy {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume %s[%d]: %v", topic, p, err)
		}
		for i, w := range ws {
			select {
			case m := <-pc.Messages():
				var hdr string
				if len(m.Headers) == 1 && string(m.Headers[0].Key) == "i" {
					hdr = string(m.Headers[0].Value)
				}
				got := sentRecord{partition: m.Partition, offset: m.Offset, key: string(m.Key), val: string(m.Value), header: hdr}
				if got != w {
					pc.AsyncClose()
					t.Fatalf("%s[%d] record %d: got %+v, want %+v", topic, p, i, got, w)
				}
			case err := <-pc.Errors():
				t.Fatalf("consume %s[%d]: %v", topic, p, err)
			case <-deadline:
				t.Fatalf("%s[%d]: read %d of %d records", topic, p, i, len(ws))
			}
		}
		if err := pc.Close(); err != nil {
			t.Fatalf("close partition consumer: %v", err)
		}
	}
}

var saramaCodecs = []struct {
	name  string
	codec sarama.CompressionCodec
	min   sarama.KafkaVersion // the oldest protocol version that carries it
}{
	{"none", sarama.CompressionNone, sarama.V0_8_2_0},
	{"gzip", sarama.CompressionGZIP, sarama.V0_8_2_0},
	{"snappy", sarama.CompressionSnappy, sarama.V0_8_2_0},
	{"lz4", sarama.CompressionLZ4, sarama.V0_10_0_0},
	{"zstd", sarama.CompressionZSTD, sarama.V2_1_0_0},
}

// TestSaramaProduceConsume produces with the SyncProducer and the
// AsyncProducer (acks=all, every codec the version carries, keys and
// headers) and reads everything back with PartitionConsumers, for old and
// new protocol versions.
func TestSaramaProduceConsume(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("num.partitions", "3"))
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			for _, cc := range saramaCodecs {
				if !sv.v.IsAtLeast(cc.min) {
					continue
				}
				t.Run(cc.name, func(t *testing.T) {
					c := saramaConfig(sv.v)
					c.Producer.Compression = cc.codec
					c.Producer.Flush.Messages = 10 // several records per batch
					c.Producer.Flush.Frequency = 5 * time.Millisecond
					cl := saramaClient(t, b.Addr(), c)
					topic := "sarama-" + sv.name + "-" + cc.name
					if err := saramaAdmin(t, b.Addr(), c).CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false); err != nil {
						t.Fatalf("create topic: %v", err)
					}
					var want []sentRecord

					sp, err := sarama.NewSyncProducerFromClient(cl)
					if err != nil {
						t.Fatal(err)
					}
					msgs := saramaMessages(topic, "sync", 60)
					if err := sp.SendMessages(msgs); err != nil {
						t.Fatalf("sync produce: %v", err)
					}
					for _, m := range msgs {
						want = append(want, sent(m))
					}
					if err := sp.Close(); err != nil {
						t.Fatal(err)
					}

					ap, err := sarama.NewAsyncProducerFromClient(cl)
					if err != nil {
						t.Fatal(err)
					}
					msgs = saramaMessages(topic, "async", 60)
					for _, m := range msgs {
						ap.Input() <- m
					}
					deadline := time.After(20 * time.Second)
					for range msgs {
						select {
						case m := <-ap.Successes():
							want = append(want, sent(m))
						case err := <-ap.Errors():
							t.Fatalf("async produce: %v", err)
						case <-deadline:
							t.Fatalf("async produce: %d of %d acknowledged", len(want)-60, len(msgs))
						}
					}
					if err := ap.Close(); err != nil {
						t.Fatal(err)
					}
					saramaReadAll(t, cl, topic, want)
				})
			}
		})
	}
}

// saramaGroupHandler records which member read which value and which
// partitions each member holds. It marks every message it reads; sarama's
// auto-commit stores the marks, and a member leaving commits its last ones
// first, so the member that takes its partitions over starts there. (A
// Commit per message would wait behind the long-poll Fetch on sarama's one
// connection per broker: Kafka answers a connection's requests in order.)
type saramaGroupHandler struct {
	member string
	mu     *sync.Mutex
	seen   map[string][]string // value -> members that read it
	claims map[string][]int32  // member -> partitions of its current session
}

func (h *saramaGroupHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ps := range s.Claims() {
		h.claims[h.member] = append(h.claims[h.member], ps...)
	}
	return nil
}

func (h *saramaGroupHandler) Cleanup(sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.claims, h.member)
	return nil
}

func (h *saramaGroupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			s.MarkMessage(m, "")
			h.mu.Lock()
			h.seen[string(m.Value)] = append(h.seen[string(m.Value)], h.member)
			h.mu.Unlock()
		case <-s.Context().Done():
			return nil
		}
	}
}

// saramaMember runs one member of a sarama consumer group until stop is
// called; stop closes the group (a LeaveGroup) and waits for the member.
func saramaMember(t *testing.T, addr, group, topic string, c *sarama.Config, h *saramaGroupHandler) (stop func()) {
	t.Helper()
	g, err := sarama.NewConsumerGroup([]string{addr}, group, c)
	if err != nil {
		t.Fatalf("consumer group: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				t.Errorf("%s: consume: %v", h.member, err)
				return
			}
		}
	})
	wg.Go(func() {
		for err := range g.Errors() {
			t.Errorf("%s: group error: %v", h.member, err)
		}
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := g.Close(); err != nil {
				t.Errorf("%s: close: %v", h.member, err)
			}
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or 20 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // a poll interval, not a wait for an event
	}
}

// TestSaramaConsumerGroup runs two members of one group over a 6-partition
// topic: they split it, commit what they read, one leaves and the other
// takes every partition over from the commits without rereading.
func TestSaramaConsumerGroup(t *testing.T) {
	b := brokertest.Start(t)
	for _, gv := range []struct {
		name     string
		v        sarama.KafkaVersion
		strategy sarama.BalanceStrategy
	}{
		{"newest-sticky", sarama.MaxVersion, sarama.NewBalanceStrategySticky()},
		{"v2.1-roundrobin", sarama.V2_1_0_0, sarama.NewBalanceStrategyRoundRobin()},
		{"v0.11-range", sarama.V0_11_0_0, sarama.NewBalanceStrategyRange()},
	} {
		t.Run(gv.name, func(t *testing.T) {
			c := saramaConfig(gv.v)
			c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{gv.strategy}
			c.Consumer.Group.Session.Timeout = 6 * time.Second
			c.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
			c.Consumer.Group.Rebalance.Timeout = 5 * time.Second
			c.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
			c.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
			topic, group := "sarama-group-"+gv.name, "sg-"+gv.name
			adm := saramaAdmin(t, b.Addr(), c)
			if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 6, ReplicationFactor: 1}, false); err != nil {
				t.Fatal(err)
			}
			sp, err := sarama.NewSyncProducer([]string{b.Addr()}, c)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			if err := sp.SendMessages(saramaMessages(topic, "first", 60)); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			seen, claims := map[string][]string{}, map[string][]int32{}
			handler := func(m string) *saramaGroupHandler {
				return &saramaGroupHandler{member: m, mu: &mu, seen: seen, claims: claims}
			}
			stopA := saramaMember(t, b.Addr(), group, topic, c, handler("a"))
			saramaMember(t, b.Addr(), group, topic, c, handler("b"))
			split := func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(claims["a"]) > 0 && len(claims["b"]) > 0 && len(claims["a"])+len(claims["b"]) == 6 && len(seen) == 60
			}
			waitFor(t, "two members splitting 6 partitions and reading 60 records", split)

			ds, err := adm.DescribeConsumerGroups([]string{group})
			if err != nil || len(ds) != 1 {
				t.Fatalf("describe group: %v %v", ds, err)
			}
			d := ds[0]
			if d.Err != sarama.ErrNoError || d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != gv.strategy.Name() || len(d.Members) != 2 {
				t.Fatalf("described group: err %v state %q type %q protocol %q members %d", d.Err, d.State, d.ProtocolType, d.Protocol, len(d.Members))
			}
			assigned := 0
			for id, m := range d.Members {
				a, err := m.GetMemberAssignment()
				if err != nil {
					t.Fatalf("member %s assignment: %v", id, err)
				}
				assigned += len(a.Topics[topic])
			}
			if assigned != 6 {
				t.Fatalf("described assignments hold %d partitions, want 6", assigned)
			}

			stopA()
			waitFor(t, "b taking all 6 partitions over", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(claims["b"]) == 6
			})
			if err := sp.SendMessages(saramaMessages(topic, "second", 30)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "b reading the 30 new records", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(seen) == 90
			})
			mu.Lock()
			for v, ms := range seen {
				if len(ms) != 1 {
					t.Errorf("%s read by %v: the new owner did not start from the commit", v, ms)
				}
			}
			mu.Unlock()

			// A partition no key hashed to has no commit, and an OffsetFetch
			// for every partition leaves it out.
			var committed int64
			waitFor(t, "commits adding up to 90", func() bool {
				offs, err := adm.ListConsumerGroupOffsets(group, nil)
				if err != nil {
					t.Fatal(err)
				}
				committed = 0
				for p, blk := range offs.Blocks[topic] {
					if blk.Err != sarama.ErrNoError {
						t.Fatalf("committed offset of partition %d: %v", p, blk.Err)
					}
					committed += blk.Offset
				}
				return committed == 90
			})
		})
	}
}

// TestSaramaIdempotentProducer produces with Producer.Idempotent (which
// needs one request in flight) and checks every record is stored once, in
// order.
func TestSaramaIdempotentProducer(t *testing.T) {
	b := brokertest.Start(t)
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			c := saramaConfig(sv.v)
			c.Producer.Idempotent = true
			c.Net.MaxOpenRequests = 1
			c.Producer.Flush.Messages = 10
			c.Producer.Flush.Frequency = 5 * time.Millisecond
			cl := saramaClient(t, b.Addr(), c)
			topic := "sarama-idem-" + sv.name
			if err := saramaAdmin(t, b.Addr(), c).CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
				t.Fatal(err)
			}
			sp, err := sarama.NewSyncProducerFromClient(cl)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			var want []sentRecord
			for round := range 3 {
				msgs := saramaMessages(topic, "idem"+strconv.Itoa(round), 40)
				if err := sp.SendMessages(msgs); err != nil {
					t.Fatalf("idempotent produce: %v", err)
				}
				for _, m := range msgs {
					want = append(want, sent(m))
				}
			}
			saramaReadAll(t, cl, topic, want)
		})
	}
}

// TestSaramaTransactions commits, aborts and commits again with a
// transactional producer, commits a group's offsets inside a transaction,
// and reads with read_committed (only committed records) and
// read_uncommitted (all of them: Kafka hands aborted data to such readers).
func TestSaramaTransactions(t *testing.T) {
	b := brokertest.Start(t)
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			c := saramaConfig(sv.v)
			c.Producer.Idempotent = true
			c.Net.MaxOpenRequests = 1
			c.Producer.Transaction.ID = "sarama-txn-" + sv.name
			c.Producer.Transaction.Retry.Backoff = 50 * time.Millisecond
			topic, group := "sarama-txn-"+sv.name, "sarama-txn-group-"+sv.name
			adm := saramaAdmin(t, b.Addr(), c)
			if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
				t.Fatal(err)
			}
			ap, err := sarama.NewAsyncProducer([]string{b.Addr()}, c)
			if err != nil {
				t.Fatalf("transactional producer: %v", err)
			}
			defer ap.Close()
			txn := func(tag string, n int, end func() error) {
				t.Helper()
				if err := ap.BeginTxn(); err != nil {
					t.Fatalf("begin %s: %v", tag, err)
				}
				for _, m := range saramaMessages(topic, tag, n) {
					ap.Input() <- m
				}
				deadline := time.After(20 * time.Second)
				for i := range n {
					select {
					case <-ap.Successes():
					case err := <-ap.Errors():
						t.Fatalf("%s: produce: %v", tag, err)
					case <-deadline:
						t.Fatalf("%s: %d of %d acknowledged", tag, i, n)
					}
				}
				if tag == "committed" {
					err := ap.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{
						topic: {{Partition: 0, Offset: 7}},
					}, group)
					if err != nil {
						t.Fatalf("add offsets to txn: %v", err)
					}
				}
				if err := end(); err != nil {
					t.Fatalf("end %s: %v", tag, err)
				}
			}
			txn("committed", 10, ap.CommitTxn)
			txn("aborted", 10, ap.AbortTxn)
			txn("again", 10, ap.CommitTxn)

			read := func(level sarama.IsolationLevel, want int) []string {
				t.Helper()
				rc := saramaConfig(sv.v)
				rc.Consumer.IsolationLevel = level
				cons, err := sarama.NewConsumer([]string{b.Addr()}, rc)
				if err != nil {
					t.Fatal(err)
				}
				defer cons.Close()
				pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				var vals []string
				deadline := time.After(20 * time.Second)
				for len(vals) < want {
					select {
					case m := <-pc.Messages():
						vals = append(vals, string(m.Value))
					case err := <-pc.Errors():
						t.Fatalf("consume: %v", err)
					case <-deadline:
						t.Fatalf("isolation %d: read %d of %d: %v", level, len(vals), want, vals)
					}
				}
				return vals
			}
			for _, v := range read(sarama.ReadCommitted, 20) {
				if v[:len("aborted")] == "aborted" {
					t.Fatalf("read_committed returned aborted record %q", v)
				}
			}
			if got := read(sarama.ReadUncommitted, 30); got[10] != "aborted-0" {
				t.Fatalf("read_uncommitted record 10 is %q, want aborted-0", got[10])
			}

			offs, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
			if err != nil {
				t.Fatal(err)
			}
			if blk := offs.GetBlock(topic, 0); blk == nil || blk.Offset != 7 {
				t.Fatalf("offset committed in the transaction: %+v, want 7", blk)
			}
		})
	}
}

// kafkaGoClient is a kafka-go admin client for the broker at addr. Its
// Transport answers Metadata from a cache for MetadataTTL (6 s by
// default); a short one lets a test see a deletion soon.
func kafkaGoClient(t *testing.T, addr string) *kafka.Client {
	tr := &kafka.Transport{MetadataTTL: 100 * time.Millisecond}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: tr}
}

// kafkaGoCreate creates topic with kafka-go's CreateTopics and fails the
// test on any error.
func kafkaGoCreate(t *testing.T, cl *kafka.Client, topic string, partitions int, configs ...kafka.ConfigEntry) {
	t.Helper()
	resp, err := cl.CreateTopics(ctxT(t), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs,
	}}})
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// kafkaGoMessages builds n keyed messages with one header each.
func kafkaGoMessages(tag string, n int) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{
			Key:     []byte("key-" + strconv.Itoa(i%7)),
			Value:   []byte(fmt.Sprintf("%s-%d", tag, i)),
			Headers: []kafka.Header{{Key: "i", Value: []byte(strconv.Itoa(i))}},
		}
	}
	return msgs
}

// kafkaGoWriter is a synchronous Writer with acks=all and hashed keys. It
// has a Transport of its own: kafka-go's shared default one caches
// metadata across tests, and a topic created since looks unknown to it.
func kafkaGoWriter(t *testing.T, addr, topic string, codec kafka.Compression) *kafka.Writer {
	t.Helper()
	tr := &kafka.Transport{MetadataTTL: 100 * time.Millisecond}
	t.Cleanup(tr.CloseIdleConnections)
	w := &kafka.Writer{
		Transport:    tr,
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  codec,
		BatchSize:    10,
		BatchTimeout: 5 * time.Millisecond,
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// kafkaGoRead reads n messages from r within 20 seconds.
func kafkaGoRead(t *testing.T, r *kafka.Reader, n int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

// TestKafkaGoWriterReader writes with every codec through a Writer (acks
// all, keys hashed to partitions) and reads each partition back with a
// partition Reader from the first offset, then from the last one.
func TestKafkaGoWriterReader(t *testing.T) {
	b := brokertest.Start(t)
	admin := kafkaGoClient(t, b.Addr())
	for _, cc := range []struct {
		name  string
		codec kafka.Compression
	}{{"none", 0}, {"gzip", kafka.Gzip}, {"snappy", kafka.Snappy}, {"lz4", kafka.Lz4}, {"zstd", kafka.Zstd}} {
		t.Run(cc.name, func(t *testing.T) {
			topic := "kafkago-" + cc.name
			kafkaGoCreate(t, admin, topic, 3)
			w := kafkaGoWriter(t, b.Addr(), topic, cc.codec)
			msgs := kafkaGoMessages(cc.name, 60)
			if err := w.WriteMessages(ctxT(t), msgs...); err != nil {
				t.Fatalf("write: %v", err)
			}
			// Per partition, in write order: the Writer sets Partition on
			// no message it is handed, so compute what Hash chose from what
			// the readers return.
			keyPart := map[string]int{}
			total := 0
			for p := range 3 {
				r := kafka.NewReader(kafka.ReaderConfig{
					Brokers: []string{b.Addr()}, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond,
				})
				if err := r.SetOffset(kafka.FirstOffset); err != nil {
					t.Fatal(err)
				}
				lo, err := admin.ListOffsets(ctxT(t), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(p)}}})
				if err != nil {
					t.Fatal(err)
				}
				n := int(lo.Topics[topic][0].LastOffset)
				got := kafkaGoRead(t, r, n)
				last := -1
				for i, m := range got {
					if m.Offset != int64(i) {
						t.Fatalf("partition %d message %d has offset %d", p, i, m.Offset)
					}
					if q, ok := keyPart[string(m.Key)]; ok && q != p {
						t.Fatalf("key %s on partitions %d and %d: not hashed", m.Key, q, p)
					}
					keyPart[string(m.Key)] = p
					var idx int
					if _, err := fmt.Sscanf(string(m.Value), cc.name+"-%d", &idx); err != nil || idx <= last {
						t.Fatalf("partition %d: %q after index %d", p, m.Value, last)
					}
					last = idx
					want := msgs[idx]
					if string(m.Key) != string(want.Key) || len(m.Headers) != 1 || string(m.Headers[0].Value) != strconv.Itoa(idx) {
						t.Fatalf("partition %d message %d: key %q headers %v, want key %q header i=%d", p, i, m.Key, m.Headers, want.Key, idx)
					}
				}
				total += len(got)

				// From the last offset: only what is written afterwards. The
				// Reader resolves LastOffset in its own goroutine, after
				// SetOffset returns, so a record written at once may land
				// before the resolved offset: write until one is read.
				if err := r.SetOffset(kafka.LastOffset); err != nil {
					t.Fatal(err)
				}
				conn, err := kafka.DialLeader(ctxT(t), "tcp", b.Addr(), topic, p)
				if err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(20 * time.Second)
				for {
					if _, err := conn.WriteMessages(kafka.Message{Value: []byte("after-last")}); err != nil {
						t.Fatalf("conn write: %v", err)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					m, err := r.ReadMessage(ctx)
					cancel()
					if err == nil {
						if string(m.Value) != "after-last" || m.Offset < int64(n) {
							t.Fatalf("after SetOffset(LastOffset) read %q at %d, want after-last at %d or later", m.Value, m.Offset, n)
						}
						break
					}
					if !errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
						t.Fatalf("read after SetOffset(LastOffset): %v", err)
					}
				}
				conn.Close()
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if total != len(msgs) {
				t.Fatalf("partitions hold %d messages, want %d", total, len(msgs))
			}
		})
	}
}

// kafkaGoGroupReader reads with a group Reader in a goroutine, committing
// each message synchronously, and records which reader read which value.
// stop closes the reader (it leaves the group) and waits for it.
func kafkaGoGroupReader(t *testing.T, addr, group, topic, name string, mu *sync.Mutex, seen map[string][]string) (stop func()) {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           group,
		Topic:             topic,
		MaxWait:           100 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    6 * time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
		RebalanceTimeout:  5 * time.Second,
		JoinGroupBackoff:  100 * time.Millisecond,
		ReadBackoffMin:    10 * time.Millisecond,
		ReadBackoffMax:    100 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("%s: fetch: %v", name, err)
				}
				return
			}
			if err := r.CommitMessages(ctx, m); err != nil {
				if ctx.Err() == nil {
					t.Errorf("%s: commit: %v", name, err)
				}
				return
			}
			mu.Lock()
			seen[string(m.Value)] = append(seen[string(m.Value)], name)
			mu.Unlock()
		}
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			if err := r.Close(); err != nil {
				t.Errorf("%s: close: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestKafkaGoGroup runs two group Readers over a 6-partition topic: they
// split it, commit, one leaves and the other takes over from the commits;
// then the last one stops and a new reader resumes from the commits.
func TestKafkaGoGroup(t *testing.T) {
	b := brokertest.Start(t)
	admin := kafkaGoClient(t, b.Addr())
	topic, group := "kafkago-group", "kafkago-group"
	kafkaGoCreate(t, admin, topic, 6)
	w := kafkaGoWriter(t, b.Addr(), topic, 0)
	if err := w.WriteMessages(ctxT(t), kafkaGoMessages("first", 60)...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string][]string{}
	count := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) == n
		}
	}
	stopA := kafkaGoGroupReader(t, b.Addr(), group, topic, "a", &mu, seen)
	stopB := kafkaGoGroupReader(t, b.Addr(), group, topic, "b", &mu, seen)
	split := func() bool {
		resp, err := admin.DescribeGroups(ctxT(t), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil {
			t.Fatal(err)
		}
		g := resp.Groups[0]
		if g.Error != nil || g.GroupState != "Stable" || len(g.Members) != 2 {
			return false
		}
		parts := 0
		for _, m := range g.Members {
			n := 0
			for _, tp := range m.MemberAssignments.Topics {
				n += len(tp.Partitions)
			}
			if n == 0 {
				return false
			}
			parts += n
		}
		return parts == 6
	}
	waitFor(t, "two readers splitting the topic", split)
	waitFor(t, "60 records read", count(60))

	stopA()
	if err := w.WriteMessages(ctxT(t), kafkaGoMessages("second", 30)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b reading the 30 new records", count(90))
	stopB()

	if err := w.WriteMessages(ctxT(t), kafkaGoMessages("third", 30)...); err != nil {
		t.Fatal(err)
	}
	kafkaGoGroupReader(t, b.Addr(), group, topic, "c", &mu, seen)
	waitFor(t, "c reading the 30 records written after b stopped", count(120))
	mu.Lock()
	defer mu.Unlock()
	for v, rs := range seen {
		if len(rs) != 1 {
			t.Errorf("%s read by %v: a reader did not resume from the commit", v, rs)
		}
		if v[:len("third")] == "third" && rs[0] != "c" {
			t.Errorf("%s read by %v", v, rs)
		}
	}

	of, err := admin.OffsetFetch(ctxT(t), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1, 2, 3, 4, 5}}})
	if err != nil || of.Error != nil {
		t.Fatalf("offset fetch: %v %v", err, of.Error)
	}
	var committed int64
	for _, p := range of.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("offset fetch partition %d: %v", p.Partition, p.Error)
		}
		if p.CommittedOffset > 0 {
			committed += p.CommittedOffset
		}
	}
	if committed != 120 {
		t.Fatalf("committed offsets add up to %d, want 120", committed)
	}
}

// TestSaramaClusterAdmin walks sarama's ClusterAdmin through a topic's and
// a group's life: create with configs, list, describe, add partitions,
// describe and alter configs both ways, delete records, list, describe,
// fetch offsets of and delete a group, delete the topic.
func TestSaramaClusterAdmin(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("auto.create.topics.enable", "false"))
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			c := saramaConfig(sv.v)
			adm := saramaAdmin(t, b.Addr(), c)
			topic, group := "sarama-admin-"+sv.name, "sarama-admin-group-"+sv.name
			ret, policy := "3600000", "delete"
			err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
				ConfigEntries: map[string]*string{"retention.ms": &ret, "cleanup.policy": &policy}}, false)
			if err != nil {
				t.Fatalf("create topic: %v", err)
			}
			if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); !errors.Is(err, sarama.ErrTopicAlreadyExists) {
				t.Fatalf("creating it again: %v, want TOPIC_ALREADY_EXISTS", err)
			}
			topics, err := adm.ListTopics()
			if err != nil {
				t.Fatalf("list topics: %v", err)
			}
			if d, ok := topics[topic]; !ok || d.NumPartitions != 2 || d.ConfigEntries["retention.ms"] == nil || *d.ConfigEntries["retention.ms"] != ret {
				t.Fatalf("listed %s: %+v (found %v)", topic, d, ok)
			}

			// sarama itself refuses CreatePartitions below Kafka 1.0, where
			// the API first appeared.
			parts := 2
			if sv.v.IsAtLeast(sarama.V1_0_0_0) {
				if err := adm.CreatePartitions(topic, 4, nil, false); err != nil {
					t.Fatalf("create partitions: %v", err)
				}
				parts = 4
			}
			md, err := adm.DescribeTopics([]string{topic})
			if err != nil || len(md) != 1 || md[0].Err != sarama.ErrNoError || len(md[0].Partitions) != parts {
				t.Fatalf("describe topics: %v %+v", err, md)
			}

			config := func(key string) (string, bool) {
				t.Helper()
				res, err := adm.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic}}, sarama.DescribeConfigsOptions{})
				if err != nil || len(res) != 1 || res[0].ErrorCode != sarama.ErrNoError {
					t.Fatalf("describe configs: %v %+v", err, res)
				}
				entries := res[0].Configs
				for _, e := range entries {
					if e.Name == key {
						return e.Value, e.Default
					}
				}
				t.Fatalf("describe config: no %s among %d entries", key, len(entries))
				return "", false
			}
			if v, def := config("retention.ms"); v != ret || def {
				t.Fatalf("retention.ms = %q (default %v), want %s set on the topic", v, def, ret)
			}
			// The legacy AlterConfigs replaces all of the topic's configs.
			ret2 := "7200000"
			if err := adm.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": &ret2}, false); err != nil {
				t.Fatalf("alter config: %v", err)
			}
			if v, _ := config("retention.ms"); v != ret2 {
				t.Fatalf("after AlterConfig retention.ms = %q, want %s", v, ret2)
			}
			seg := "600000"
			if sv.v.IsAtLeast(sarama.V2_3_0_0) { // IncrementalAlterConfigs came with Kafka 2.3
				err := adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
					"segment.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &seg},
				}, false)
				if err != nil {
					t.Fatalf("incremental alter config: %v", err)
				}
				if v, _ := config("segment.ms"); v != seg {
					t.Fatalf("segment.ms = %q, want %s", v, seg)
				}
				if v, _ := config("retention.ms"); v != ret2 {
					t.Fatalf("IncrementalAlterConfig changed retention.ms to %q", v)
				}
			}

			pc := saramaConfig(sv.v)
			pc.Producer.Partitioner = sarama.NewManualPartitioner
			cl := saramaClient(t, b.Addr(), pc)
			sp, err := sarama.NewSyncProducerFromClient(cl)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			for i := range 10 {
				if _, _, err := sp.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(strconv.Itoa(i))}); err != nil {
					t.Fatal(err)
				}
			}
			if err := adm.DeleteRecords(topic, map[int32]int64{0: 4}); err != nil {
				t.Fatalf("delete records: %v", err)
			}
			if o, err := cl.GetOffset(topic, 0, sarama.OffsetOldest); err != nil || o != 4 {
				t.Fatalf("oldest offset after DeleteRecords: %d %v, want 4", o, err)
			}

			// A consumer's commits outside any membership (an offset manager).
			om, err := sarama.NewOffsetManagerFromClient(group, cl)
			if err != nil {
				t.Fatal(err)
			}
			pom, err := om.ManagePartition(topic, 0)
			if err != nil {
				t.Fatal(err)
			}
			pom.MarkOffset(6, "meta")
			om.Commit()
			if err := pom.Close(); err != nil {
				t.Fatal(err)
			}
			if err := om.Close(); err != nil {
				t.Fatal(err)
			}
			groups, err := adm.ListConsumerGroups()
			if err != nil {
				t.Fatalf("list groups: %v", err)
			}
			if _, ok := groups[group]; !ok {
				t.Fatalf("list groups: %v lacks %s", groups, group)
			}
			gd, err := adm.DescribeConsumerGroups([]string{group})
			if err != nil || len(gd) != 1 || gd[0].Err != sarama.ErrNoError || gd[0].State != "Empty" || len(gd[0].Members) != 0 {
				t.Fatalf("describe group: %v %+v", err, gd)
			}
			offs, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1}})
			if err != nil {
				t.Fatal(err)
			}
			if blk := offs.GetBlock(topic, 0); blk == nil || blk.Offset != 6 || blk.Metadata != "meta" {
				t.Fatalf("committed offset of partition 0: %+v, want 6 \"meta\"", blk)
			}
			if blk := offs.GetBlock(topic, 1); blk == nil || blk.Offset != -1 {
				t.Fatalf("offset of partition 1 with no commit: %+v, want -1", blk)
			}
			// sarama refuses DeleteGroups below Kafka 1.1, where it appeared.
			if sv.v.IsAtLeast(sarama.V1_1_0_0) {
				if err := adm.DeleteConsumerGroup(group); err != nil {
					t.Fatalf("delete group: %v", err)
				}
				groups, err := adm.ListConsumerGroups()
				if _, ok := groups[group]; ok || err != nil {
					t.Fatalf("after delete, list groups: %v %v", groups, err)
				}
			}

			if err := adm.DeleteTopic(topic); err != nil {
				t.Fatalf("delete topic: %v", err)
			}
			waitFor(t, "the deleted topic to leave the listing", func() bool {
				topics, err := adm.ListTopics()
				if err != nil {
					t.Fatal(err)
				}
				_, ok := topics[topic]
				return !ok
			})
		})
	}
}

// TestKafkaGoClientAndConn uses kafka-go's Client for admin calls and its
// low-level Conn for a leader connection's writes and batch reads.
func TestKafkaGoClientAndConn(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("auto.create.topics.enable", "false"))
	cl := kafkaGoClient(t, b.Addr())
	ctx := ctxT(t)
	topic := "kafkago-admin"
	kafkaGoCreate(t, cl, topic, 3, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: "3600000"})

	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) != 3 || len(md.Brokers) != 1 {
		t.Fatalf("metadata: %+v", md)
	}
	if md.Topics[0].Partitions[0].Leader.Port == 0 {
		t.Fatalf("partition 0 has no leader: %+v", md.Topics[0].Partitions[0])
	}

	conn, err := kafka.DialLeader(ctx, "tcp", b.Addr(), topic, 1)
	if err != nil {
		t.Fatalf("dial leader: %v", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	msgs := kafkaGoMessages("conn", 25)
	for i := range msgs {
		msgs[i].Key = nil // Conn writes to its own partition; no balancer
	}
	if _, err := conn.WriteMessages(msgs...); err != nil {
		t.Fatalf("conn write: %v", err)
	}
	if last, err := conn.ReadLastOffset(); err != nil || last != 25 {
		t.Fatalf("read last offset: %d %v, want 25", last, err)
	}
	if first, err := conn.ReadFirstOffset(); err != nil || first != 0 {
		t.Fatalf("read first offset: %d %v, want 0", first, err)
	}
	if _, err := conn.Seek(3, kafka.SeekAbsolute); err != nil {
		t.Fatal(err)
	}
	batch := conn.ReadBatch(1, 1<<20)
	var got []string
	for len(got) < 22 {
		m, err := batch.ReadMessage()
		if err != nil {
			break
		}
		if m.Offset != int64(3+len(got)) {
			t.Fatalf("batch message %d has offset %d", len(got), m.Offset)
		}
		got = append(got, string(m.Value))
	}
	if err := batch.Close(); err != nil {
		t.Fatalf("batch: %v", err)
	}
	if len(got) != 22 || got[0] != "conn-3" || got[21] != "conn-24" {
		t.Fatalf("ReadBatch from offset 3 read %d: %v", len(got), got)
	}

	lo, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.FirstOffsetOf(1), kafka.LastOffsetOf(1), kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)},
	}})
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	for _, po := range lo.Topics[topic] {
		want := int64(0)
		if po.Partition == 1 {
			want = 25
		}
		if po.Error != nil || po.FirstOffset != 0 || po.LastOffset != want {
			t.Fatalf("list offsets of partition %d: %+v, want 0..%d", po.Partition, po, want)
		}
	}

	group := "kafkago-admin-group"
	oc, err := cl.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 1, Offset: 9, Metadata: "m9"}}}})
	if err != nil {
		t.Fatalf("offset commit: %v", err)
	}
	if e := oc.Topics[topic][0].Error; e != nil {
		t.Fatalf("offset commit: %v", e)
	}
	of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1}}})
	if err != nil || of.Error != nil {
		t.Fatalf("offset fetch: %v %v", err, of.Error)
	}
	for _, p := range of.Topics[topic] {
		want, meta := int64(-1), ""
		if p.Partition == 1 {
			want, meta = 9, "m9"
		}
		if p.Error != nil || p.CommittedOffset != want || p.Metadata != meta {
			t.Fatalf("offset fetch partition %d: %+v, want %d %q", p.Partition, p, want, meta)
		}
	}

	dc, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"retention.ms", "cleanup.policy"},
	}}})
	if err != nil || len(dc.Resources) != 1 || dc.Resources[0].Error != nil {
		t.Fatalf("describe configs: %v %+v", err, dc)
	}
	vals := map[string]kafka.DescribeConfigResponseConfigEntry{}
	for _, e := range dc.Resources[0].ConfigEntries {
		vals[e.ConfigName] = e
	}
	// kafka-go speaks DescribeConfigs v1+, where is_default gave way to
	// config_source: 1 is DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG.
	if e := vals["retention.ms"]; e.ConfigValue != "3600000" || e.ConfigSource != 1 {
		t.Fatalf("retention.ms: %+v", e)
	}
	if e := vals["cleanup.policy"]; e.ConfigValue != "delete" || e.ConfigSource != 5 {
		t.Fatalf("cleanup.policy: %+v", e)
	}

	dt, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic, "no-such-topic"}})
	if err != nil {
		t.Fatalf("delete topics: %v", err)
	}
	if e := dt.Errors[topic]; e != nil {
		t.Fatalf("delete %s: %v", topic, e)
	}
	if e := dt.Errors["no-such-topic"]; !errors.Is(e, kafka.UnknownTopicOrPartition) {
		t.Fatalf("delete of an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", e)
	}
	// The Transport's metadata cache may still hold the topic for a while.
	waitFor(t, "metadata to call the deleted topic unknown", func() bool {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			t.Fatal(err)
		}
		return len(md.Topics) == 1 && errors.Is(md.Topics[0].Error, kafka.UnknownTopicOrPartition)
	})
}
