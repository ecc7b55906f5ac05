package config

import (
	"fmt"
	"strings"
	"testing"
)

// entry finds a described config by name.
func entry(t *testing.T, es []Entry, name string) Entry {
	t.Helper()
	for _, e := range es {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return Entry{}
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// describe prints an entry compactly: value, source, then synonyms.
func describe(e Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s=%s %s", e.Name, str(e.Value), e.Source)
	for _, s := range e.Synonyms {
		fmt.Fprintf(&b, " | %s:%s=%s", s.Source, s.Name, str(s.Value))
	}
	return b.String()
}

// The expectations follow Kafka's ConfigHelper.createTopicConfigEntry:
// topic override first, then broker synonyms by layer (dynamic broker,
// dynamic default, static, default), minus those listed before the first
// entry named like the primary broker synonym.
func TestDescribeTopic(t *testing.T) {
	for _, tc := range []struct {
		name      string
		static    map[string]string
		perBroker map[string]string
		overrides map[string]string
		key       string
		want      string
	}{
		{"default, primary synonym has a default", nil, nil, nil, "segment.bytes",
			"segment.bytes=1073741824 DEFAULT_CONFIG | DEFAULT_CONFIG:log.segment.bytes=1073741824"},
		{"default retention: Kafka lists no synonym (log.retention.ms has no default)", nil, nil, nil, "retention.ms",
			"retention.ms=604800000 DEFAULT_CONFIG"},
		{"override only", nil, nil, map[string]string{"retention.ms": "1000"}, "retention.ms",
			"retention.ms=1000 DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:retention.ms=1000"},
		{"override + static ms and hours", map[string]string{"log.retention.ms": "5000", "log.retention.hours": "24"}, nil,
			map[string]string{"retention.ms": "1000"}, "retention.ms",
			"retention.ms=1000 DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:retention.ms=1000 | STATIC_BROKER_CONFIG:log.retention.ms=5000 | STATIC_BROKER_CONFIG:log.retention.hours=24 | DEFAULT_CONFIG:log.retention.hours=168"},
		{"static ms, no override", map[string]string{"log.retention.ms": "5000"}, nil, nil, "retention.ms",
			"retention.ms=5000 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:log.retention.ms=5000 | DEFAULT_CONFIG:log.retention.hours=168"},
		{"static hours only: value applies, Kafka still says DEFAULT_CONFIG", map[string]string{"log.retention.hours": "24"}, nil, nil, "retention.ms",
			"retention.ms=86400000 DEFAULT_CONFIG"},
		{"override + static hours only: Kafka drops the hours synonyms too", map[string]string{"log.retention.hours": "24"}, nil,
			map[string]string{"retention.ms": "1000"}, "retention.ms",
			"retention.ms=1000 DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:retention.ms=1000"},
		{"static segment bytes", map[string]string{"log.segment.bytes": "2000"}, nil, nil, "segment.bytes",
			"segment.bytes=2000 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:log.segment.bytes=2000 | DEFAULT_CONFIG:log.segment.bytes=1073741824"},
		{"dynamic broker beats static", map[string]string{"log.retention.ms": "100"}, map[string]string{"log.retention.ms": "300"}, nil, "retention.ms",
			"retention.ms=300 DYNAMIC_BROKER_CONFIG | DYNAMIC_BROKER_CONFIG:log.retention.ms=300 | STATIC_BROKER_CONFIG:log.retention.ms=100 | DEFAULT_CONFIG:log.retention.hours=168"},
		{"list printed as Kafka joins it", nil, nil, map[string]string{"cleanup.policy": "compact , delete"}, "cleanup.policy",
			"cleanup.policy=compact,delete DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete | DEFAULT_CONFIG:log.cleanup.policy=delete"},
		{"double printed as Java does", map[string]string{"log.cleaner.min.cleanable.ratio": "1"}, nil, nil, "min.cleanable.dirty.ratio",
			"min.cleanable.dirty.ratio=1.0 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:log.cleaner.min.cleanable.ratio=1 | DEFAULT_CONFIG:log.cleaner.min.cleanable.ratio=0.5"},
		{"flush.ms never by default", nil, nil, nil, "flush.ms", "flush.ms=9223372036854775807 DEFAULT_CONFIG"},
		{"max.message.bytes from message.max.bytes", map[string]string{"message.max.bytes": "500"}, nil, nil, "max.message.bytes",
			"max.message.bytes=500 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:message.max.bytes=500 | DEFAULT_CONFIG:message.max.bytes=1048588"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mustParse(t, tc.static)
			if tc.perBroker != nil {
				var err error
				if b, err = b.WithDynamic(tc.perBroker, nil); err != nil {
					t.Fatal(err)
				}
			}
			e := entry(t, b.DescribeTopic(tc.overrides, true, true), tc.key)
			if got := describe(e); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
			if e.ReadOnly || e.Doc == "" || e.IsDefault != (e.Source == SourceDefaultConfig) {
				t.Errorf("flags: %+v", e)
			}
			// Without synonyms and docs, only those go.
			e2 := entry(t, b.DescribeTopic(tc.overrides, false, false), tc.key)
			if e2.Synonyms != nil || e2.Doc != "" || str(e2.Value) != str(e.Value) || e2.Source != e.Source {
				t.Errorf("without synonyms: %+v", e2)
			}
		})
	}
}

func TestDescribeTopicListsEveryKeySorted(t *testing.T) {
	es := Defaults().DescribeTopic(nil, false, false)
	if len(es) != len(TopicDefs()) {
		t.Fatalf("%d entries for %d defs", len(es), len(TopicDefs()))
	}
	for i, e := range es {
		if i > 0 && es[i-1].Name >= e.Name {
			t.Errorf("not sorted at %s", e.Name)
		}
		if e.Value == nil {
			t.Errorf("%s has no value", e.Name)
		}
	}
	// A stored override that no longer validates is shown as stored.
	e := entry(t, Defaults().DescribeTopic(map[string]string{"retention.ms": "bogus"}, false, false), "retention.ms")
	if str(e.Value) != "bogus" || e.Source != SourceDynamicTopicConfig {
		t.Errorf("invalid override: %s", describe(e))
	}
}

func TestDescribeBroker(t *testing.T) {
	for _, tc := range []struct {
		name   string
		static map[string]string
		key    string
		want   string
		ro     bool
	}{
		{"unset with no default", nil, "log.retention.ms", "log.retention.ms=<nil> DEFAULT_CONFIG", false},
		{"default", nil, "log.retention.hours", "log.retention.hours=168 DEFAULT_CONFIG | DEFAULT_CONFIG:log.retention.hours=168", true},
		{"static hours", map[string]string{"log.retention.hours": "24"}, "log.retention.hours",
			"log.retention.hours=24 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:log.retention.hours=24 | DEFAULT_CONFIG:log.retention.hours=168", true},
		{"minutes: higher-precedence names dropped, lower kept", map[string]string{"log.retention.minutes": "5", "log.retention.ms": "9"}, "log.retention.minutes",
			"log.retention.minutes=5 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:log.retention.minutes=5 | DEFAULT_CONFIG:log.retention.hours=168", true},
		{"static ms", map[string]string{"log.retention.ms": "9"}, "log.retention.ms",
			"log.retention.ms=9 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:log.retention.ms=9 | DEFAULT_CONFIG:log.retention.hours=168", false},
		{"listeners are per-broker dynamic", nil, "listeners",
			"listeners=PLAINTEXT://127.0.0.1:9092 DEFAULT_CONFIG | DEFAULT_CONFIG:listeners=PLAINTEXT://127.0.0.1:9092", false},
		{"log.dirs unset", nil, "log.dirs", "log.dirs=<nil> DEFAULT_CONFIG", true},
		{"broker.id follows node.id", map[string]string{"node.id": "4"}, "broker.id",
			"broker.id=4 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:node.id=4 | DEFAULT_CONFIG:node.id=1", true},
		{"node.id set through broker.id", map[string]string{"broker.id": "4"}, "node.id",
			"node.id=4 STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:broker.id=4 | DEFAULT_CONFIG:node.id=1", true},
		{"list value", map[string]string{"log.cleanup.policy": "compact,  delete"}, "log.cleanup.policy",
			"log.cleanup.policy=compact,delete STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:log.cleanup.policy=compact,  delete | DEFAULT_CONFIG:log.cleanup.policy=delete", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry(t, mustParse(t, tc.static).Describe(true, true), tc.key)
			if got := describe(e); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
			if e.ReadOnly != tc.ro {
				t.Errorf("ReadOnly = %v, want %v", e.ReadOnly, tc.ro)
			}
		})
	}
	es := Defaults().Describe(false, false)
	if len(es) != len(BrokerDefs()) {
		t.Errorf("%d entries for %d defs", len(es), len(BrokerDefs()))
	}
}

// A Broker is shared by every connection's handlers: reading it from many
// goroutines must be safe (run with -race).
func TestBrokerConcurrentReads(t *testing.T) {
	b := mustParse(t, map[string]string{"log.retention.ms": "5"})
	done := make(chan error)
	for range 4 {
		go func() {
			for range 50 {
				if _, err := b.Topic(map[string]string{"segment.ms": "10"}); err != nil {
					done <- err
					return
				}
				b.DescribeTopic(map[string]string{"retention.ms": "1"}, true, true)
				b.Describe(true, true)
				b.Properties()
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
