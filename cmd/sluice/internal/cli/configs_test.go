package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startConfigsBroker starts the broker the configs tests run against: the
// Sluice broker in process.
func startConfigsBroker(t *testing.T) string {
	t.Helper()
	return startBroker(t)
}

// brokerID returns the node ID of one broker of the cluster at addr.
func brokerID(t *testing.T, addr string) int32 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bs, err := kadm.NewClient(cl).ListBrokers(ctx)
	if err != nil || len(bs) == 0 {
		t.Fatalf("listing brokers: %v %v", bs, err)
	}
	return bs[0].NodeID
}

func configsJSON(t *testing.T, addr string, args ...string) entityConfigs {
	t.Helper()
	out := mustRun(t, addr, "", append([]string{"configs", "describe", "-o", "json"}, args...)...)
	var ec entityConfigs
	if err := json.Unmarshal([]byte(out), &ec); err != nil {
		t.Fatalf("configs describe json: %v\n%s", err, out)
	}
	return ec
}

func findConfig(ec entityConfigs, key string) (configInfo, bool) {
	for _, c := range ec.Configs {
		if c.Key == key {
			return c, true
		}
	}
	return configInfo{}, false
}

func TestConfigsTopic(t *testing.T) {
	addr := startConfigsBroker(t)
	mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "1", "--config", "retention.ms=3600000")

	ec := configsJSON(t, addr, "--topic", "orders")
	if ec.Type != "TOPIC" || ec.Name != "orders" || len(ec.Configs) != 1 {
		t.Fatalf("describe without --all: %+v, want only the override", ec)
	}
	if c := ec.Configs[0]; c.Key != "retention.ms" || c.Value != "3600000" || c.Source != "DYNAMIC_TOPIC_CONFIG" || c.Sensitive {
		t.Errorf("override %+v", c)
	}
	ec = configsJSON(t, addr, "--topic", "orders", "--all")
	if c, ok := findConfig(ec, "cleanup.policy"); !ok || c.Source != "DEFAULT_CONFIG" || c.Value != "delete" {
		t.Errorf("--all cleanup.policy %+v %v", c, ok)
	}
	if c, ok := findConfig(ec, "retention.ms"); !ok || c.Source != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("--all retention.ms %+v %v", c, ok)
	}
	out := mustRun(t, addr, "", "configs", "describe", "--topic", "orders")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "CONFIG") ||
		strings.Join(strings.Fields(lines[1]), " ") != "retention.ms 3600000 DYNAMIC_TOPIC_CONFIG false" {
		t.Errorf("describe table:\n%s", out)
	}

	out = mustRun(t, addr, "", "configs", "alter", "--topic", "orders",
		"--add-config", "cleanup.policy=[compact,delete],max.message.bytes=2000", "--delete-config", "retention.ms")
	if !strings.Contains(out, "Completed updating config for topic orders") {
		t.Errorf("alter output %q", out)
	}
	ec = configsJSON(t, addr, "--topic", "orders")
	if c, ok := findConfig(ec, "cleanup.policy"); !ok || c.Value != "compact,delete" || c.Source != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("cleanup.policy after alter %+v %v", c, ok)
	}
	if c, ok := findConfig(ec, "max.message.bytes"); !ok || c.Value != "2000" {
		t.Errorf("max.message.bytes after alter %+v %v", c, ok)
	}
	if c, ok := findConfig(ec, "retention.ms"); ok {
		t.Errorf("retention.ms still set after --delete-config: %+v", c)
	}
	// topics alter goes through the same code.
	mustRun(t, addr, "", "topics", "alter", "orders", "--delete-config", "max.message.bytes")
	if c, ok := findConfig(configsJSON(t, addr, "--topic", "orders"), "max.message.bytes"); ok {
		t.Errorf("max.message.bytes still set after topics alter --delete-config: %+v", c)
	}

	_, _, err := run(t, addr, "", "configs", "describe", "--topic", "nope")
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("describe missing topic: %v", err)
	}
	_, _, err = run(t, addr, "", "configs", "alter", "--topic", "nope", "--add-config", "retention.ms=1")
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("alter missing topic: %v", err)
	}
}

func TestConfigsBroker(t *testing.T) {
	addr := startConfigsBroker(t)
	id := strconv.Itoa(int(brokerID(t, addr)))

	ec := configsJSON(t, addr, "--broker", id, "--all")
	if ec.Type != "BROKER" || ec.Name != id || len(ec.Configs) == 0 {
		t.Fatalf("broker --all: %+v", ec)
	}
	for _, c := range ec.Configs {
		if c.Source == "" || c.Source == "UNKNOWN" {
			t.Errorf("config without a source: %+v", c)
		}
		if c.Sensitive && c.Value != "(sensitive)" {
			t.Errorf("sensitive config shows a value: %+v", c)
		}
	}

	mustRun(t, addr, "", "configs", "alter", "--broker", id, "--add-config", "log.retention.ms=3600000")
	c, ok := findConfig(configsJSON(t, addr, "--broker", id), "log.retention.ms")
	if !ok || c.Value != "3600000" || c.Source != "DYNAMIC_BROKER_CONFIG" {
		t.Errorf("broker log.retention.ms after alter: %+v %v", c, ok)
	}
	mustRun(t, addr, "", "configs", "alter", "--broker", id, "--delete-config", "log.retention.ms")
	if c, ok := findConfig(configsJSON(t, addr, "--broker", id), "log.retention.ms"); ok {
		t.Errorf("log.retention.ms still set after delete: %+v", c)
	}

	out := mustRun(t, addr, "", "configs", "alter", "--broker-defaults", "--add-config", "log.retention.bytes=1048576")
	if !strings.Contains(out, "the broker defaults") {
		t.Errorf("alter defaults output %q", out)
	}
	ec = configsJSON(t, addr, "--broker-defaults")
	if c, ok := findConfig(ec, "log.retention.bytes"); !ok || c.Value != "1048576" || !strings.HasPrefix(c.Source, "DYNAMIC_") {
		t.Errorf("broker defaults after alter: %+v", ec)
	}

	_, _, err := run(t, addr, "", "configs", "describe", "--broker", "99")
	if !errors.Is(err, ErrUnknownBroker) || !strings.Contains(err.Error(), id) {
		t.Errorf("unknown broker: %v, want ErrUnknownBroker listing %s", err, id)
	}
}

func TestConfigsBadInput(t *testing.T) {
	addr := startConfigsBroker(t)
	for _, args := range [][]string{
		{"describe"},
		{"describe", "--topic", "a", "--broker", "1"},
		{"describe", "--broker", "one"},
		{"describe", "--broker", "-1"},
		{"describe", "--topic", "bad/name"},
		{"alter", "--topic", "a"},
		{"alter", "--topic", "a", "--add-config", "novalue"},
		{"alter", "--topic", "a", "--add-config", "k=[a,b"},
		{"alter", "--topic", "a", "--add-config", "k=a],x=1"},
		{"alter", "--topic", "a", "--add-config", "=v"},
		{"alter", "--topic", "a", "--delete-config", "k,,j"},
		{"alter", "--topic", "a", "--add-config", "k=1", "--delete-config", "k"},
	} {
		_, _, err := run(t, addr, "", append([]string{"configs"}, args...)...)
		if !errors.Is(err, ErrUsage) && !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("configs %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}

func TestParseConfigList(t *testing.T) {
	m, err := parseConfigList("a=1,b=[x,y],c=,d=k=v")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "b": "x,y", "c": "", "d": "k=v"}
	if len(m) != len(want) {
		t.Fatalf("parsed %d configs, want %d", len(m), len(want))
	}
	for k, v := range want {
		if m[k] == nil || *m[k] != v {
			t.Errorf("%s = %v, want %q", k, m[k], v)
		}
	}
}
