package broker_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// startBehindProxy starts a broker with two listeners: PLAINTEXT, which
// tests use directly, and PROXIED, which advertises the fault proxy's
// address, so a client seeded with the proxy learns no other way in and
// every one of its requests crosses the proxy.
func startBehindProxy(t *testing.T, p *faultProxy) *brokertest.Broker {
	t.Helper()
	b := brokertest.Start(t,
		brokertest.Property("listeners", "PLAINTEXT://127.0.0.1:0,PROXIED://127.0.0.1:0"),
		brokertest.Property("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT"),
		brokertest.Property("advertised.listeners", "PROXIED://"+p.Addr()),
	)
	addrs := b.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("broker listens on %v, want two listeners", addrs)
	}
	p.start(addrs[1])
	return b
}

// TestFaultIdempotentProducer: a kgo idempotent producer (acks=all, the
// default) writes through a proxy that keeps cutting its connections, some
// of them after a produce request reached the broker and before the
// response came back, so the producer retries batches the broker already
// appended. Afterwards every partition, read directly, holds every record
// exactly once and in produced order.
func TestFaultIdempotentProducer(t *testing.T) {
	const (
		partitions = 4
		n          = 20000
	)
	proxy := newFaultProxy(t, 4, 8<<10, 48<<10)
	b := startBehindProxy(t, proxy)
	createTopic(t, kadmClient(client(t, b.Addr())), "faults", partitions, nil)

	prod := client(t, proxy.Addr(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(4<<10),
		kgo.MaxBufferedRecords(n),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
		kgo.RequestRetries(1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	pad := strings.Repeat("x", 80)
	errs := make(chan error, 1)
	for i := range n {
		r := &kgo.Record{Topic: "faults", Partition: int32(i % partitions), Value: fmt.Appendf(nil, "%d-%s", i, pad)}
		prod.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (after %d torn requests, %d lost responses)", err, proxy.tornRequests.Load(), proxy.lostReplies.Load())
	}
	select {
	case err := <-errs:
		t.Fatalf("produce: %v", err)
	default:
	}
	torn, lost := proxy.tornRequests.Load(), proxy.lostReplies.Load()
	t.Logf("proxy cut %d connections mid-request and %d before a response", torn, lost)
	if torn < 5 || lost < 5 {
		t.Fatalf("too few faults to show anything: %d torn requests, %d lost responses", torn, lost)
	}

	checkExactlyOnceInOrder(ctx, t, b.Addr(), "faults", partitions, n)
}

// checkExactlyOnceInOrder reads topic directly and checks that record i
// (value "i-…") sits in partition i % partitions exactly once, in order:
// the end offsets count every stored record, duplicates included.
func checkExactlyOnceInOrder(ctx context.Context, t *testing.T, addr, topic string, partitions, n int) {
	t.Helper()
	adm := kadmClient(client(t, addr))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != int64(n) {
		t.Errorf("the topic holds %d records, want %d", total, n)
	}
	got := consumeAll(t, addr, topic, n)
	for p := range int32(partitions) {
		recs := got[p]
		if len(recs) != n/partitions {
			t.Errorf("partition %d holds %d records, want %d", p, len(recs), n/partitions)
		}
		want := int(p)
		for i, r := range recs {
			v, _, _ := strings.Cut(string(r.Value), "-")
			seq, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("partition %d offset %d: value %q", p, r.Offset, r.Value)
			}
			if seq != want {
				t.Fatalf("partition %d position %d (offset %d): record %d, want %d (%s)", p, i, r.Offset, seq, want,
					map[bool]string{true: "a duplicate or reordering", false: "a lost record"}[seq < want])
			}
			want += partitions
		}
	}
}

// TestFaultConfluentIdempotentProducer is TestFaultIdempotentProducer with
// librdkafka (confluent-kafka-python) as the producer: its own retry and
// sequence logic, through the same connection-cutting proxy, must leave
// every record exactly once and in order.
func TestFaultConfluentIdempotentProducer(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "-c", "import confluent_kafka")
	const (
		partitions = 4
		n          = 20000
	)
	proxy := newFaultProxy(t, 7, 20<<10, 48<<10)
	b := startBehindProxy(t, proxy)
	createTopic(t, kadmClient(client(t, b.Addr())), "faults-py", partitions, nil)

	out := run(t, "", "/usr/bin/python3", "testdata/confluent_idem_faults.py", proxy.Addr(), "faults-py", strconv.Itoa(partitions), strconv.Itoa(n))
	if strings.TrimSpace(out) != fmt.Sprintf("ok %d", n) {
		t.Fatalf("python: %s", out)
	}
	torn, lost := proxy.tornRequests.Load(), proxy.lostReplies.Load()
	t.Logf("proxy cut %d connections mid-request and %d before a response", torn, lost)
	if torn+lost < 5 || lost < 2 {
		t.Fatalf("too few faults to show anything: %d torn requests, %d lost responses", torn, lost)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	checkExactlyOnceInOrder(ctx, t, b.Addr(), "faults-py", partitions, n)
}
