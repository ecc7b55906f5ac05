package config

import (
	"errors"
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestApplyTopicOps(t *testing.T) {
	b := mustParse(t, map[string]string{"log.cleanup.policy": "compact"})
	for _, tc := range []struct {
		name string
		over map[string]string
		ops  []Op
		want map[string]string
	}{
		{"set and delete", map[string]string{"retention.ms": "1", "segment.bytes": "100"},
			[]Op{{"retention.ms", OpSet, "5"}, {"segment.bytes", OpDelete, ""}, {"not.set", OpDelete, ""}},
			map[string]string{"retention.ms": "5"}},
		{"append starts from the broker synonym", nil,
			[]Op{{"cleanup.policy", OpAppend, "delete"}},
			map[string]string{"cleanup.policy": "compact,delete"}},
		{"append keeps items once, trims spaces", map[string]string{"cleanup.policy": "delete"},
			[]Op{{"cleanup.policy", OpAppend, " compact , delete"}},
			map[string]string{"cleanup.policy": "delete,compact"}},
		{"subtract", map[string]string{"cleanup.policy": "delete,compact"},
			[]Op{{"cleanup.policy", OpSubtract, "delete,absent"}},
			map[string]string{"cleanup.policy": "compact"}},
		{"subtract to empty", map[string]string{"cleanup.policy": "compact"},
			[]Op{{"cleanup.policy", OpSubtract, "compact"}},
			map[string]string{"cleanup.policy": ""}},
		{"ops apply in order", nil,
			[]Op{{"cleanup.policy", OpSet, "delete"}, {"cleanup.policy", OpAppend, "compact"}},
			map[string]string{"cleanup.policy": "delete,compact"}},
	} {
		in := maps.Clone(tc.over)
		got, err := b.ApplyTopicOps(tc.over, tc.ops)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		if !maps.Equal(in, tc.over) {
			t.Errorf("%s: the input changed to %v", tc.name, tc.over)
		}
	}
	_, err := b.ApplyTopicOps(nil, []Op{{"retention.ms", OpAppend, "1"}})
	if !errors.Is(err, ErrBadOp) || !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("append to a LONG: %v", err)
	}
	_, err = b.ApplyTopicOps(nil, []Op{{"cleanup.polic", OpSubtract, "x"}})
	var ke *KeyError
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, kerr.InvalidConfig) || !errors.As(err, &ke) || ke.Suggest != "cleanup.policy" {
		t.Errorf("subtract from an unknown key: %v", err)
	}
	if _, err = b.ApplyTopicOps(nil, []Op{{"retention.ms", OpType(9), "1"}}); !errors.Is(err, ErrBadOp) {
		t.Errorf("unknown op: %v", err)
	}
}

func TestApplyBrokerOps(t *testing.T) {
	b := mustParse(t, nil)
	got, err := b.ApplyBrokerOps(map[string]string{"log.retention.ms": "5"},
		[]Op{{"log.cleanup.policy", OpAppend, "compact"}, {"log.retention.ms", OpDelete, ""}, {"message.max.bytes", OpSet, "100"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"log.cleanup.policy": "delete,compact", "message.max.bytes": "100"}; !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := b.ApplyBrokerOps(nil, []Op{{"message.max.bytes", OpAppend, "1"}}); !errors.Is(err, ErrBadOp) || errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("append to an INT: %v (Kafka answers INVALID_REQUEST, not INVALID_CONFIG)", err)
	}
	if _, err := b.ApplyBrokerOps(nil, []Op{{"nope", OpAppend, "1"}}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("append to an unknown key: %v", err)
	}
}

func TestDynamicLayersDescribe(t *testing.T) {
	b := mustParse(t, map[string]string{"log.retention.ms": "9000", "message.max.bytes": "5000"})
	d, err := b.WithDynamic(map[string]string{"log.retention.ms": "300"}, map[string]string{"log.retention.ms": "200", "log.segment.bytes": "2048"})
	if err != nil {
		t.Fatal(err)
	}
	per, def := d.Dynamic()
	if !maps.Equal(per, map[string]string{"log.retention.ms": "300"}) || !maps.Equal(def, map[string]string{"log.retention.ms": "200", "log.segment.bytes": "2048"}) {
		t.Fatalf("Dynamic() = %v, %v", per, def)
	}
	per["x"] = "y"
	if p, _ := d.Dynamic(); len(p) != 1 {
		t.Fatal("Dynamic returned the broker's own map")
	}
	if p, c := b.Dynamic(); p == nil || c == nil || len(p)+len(c) != 0 {
		t.Fatalf("static broker: Dynamic() = %v, %v", p, c)
	}

	// The "" resource lists only the cluster defaults, without per-broker synonyms.
	es := d.DescribeDefault(true, false)
	if len(es) != 2 {
		t.Fatalf("DescribeDefault: %d entries, want 2", len(es))
	}
	for key, want := range map[string]string{
		"log.retention.ms":  "log.retention.ms=200 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=200 | STATIC_BROKER_CONFIG:log.retention.ms=9000 | DEFAULT_CONFIG:log.retention.hours=168",
		"log.segment.bytes": "log.segment.bytes=2048 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:log.segment.bytes=2048 | DEFAULT_CONFIG:log.segment.bytes=1073741824",
	} {
		if got := describe(entry(t, es, key)); got != want {
			t.Errorf("default %s:\n got %s\nwant %s", key, got, want)
		}
	}
	// This broker's resource shows every layer, per-broker first.
	if got, want := describe(entry(t, d.Describe(true, false), "log.retention.ms")),
		"log.retention.ms=300 DYNAMIC_BROKER_CONFIG | DYNAMIC_BROKER_CONFIG:log.retention.ms=300 | DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=200 | STATIC_BROKER_CONFIG:log.retention.ms=9000 | DEFAULT_CONFIG:log.retention.hours=168"; got != want {
		t.Errorf("broker log.retention.ms:\n got %s\nwant %s", got, want)
	}
	// A topic without an override follows the per-broker value; the
	// cluster default's segment size reaches it too.
	if got, want := describe(entry(t, d.DescribeTopic(nil, true, false), "segment.bytes")),
		"segment.bytes=2048 DYNAMIC_DEFAULT_BROKER_CONFIG | DYNAMIC_DEFAULT_BROKER_CONFIG:log.segment.bytes=2048 | DEFAULT_CONFIG:log.segment.bytes=1073741824"; got != want {
		t.Errorf("topic segment.bytes:\n got %s\nwant %s", got, want)
	}
	if tp, _ := d.Topic(nil); tp.RetentionMs != 300 || tp.SegmentBytes != 2048 {
		t.Errorf("topic config: retention %d segment %d", tp.RetentionMs, tp.SegmentBytes)
	}
}

func TestRedact(t *testing.T) {
	in := map[string]string{"retention.ms": "1", "log.retention.ms": "2"}
	if got := Redact(in); !maps.Equal(got, in) {
		t.Errorf("Redact changed non-sensitive values: %v", got)
	}
	// No key of the table is sensitive yet: check the mechanism with a
	// predicate and a sensitive copy of a definition.
	got := redact(in, func(k string) bool { return k == "log.retention.ms" })
	if got["log.retention.ms"] != "[hidden]" || got["retention.ms"] != "1" || in["log.retention.ms"] != "2" {
		t.Errorf("redact = %v (input %v)", got, in)
	}
	b, err := mustParse(t, map[string]string{"log.retention.ms": "9"}).WithDynamic(nil, map[string]string{"log.retention.ms": "5"})
	if err != nil {
		t.Fatal(err)
	}
	d := *defs().byBroker["log.retention.ms"]
	d.Sensitive = true
	e := b.defaultEntry(&d, true, false)
	if e.Value != nil || !e.Sensitive || len(e.Synonyms) != 3 {
		t.Errorf("sensitive default described as %s (sensitive %v)", describe(e), e.Sensitive)
	}
	for _, s := range e.Synonyms {
		if s.Value != nil {
			t.Errorf("sensitive synonym %s has a value", s.Name)
		}
	}
}
