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

var (
	_ = context.Background
	_ = errors.Is
	_ sync.Mutex
)
