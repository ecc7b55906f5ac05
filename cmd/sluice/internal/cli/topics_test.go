package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidateTopicName(t *testing.T) {
	for _, ok := range []string{"a", "orders.v1", "A_b-9", strings.Repeat("x", 249)} {
		if err := validateTopicName(ok); err != nil {
			t.Errorf("validateTopicName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "has space", "slash/no", "ü", strings.Repeat("x", 250)} {
		if err := validateTopicName(bad); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("validateTopicName(%q) = %v, want ErrInvalidTopic", bad, err)
		}
	}
}

func describeJSON(t *testing.T, addr string, names ...string) []topicInfo {
	t.Helper()
	out := mustRun(t, addr, "", append([]string{"topics", "describe", "-o", "json"}, names...)...)
	var infos []topicInfo
	if err := json.Unmarshal([]byte(out), &infos); err != nil {
		t.Fatalf("describe json: %v\n%s", err, out)
	}
	return infos
}

func configValue(ti topicInfo, key string) (configInfo, bool) {
	for _, c := range ti.Configs {
		if c.Key == key {
			return c, true
		}
	}
	return configInfo{}, false
}

func TestTopicsLifecycle(t *testing.T) {
	addr := startBroker(t)

	out := mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000")
	if !strings.Contains(out, "Created topic orders") {
		t.Errorf("create output %q", out)
	}

	_, _, err := run(t, addr, "", "topics", "create", "orders", "--partitions", "3")
	if !errors.Is(err, kerr.TopicAlreadyExists) || !strings.Contains(err.Error(), "--if-not-exists") {
		t.Errorf("second create: %v, want TopicAlreadyExists with a hint", err)
	}
	if out := mustRun(t, addr, "", "topics", "create", "orders", "--if-not-exists"); !strings.Contains(out, "already exists") {
		t.Errorf("--if-not-exists output %q", out)
	}
	_, _, err = run(t, addr, "", "topics", "create", "bad/name")
	if !errors.Is(err, ErrInvalidTopic) {
		t.Errorf("bad name: %v, want ErrInvalidTopic", err)
	}
	_, _, err = run(t, addr, "", "topics", "create", "x", "--config", "novalue")
	if !errors.Is(err, ErrUsage) {
		t.Errorf("bad --config: %v, want ErrUsage", err)
	}

	if out := mustRun(t, addr, "", "topics", "create", "dry", "--validate-only"); !strings.Contains(out, "validated only") {
		t.Errorf("--validate-only output %q", out)
	}
	if !honoursValidateOnly {
		mustRun(t, addr, "", "topics", "delete", "dry")
	}
	var created result
	if err := json.Unmarshal([]byte(mustRun(t, addr, "", "topics", "create", "payments", "-p", "1", "-o", "json")), &created); err != nil || created != (result{"payments", "created"}) {
		t.Errorf("create -o json: %v %+v", err, created)
	}

	out = mustRun(t, addr, "", "topics", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TOPIC") || !strings.HasPrefix(lines[1], "orders ") || !strings.HasPrefix(lines[2], "payments ") {
		t.Errorf("list table (validate-only must create nothing):\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 3 || f[1] != "3" || f[2] != "1" {
		t.Errorf("orders row %q, want orders 3 1", lines[1])
	}
	var listed []topicInfo
	if err := json.Unmarshal([]byte(mustRun(t, addr, "", "topics", "list", "-o", "json")), &listed); err != nil || len(listed) != 2 {
		t.Errorf("list json: %v %+v", err, listed)
	}

	infos := describeJSON(t, addr, "orders")
	if len(infos) != 1 || infos[0].Partitions != 3 || len(infos[0].PartitionDetails) != 3 {
		t.Fatalf("describe orders: %+v", infos)
	}
	for i, p := range infos[0].PartitionDetails {
		if p.Partition != int32(i) || p.Leader < 0 || len(p.Replicas) != 1 || len(p.ISR) != 1 {
			t.Errorf("partition %d: %+v", i, p)
		}
	}
	if c, ok := configValue(infos[0], "retention.ms"); !ok || c.Value != "3600000" || c.Source != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("retention.ms config %+v %v in %+v", c, ok, infos[0].Configs)
	}
	out = mustRun(t, addr, "", "topics", "describe", "orders")
	for _, want := range []string{"Topic: orders", "PartitionCount: 3", "retention.ms", "DYNAMIC_TOPIC_CONFIG", "LEADER", "ISR"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe table lacks %q:\n%s", want, out)
		}
	}
	if all := describeJSON(t, addr); len(all) != 2 {
		t.Errorf("describe without names: %d topics, want 2", len(all))
	}
	_, _, err = run(t, addr, "", "topics", "describe", "nope")
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("describe missing topic: %v", err)
	}

	mustRun(t, addr, "", "topics", "alter", "orders", "--partitions", "5")
	if infos = describeJSON(t, addr, "orders"); infos[0].Partitions != 5 {
		t.Errorf("after alter: %d partitions, want 5", infos[0].Partitions)
	}
	_, _, err = run(t, addr, "", "topics", "alter", "orders", "--partitions", "2")
	if err == nil || !strings.Contains(err.Error(), "can only be added") {
		t.Errorf("shrinking partitions: %v", err)
	}
	if _, _, err = run(t, addr, "", "topics", "alter", "orders"); !errors.Is(err, ErrUsage) {
		t.Errorf("alter with nothing: %v", err)
	}

	if out := mustRun(t, addr, "", "topics", "delete", "orders", "payments"); strings.Count(out, "Deleted topic") != 2 {
		t.Errorf("delete output %q", out)
	}
	_, _, err = run(t, addr, "", "topics", "delete", "orders")
	if !errors.Is(err, kerr.UnknownTopicOrPartition) || !strings.Contains(err.Error(), "--if-exists") {
		t.Errorf("deleting a missing topic: %v", err)
	}
	mustRun(t, addr, "", "topics", "delete", "orders", "--if-exists")
	if out := mustRun(t, addr, "", "topics", "list"); strings.Contains(out, "orders") {
		t.Errorf("orders still listed after delete:\n%s", out)
	}
}

func TestTopicsAlterConfigs(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "1", "--config", "retention.ms=3600000")
	mustRun(t, addr, "", "topics", "alter", "orders", "--config", "cleanup.policy=compact", "--delete-config", "retention.ms")
	infos := describeJSON(t, addr, "orders")
	if c, ok := configValue(infos[0], "cleanup.policy"); !ok || c.Value != "compact" || c.Source != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("cleanup.policy after alter: %+v %v", c, ok)
	}
	if c, ok := configValue(infos[0], "retention.ms"); ok && c.Source == "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("retention.ms still overridden after --delete-config: %+v", c)
	}
	_, _, err := run(t, addr, "", "topics", "alter", "nope", "--config", "retention.ms=1")
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("altering a missing topic: %v", err)
	}
}

func TestUnreachableBroker(t *testing.T) {
	// Port 1 on loopback refuses connections.
	_, _, err := run(t, "127.0.0.1:1", "", "topics", "list")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "sluice broker") {
		t.Errorf("err = %v, want ErrUnreachable with a hint", err)
	}
}

func TestBrokersFromEnv(t *testing.T) {
	addr := startBroker(t)
	t.Setenv(EnvBrokers, addr)
	root := newTestRoot()
	root.SetArgs([]string{"topics", "list"})
	if err := root.Execute(); err != nil {
		t.Fatalf("topics list with %s=%s: %v", EnvBrokers, addr, err)
	}
}
