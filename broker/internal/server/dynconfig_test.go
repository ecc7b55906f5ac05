package server

import (
	"log/slog"
	"maps"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/config"
	"github.com/sluicehq/sluice/broker/internal/meta"
)

func TestWithStoredDynamicSkipsBadKeys(t *testing.T) {
	store, err := meta.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	static, err := config.Parse(map[string]string{"node.id": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if got := withStoredDynamic(static, store, slog.New(slog.DiscardHandler)); got != static {
		t.Fatal("nothing stored, yet the config changed")
	}
	// What an older version or a hand-edited log might hold: a read-only
	// key, a bad value, a per-broker key as a default, another node's set.
	if err := store.Append(
		meta.Record{BrokerConfig: &meta.BrokerConfig{Broker: "3", Configs: map[string]string{"log.retention.ms": "5", "log.dirs": "/x"}}},
		meta.Record{BrokerConfig: &meta.BrokerConfig{Broker: "", Configs: map[string]string{"message.max.bytes": "abc", "log.segment.bytes": "2048", "listeners": "PLAINTEXT://:1"}}},
		meta.Record{BrokerConfig: &meta.BrokerConfig{Broker: "4", Configs: map[string]string{"log.segment.bytes": "4096"}}},
	); err != nil {
		t.Fatal(err)
	}
	got := withStoredDynamic(static, store, slog.New(slog.DiscardHandler))
	per, def := got.Dynamic()
	if !maps.Equal(per, map[string]string{"log.retention.ms": "5"}) || !maps.Equal(def, map[string]string{"log.segment.bytes": "2048"}) {
		t.Fatalf("applied per-broker %v, default %v", per, def)
	}
	if tc, _ := got.Topic(nil); tc.RetentionMs != 5 || tc.SegmentBytes != 2048 {
		t.Fatalf("topic config: retention %d, segment %d", tc.RetentionMs, tc.SegmentBytes)
	}
}
