package broker_test

import (
	"context"
	"errors"
	"fmt"
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

// TestCompaction writes many updates per key and tombstones to a compacted
// topic through kgo, waits for the broker's cleaner, and reads back from
// the start exactly the latest value per key, at the offsets they were
// written at, with the tombstones gone after delete.retention.ms.
func TestCompaction(t *testing.T) {
	b := brokertest.Start(t,
		brokertest.Property("log.cleaner.backoff.ms", "20"),
		brokertest.Property("log.retention.check.interval.ms", "50"), // rolls the active segment by segment.ms
	)
	cl := client(t, b.Addr(), kgo.ProducerLinger(0))
	const topic = "compacted"
	str := func(s string) *string { return &s }
	createTopic(t, kadmClient(cl), topic, 1, map[string]*string{
		"cleanup.policy":            str("compact"),
		"segment.bytes":             str("4096"),
		"segment.ms":                str("300"),
		"delete.retention.ms":       str("200"),
		"min.cleanable.dirty.ratio": str("0.01"),
	})
	ctx := ctxT(t)
	const keys, updates = 40, 15
	latest := map[string]string{}  // what a consumer must end with
	offsetOf := map[string]int64{} // where each latest value was written
	for u := range updates {
		var recs []*kgo.Record
		for k := range keys {
			key := fmt.Sprintf("key-%02d", k)
			r := &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(fmt.Sprintf("%s-v%d", key, u))}
			if u == updates-1 && k%4 == 0 {
				r.Value = nil // tombstone
			}
			recs = append(recs, r)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Value == nil {
				delete(latest, string(r.Key))
				delete(offsetOf, string(r.Key))
			} else {
				latest[string(r.Key)], offsetOf[string(r.Key)] = string(r.Value), r.Offset
			}
		}
	}
	// A last record marks the end of the data for the readers below.
	end := &kgo.Record{Topic: topic, Key: []byte("~end"), Value: []byte("end")}
	if err := cl.ProduceSync(ctx, end).FirstErr(); err != nil {
		t.Fatal(err)
	}
	latest["~end"], offsetOf["~end"] = "end", end.Offset
	total := keys*updates + 1

	deadline := time.Now().Add(30 * time.Second)
	var got []*kgo.Record
	for {
		got = readToEnd(t, b.Addr(), topic)
		if compacted(got, latest) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s %d of %d records remain, want %d with no tombstone", len(got), total, len(latest))
		}
	}
	for _, r := range got {
		if want := offsetOf[string(r.Key)]; r.Offset != want {
			t.Fatalf("key %s read at offset %d, written at %d", r.Key, r.Offset, want)
		}
	}

	// A compacted topic refuses a record without a key, as Kafka does.
	nokey := client(t, b.Addr())
	err := nokey.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("null-key produce: %v, want INVALID_RECORD", err)
	}
	for _, v := range []int16{3, 7, 9} {
		rs, err := batch.AppendBatch(nil, batch.Header{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []batch.Record{
			{Timestamp: time.Now().UnixMilli(), Key: []byte("k"), Value: []byte("keyed")},
			{Offset: 1, Timestamp: time.Now().UnixMilli(), Value: []byte("no key")},
		})
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = v, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = rs
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		sp := rawRequest(t, b.Addr(), req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if sp.ErrorCode != kerr.InvalidRecord.Code {
			t.Fatalf("Produce v%d of a null key: error %d, want INVALID_RECORD", v, sp.ErrorCode)
		}
		if v >= 8 {
			if len(sp.ErrorRecords) != 1 || sp.ErrorRecords[0].RelativeOffset != 1 || sp.ErrorMessage == nil ||
				!strings.Contains(*sp.ErrorMessage, "Compacted topic cannot accept message without key in topic partition compacted-0") {
				t.Fatalf("Produce v%d: record errors %+v, message %v", v, sp.ErrorRecords, sp.ErrorMessage)
			}
		}
	}
}

// compacted reports whether recs hold exactly one record per key of want,
// with its value, and nothing else.
func compacted(recs []*kgo.Record, want map[string]string) bool {
	if len(recs) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, r := range recs {
		k := string(r.Key)
		if seen[k] || r.Value == nil || want[k] != string(r.Value) {
			return false
		}
		seen[k] = true
	}
	return true
}

// readToEnd consumes the partition from its start up to the "~end" record.
func readToEnd(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	cl := client(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v after %d records", topic, err, len(out))
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		for _, r := range fs.Records() {
			out = append(out, r)
			if string(r.Key) == "~end" {
				return out
			}
		}
	}
}

// TestCompactOnlyKeepsOldSegments: retention.ms deletes old segments of a
// cleanup.policy=delete topic but never of a compact-only one (the cleaner
// alone removes superseded records there), while compact,delete does both.
func TestCompactOnlyKeepsOldSegments(t *testing.T) {
	b := brokertest.Start(t,
		brokertest.Property("log.retention.check.interval.ms", "20"),
		brokertest.Property("log.cleaner.enable", "false"),
	)
	cl := client(t, b.Addr(), kgo.ProducerLinger(0))
	adm := kadmClient(cl)
	ctx, cancel := context.WithTimeout(ctxT(t), 15*time.Second)
	defer cancel()
	for _, policy := range []string{"delete", "compact", "compact,delete"} {
		createTopic(t, adm, "policy-"+strings.ReplaceAll(policy, ",", "-"), 1, map[string]*string{
			"cleanup.policy": kadm.StringPtr(policy),
			"segment.bytes":  kadm.StringPtr("1024"),
			"retention.ms":   kadm.StringPtr("1"),
		})
	}
	for _, topic := range []string{"policy-delete", "policy-compact", "policy-compact-delete"} {
		for i := range 20 {
			r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: make([]byte, 200)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Once retention has trimmed both delete topics it has also passed
	// over the compact-only one.
	waitTrimmed(ctx, t, adm, "policy-delete")
	waitTrimmed(ctx, t, adm, "policy-compact-delete")
	if got := startOffset(t, adm, "policy-compact"); got != 0 {
		t.Fatalf("retention moved the start of the compact-only topic to %d", got)
	}
}
