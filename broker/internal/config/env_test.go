package config

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	got, err := FromEnv([]string{
		"PATH=/usr/bin",
		"SLUICE_LOG_DIRS=/data",
		"SLUICE_BROKERS=localhost:9092",      // the CLI's, skipped
		"SLUICE_TEST_LOG=1",                  // brokertest's, skipped
		"SLUICE_LISTENERS=PLAINTEXT://:9092", // value may hold = and :
		"SLUICE_NUM_PARTITIONS=3",
		"SLUICE_num_partitions=4", // lower case works too; later wins
		"SLUICE_ADVERTISED_LISTENERS=A=B",
		"KAFKA_LOG_DIRS=/ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"log.dirs": "/data", "listeners": "PLAINTEXT://:9092", "num.partitions": "4", "advertised.listeners": "A=B"}
	if !maps.Equal(got, want) {
		t.Errorf("FromEnv = %v, want %v", got, want)
	}

	for _, tc := range []struct{ env, want string }{
		{"SLUICE_LOG_DIRZ=/x", "did you mean SLUICE_LOG_DIR"},
		{"SLUICE_RETENTION_MS=1", "SLUICE_RETENTION_MS"}, // a topic config, not a broker one
		{"SLUICE_=1", "SLUICE_"},
	} {
		_, err := FromEnv([]string{tc.env})
		var ke *KeyError
		if !errors.Is(err, ErrUnknownKey) || !errors.As(err, &ke) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), strings.SplitN(tc.env, "=", 2)[0]) {
			t.Errorf("FromEnv(%s) = %v; want an unknown-key error naming the variable and %s", tc.env, err, tc.want)
		}
	}
}

func TestMerge(t *testing.T) {
	file := map[string]string{"a": "file", "b": "file", "c": "file"}
	env := map[string]string{"b": "env", "c": "env"}
	set := map[string]string{"c": "set"}
	got := Merge(file, nil, env, set)
	if want := map[string]string{"a": "file", "b": "env", "c": "set"}; !maps.Equal(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
	if file["b"] != "file" {
		t.Error("Merge changed its input")
	}
	if m := Merge(); m == nil || len(m) != 0 {
		t.Errorf("Merge() = %v", m)
	}
}
