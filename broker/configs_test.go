package broker_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/brokertest"
)

func set(name, value string) kadm.AlterConfig {
	return kadm.AlterConfig{Op: kadm.SetConfig, Name: name, Value: kadm.StringPtr(value)}
}

func del(name string) kadm.AlterConfig { return kadm.AlterConfig{Op: kadm.DeleteConfig, Name: name} }

func appendTo(name, value string) kadm.AlterConfig {
	return kadm.AlterConfig{Op: kadm.AppendConfig, Name: name, Value: kadm.StringPtr(value)}
}

func subtract(name, value string) kadm.AlterConfig {
	return kadm.AlterConfig{Op: kadm.SubtractConfig, Name: name, Value: kadm.StringPtr(value)}
}

// alterResult returns the error of the only resource of an alter answer.
func alterResult(t *testing.T, resp kadm.AlterConfigsResponses, err error) error {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp) != 1 {
		t.Fatalf("%d resources answered, want 1", len(resp))
	}
	if resp[0].Err != nil {
		return fmt.Errorf("%w: %s", resp[0].Err, resp[0].ErrMessage)
	}
	return nil
}

// mustAlter returns a check that an alter answer has no error; it takes
// the answer as the alter call returns it: mustAlter(t)(adm.AlterX(...)).
func mustAlter(t *testing.T) func(kadm.AlterConfigsResponses, error) {
	return func(resp kadm.AlterConfigsResponses, err error) {
		t.Helper()
		if err := alterResult(t, resp, err); err != nil {
			t.Fatal(err)
		}
	}
}

// wantAlterErr returns a check of an alter answer's error: its code, and
// that the message names every one of words.
func wantAlterErr(t *testing.T, what string, code error, words ...string) func(kadm.AlterConfigsResponses, error) {
	return func(resp kadm.AlterConfigsResponses, err error) {
		t.Helper()
		got := alterResult(t, resp, err)
		if !errors.Is(got, code) {
			t.Errorf("%s: got %v, want %v", what, got, code)
			return
		}
		for _, w := range words {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("%s: message %q does not say %q", what, got, w)
			}
		}
	}
}

// describeConfig renders one described config as "value SOURCE" followed by
// its synonyms, "| SOURCE:name=value".
func describeConfig(t *testing.T, rcs kadm.ResourceConfigs, err error, key string) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe: %+v", rcs)
	}
	for _, c := range rcs[0].Configs {
		if c.Key != key {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", c.MaybeValue(), c.Source)
		for _, s := range c.Synonyms {
			v := "<nil>"
			if s.Value != nil {
				v = *s.Value
			}
			fmt.Fprintf(&b, " | %s:%s=%s", s.Source, s.Key, v)
		}
		return b.String()
	}
	return "<absent>"
}

func topicConfig(t *testing.T, adm *kadm.Client, topic, key string) string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctxT(t), topic)
	return describeConfig(t, rcs, err, key)
}

func brokerConfig(t *testing.T, adm *kadm.Client, key string, brokers ...int32) string {
	t.Helper()
	rcs, err := adm.DescribeBrokerConfigs(ctxT(t), brokers...)
	return describeConfig(t, rcs, err, key)
}

func check(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func TestAlterTopicConfigs(t *testing.T) {
	b := brokertest.Start(t)
	adm := kadm.NewClient(client(t, b.Addr()))
	ctx := ctxT(t)
	createTopic(t, adm, "t", 1, nil)

	mustAlter(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.ms", "100000"), set("segment.bytes", "2048")}, "t"))
	// Kafka lists no broker synonym for retention.ms when only
	// log.retention.hours has a value (ConfigHelper's quirk, kept).
	check(t, "retention.ms after SET", topicConfig(t, adm, "t", "retention.ms"),
		"100000 DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:retention.ms=100000")
	check(t, "segment.bytes after SET", topicConfig(t, adm, "t", "segment.bytes"),
		"2048 DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:segment.bytes=2048 | DEFAULT_CONFIG:log.segment.bytes=1073741824")

	mustAlter(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{appendTo("cleanup.policy", "compact")}, "t"))
	check(t, "cleanup.policy after APPEND", topicConfig(t, adm, "t", "cleanup.policy"),
		"delete,compact DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:cleanup.policy=delete,compact | DEFAULT_CONFIG:log.cleanup.policy=delete")
	mustAlter(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{subtract("cleanup.policy", "delete")}, "t"))
	check(t, "cleanup.policy after SUBTRACT", topicConfig(t, adm, "t", "cleanup.policy"),
		"compact DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact | DEFAULT_CONFIG:log.cleanup.policy=delete")

	mustAlter(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{del("retention.ms")}, "t"))
	check(t, "retention.ms after DELETE", topicConfig(t, adm, "t", "retention.ms"), "604800000 DEFAULT_CONFIG")

	// validate_only checks and changes nothing.
	mustAlter(t)(adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{set("segment.bytes", "4096"), del("cleanup.policy")}, "t"))
	check(t, "segment.bytes after validate_only", topicConfig(t, adm, "t", "segment.bytes"),
		"2048 DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:segment.bytes=2048 | DEFAULT_CONFIG:log.segment.bytes=1073741824")
	wantAlterErr(t, "validate_only of a bad value", kerr.InvalidConfig, "segment.bytes", "[14,...]")(adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{set("segment.bytes", "1")}, "t"))

	// Errors name the key and what is wrong with it.
	wantAlterErr(t, "unknown key", kerr.InvalidConfig, `"retention.mss"`, `did you mean "retention.ms"`)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.mss", "1")}, "t"))
	wantAlterErr(t, "bad value", kerr.InvalidConfig, "segment.bytes", `"big"`, "INT")(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("segment.bytes", "big")}, "t"))
	wantAlterErr(t, "APPEND to a LONG", kerr.InvalidConfig, "retention.ms", "LIST")(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{appendTo("retention.ms", "1")}, "t"))
	wantAlterErr(t, "min above max compaction lag", kerr.InvalidConfig, "min.compaction.lag.ms")(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("min.compaction.lag.ms", "10"), set("max.compaction.lag.ms", "5")}, "t"))
	wantAlterErr(t, "unknown topic", kerr.UnknownTopicOrPartition)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.ms", "1")}, "nope"))
	wantAlterErr(t, "null value", kerr.InvalidRequest, "retention.ms")(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms"}}, "t"))
	check(t, "cleanup.policy after the failed changes", topicConfig(t, adm, "t", "cleanup.policy"),
		"compact DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact | DEFAULT_CONFIG:log.cleanup.policy=delete")

	// The legacy AlterConfigs replaces every override.
	mustAlter(t)(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{set("max.message.bytes", "5000")}, "t"))
	check(t, "cleanup.policy after AlterConfigs", topicConfig(t, adm, "t", "cleanup.policy"),
		"delete DEFAULT_CONFIG | DEFAULT_CONFIG:log.cleanup.policy=delete")
	check(t, "max.message.bytes after AlterConfigs", topicConfig(t, adm, "t", "max.message.bytes"),
		"5000 DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:max.message.bytes=5000 | DEFAULT_CONFIG:message.max.bytes=1048588")

	// A resource named twice is refused, both times; BROKER_LOGGER is not served.
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.Version = v
		for _, typ := range []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBrokerLogger} {
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = typ, "t"
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value = "retention.ms", kadm.StringPtr("1")
			rr.Configs = append(rr.Configs, c)
			req.Resources = append(req.Resources, rr)
		}
		resp := rawRequest(t, b.Addr(), req).(*kmsg.IncrementalAlterConfigsResponse)
		if len(resp.Resources) != 3 {
			t.Fatalf("v%d: %d resources answered", v, len(resp.Resources))
		}
		for i, r := range resp.Resources {
			if r.ErrorCode != kerr.InvalidRequest.Code {
				t.Errorf("v%d resource %d: error %d, want INVALID_REQUEST", v, i, r.ErrorCode)
			}
		}
	}
	legacy := kmsg.NewPtrAlterConfigsRequest()
	lr := kmsg.NewAlterConfigsRequestResource()
	lr.ResourceType, lr.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
	for _, k := range []string{"retention.ms", "retention.ms"} {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = k, kadm.StringPtr("1")
		lr.Configs = append(lr.Configs, c)
	}
	legacy.Resources = append(legacy.Resources, lr)
	if resp := rawRequest(t, b.Addr(), legacy).(*kmsg.AlterConfigsResponse); resp.Resources[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("duplicate keys: error %d, want INVALID_REQUEST", resp.Resources[0].ErrorCode)
	}

	// Overrides survive a restart.
	b = b.Restart(t)
	adm = kadm.NewClient(client(t, b.Addr()))
	check(t, "max.message.bytes after restart", topicConfig(t, adm, "t", "max.message.bytes"),
		"5000 DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:max.message.bytes=5000 | DEFAULT_CONFIG:message.max.bytes=1048588")
}

func TestAlterBrokerConfigs(t *testing.T) {
	b := brokertest.Start(t)
	cl := client(t, b.Addr(), kgo.RecordRetries(1))
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	createTopic(t, adm, "t", 1, nil)

	mustAlter(t)(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.retention.ms", "5000000")}, 1))
	check(t, "per-broker log.retention.ms", brokerConfig(t, adm, "log.retention.ms", 1),
		"5000000 DYNAMIC_BROKER_CONFIG | DYNAMIC_BROKER_CONFIG:log.retention.ms=5000000 | DEFAULT_CONFIG:log.retention.hours=168")

	// The cluster default: the "" resource lists only what is set there.
	mustAlter(t)(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.retention.ms", "7000000"), set("message.max.bytes", "3000")}))
	rcs, err := adm.DescribeBrokerConfigs(ctx)
	if err != nil || len(rcs) != 1 || len(rcs[0].Configs) != 2 {
		t.Fatalf("describe the cluster default: %v %+v", err, rcs)
	}
	check(t, "default log.retention.ms", brokerConfig(t, adm, "log.retention.ms"),
		"7000000 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=7000000 | DEFAULT_CONFIG:log.retention.hours=168")
	check(t, "broker log.retention.ms over the default", brokerConfig(t, adm, "log.retention.ms", 1),
		"5000000 DYNAMIC_BROKER_CONFIG | DYNAMIC_BROKER_CONFIG:log.retention.ms=5000000 | DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=7000000 | DEFAULT_CONFIG:log.retention.hours=168")
	check(t, "broker message.max.bytes", brokerConfig(t, adm, "message.max.bytes", 1),
		"3000 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=3000 | DEFAULT_CONFIG:message.max.bytes=1048588")
	check(t, "topic max.message.bytes from the default", topicConfig(t, adm, "t", "max.message.bytes"),
		"3000 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=3000 | DEFAULT_CONFIG:message.max.bytes=1048588")
	check(t, "topic retention.ms from this broker", topicConfig(t, adm, "t", "retention.ms"),
		"5000000 DYNAMIC_BROKER_CONFIG | DYNAMIC_BROKER_CONFIG:log.retention.ms=5000000 | DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=7000000 | DEFAULT_CONFIG:log.retention.hours=168")

	// The new limit applies at once.
	big := make([]byte, 4000)
	rand.Read(big)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: big}).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("4000-byte record with message.max.bytes=3000: %v", err)
	}

	// validate_only changes nothing.
	mustAlter(t)(adm.ValidateAlterBrokerConfigs(ctx, []kadm.AlterConfig{set("message.max.bytes", "100")}))
	mustAlter(t)(adm.ValidateAlterBrokerConfigs(ctx, []kadm.AlterConfig{del("log.retention.ms")}, 1))
	check(t, "message.max.bytes after validate_only", brokerConfig(t, adm, "message.max.bytes"),
		"3000 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=3000 | DEFAULT_CONFIG:message.max.bytes=1048588")

	// Errors, as Kafka answers them for broker resources (KAFKA-13609:
	// INVALID_REQUEST for values and read-only keys).
	wantAlterErr(t, "read-only key", kerr.InvalidRequest, "log.dirs", "read-only")(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.dirs", "/x")}, 1))
	wantAlterErr(t, "per-broker key as a cluster default", kerr.InvalidRequest, "listeners", "per broker")(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("listeners", "PLAINTEXT://127.0.0.1:1")}))
	wantAlterErr(t, "listeners of this broker", kerr.InvalidRequest, "listeners", "restart")(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("listeners", "PLAINTEXT://127.0.0.1:1")}, 1))
	wantAlterErr(t, "bad value", kerr.InvalidRequest, "message.max.bytes", `"-5"`)(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("message.max.bytes", "-5")}, 1))
	wantAlterErr(t, "APPEND to an INT", kerr.InvalidRequest, "message.max.bytes", "LIST")(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{appendTo("message.max.bytes", "5")}, 1))
	wantAlterErr(t, "unknown key", kerr.InvalidConfig, "log.retention.mss", `did you mean "log.retention.ms"`)(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.retention.mss", "5")}, 1))
	for name, word := range map[string]string{"2": "expected 1", "x": "must be an integer"} {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "log.retention.ms", kadm.StringPtr("5")
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
		r := rawRequest(t, b.Addr(), req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
		if r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, word) {
			t.Errorf("broker %q: error %d %v, want INVALID_REQUEST saying %q", name, r.ErrorCode, r.ErrorMessage, word)
		}
	}

	// APPEND on a broker list starts from the effective value.
	mustAlter(t)(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{appendTo("log.cleanup.policy", "compact")}))
	check(t, "topic cleanup.policy from the default", topicConfig(t, adm, "t", "cleanup.policy"),
		"delete,compact DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:log.cleanup.policy=delete,compact | DEFAULT_CONFIG:log.cleanup.policy=delete")

	// Everything survives a restart.
	b = b.Restart(t)
	adm = kadm.NewClient(client(t, b.Addr()))
	check(t, "broker log.retention.ms after restart", brokerConfig(t, adm, "log.retention.ms", 1),
		"5000000 DYNAMIC_BROKER_CONFIG | DYNAMIC_BROKER_CONFIG:log.retention.ms=5000000 | DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=7000000 | DEFAULT_CONFIG:log.retention.hours=168")
	check(t, "topic max.message.bytes after restart", topicConfig(t, adm, "t", "max.message.bytes"),
		"3000 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=3000 | DEFAULT_CONFIG:message.max.bytes=1048588")

	// DELETE of the per-broker value falls back to the cluster default;
	// the legacy AlterConfigs with no configs clears the default.
	mustAlter(t)(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{del("log.retention.ms")}, 1))
	check(t, "broker log.retention.ms after DELETE", brokerConfig(t, adm, "log.retention.ms", 1),
		"7000000 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=7000000 | DEFAULT_CONFIG:log.retention.hours=168")
	mustAlter(t)(adm.AlterBrokerConfigsState(ctx, nil))
	if rcs, err := adm.DescribeBrokerConfigs(ctx); err != nil || len(rcs) != 1 || len(rcs[0].Configs) != 0 {
		t.Fatalf("cluster default after clearing: %v %+v", err, rcs)
	}
	check(t, "topic max.message.bytes after clearing", topicConfig(t, adm, "t", "max.message.bytes"),
		"1048588 DEFAULT_CONFIG | DEFAULT_CONFIG:message.max.bytes=1048588")
}

// produceOld writes n records of about 200 bytes, each its own batch,
// stamped two days ago: older than any retention the test sets, younger
// than the default week.
func produceOld(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ts := time.Now().Add(-48 * time.Hour)
	for range n {
		v := make([]byte, 200)
		rand.Read(v) // incompressible, so each batch stays about 270 bytes
		r := &kgo.Record{Topic: topic, Timestamp: ts, Value: v}
		if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func startOffset(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	offs, err := adm.ListStartOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("start offset of %s: %+v", topic, o)
	}
	return o.Offset
}

// waitTrimmed polls until retention has moved the topic's start offset.
func waitTrimmed(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	for startOffset(t, adm, topic) == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: retention deleted no segment before the deadline", topic)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestRetentionChangesApplyWithoutRestart(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("log.retention.check.interval.ms", "50"))
	cl := client(t, b.Addr(), kgo.ProducerLinger(0))
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctxT(t), 15*time.Second)
	defer cancel()
	small := map[string]*string{"segment.bytes": kadm.StringPtr("1024")}
	createTopic(t, adm, "lowered", 1, small)
	createTopic(t, adm, "follows-default", 1, small)
	createTopic(t, adm, "own-retention", 1, map[string]*string{"segment.bytes": kadm.StringPtr("1024"), "retention.ms": kadm.StringPtr("604800000")})
	for _, topic := range []string{"lowered", "follows-default", "own-retention"} {
		produceOld(t, cl, topic, 30)
	}
	// Two-day-old data is within the default week: nothing goes.
	for _, topic := range []string{"lowered", "follows-default", "own-retention"} {
		if o := startOffset(t, adm, topic); o != 0 {
			t.Fatalf("%s: start offset %d before any change", topic, o)
		}
	}

	// A topic's own retention.ms, lowered.
	mustAlter(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.ms", "3600000")}, "lowered"))
	waitTrimmed(ctx, t, adm, "lowered")

	// A cluster default reaches the topic without an override only.
	mustAlter(t)(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.retention.ms", "3600000")}))
	waitTrimmed(ctx, t, adm, "follows-default")
	if o := startOffset(t, adm, "own-retention"); o != 0 {
		t.Errorf("own-retention: start offset %d; the cluster default must not beat the topic's retention.ms", o)
	}
	check(t, "follows-default retention.ms", topicConfig(t, adm, "follows-default", "retention.ms"),
		"3600000 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=3600000 | DEFAULT_CONFIG:log.retention.hours=168")

	// A new segment.bytes decides the next roll.
	createTopic(t, adm, "roll", 1, map[string]*string{"retention.ms": kadm.StringPtr("-1")}) // old records, kept
	produceOld(t, cl, "roll", 10)
	if n := segments(t, b.Dir(), "roll-0"); n != 1 {
		t.Fatalf("roll: %d segments before the change, want 1", n)
	}
	mustAlter(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("segment.bytes", "1024")}, "roll"))
	produceOld(t, cl, "roll", 10)
	if n := segments(t, b.Dir(), "roll-0"); n < 3 {
		t.Fatalf("roll: %d segments after segment.bytes=1024 and 10 more 200-byte batches, want at least 3", n)
	}
}

func segments(t *testing.T, dir, part string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, part))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			n++
		}
	}
	return n
}

// Config changes race with produce, describe and retention; run with
// -race. Every goroutine is owned and waited for. The producer uses
// acks=all, so Produce reads the topic's min.insync.replicas while the
// config is swapped.
func TestConfigChangesUnderLoad(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("log.retention.check.interval.ms", "5"))
	cl := client(t, b.Addr(), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	adm := kadm.NewClient(cl)
	createTopic(t, adm, "load", 2, nil)
	ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
	defer cancel()
	done := make(chan error, 4)
	alter := func(do func(i int) (kadm.AlterConfigsResponses, error)) {
		var err error
		for i := 0; ctx.Err() == nil && err == nil; i++ {
			var resp kadm.AlterConfigsResponses
			if resp, err = do(i); err == nil && len(resp) == 1 {
				err = resp[0].Err
			}
		}
		if ctx.Err() != nil {
			err = nil
		}
		done <- err
	}
	go alter(func(i int) (kadm.AlterConfigsResponses, error) {
		return adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("segment.bytes", fmt.Sprint(1024+i%4*512)), set("retention.ms", fmt.Sprint(600000+i))}, "load")
	})
	go alter(func(i int) (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.retention.ms", fmt.Sprint(700000+i)), set("message.max.bytes", fmt.Sprint(100000+i))})
	})
	go func() {
		var err error
		for ctx.Err() == nil && err == nil {
			err = cl.ProduceSync(ctx, &kgo.Record{Topic: "load", Value: make([]byte, 300)}).FirstErr()
		}
		if ctx.Err() != nil {
			err = nil
		}
		done <- err
	}()
	go func() {
		var err error
		for ctx.Err() == nil && err == nil {
			_, err = adm.DescribeTopicConfigs(ctx, "load")
			if err == nil {
				_, err = adm.DescribeBrokerConfigs(ctx, 1)
			}
		}
		if ctx.Err() != nil {
			err = nil
		}
		done <- err
	}()
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	// The last values won: describe shows what was stored last.
	rcs, err := adm.DescribeBrokerConfigs(ctxT(t))
	if err != nil || len(rcs) != 1 || len(rcs[0].Configs) != 2 {
		t.Fatalf("cluster default after the load: %v %+v", err, rcs)
	}
}
