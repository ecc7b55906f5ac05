package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config-reference.md from the config table")

const referencePath = "../../../docs/config-reference.md"

// reference renders the whole reference document.
func reference(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`# Sluice configuration reference

<!-- Generated from broker/internal/config; do not edit. Regenerate with
     go test ./broker/internal/config -run TestReference -update -->

Sluice uses Apache Kafka's property names and semantics. Broker configs come
from a properties file (` + "`--config`" + `), ` + "`SLUICE_*`" + ` environment variables
(` + "`SLUICE_LOG_DIRS`" + ` sets ` + "`log.dirs`" + `) and ` + "`--set key=value`" + `, later ones
winning. Unknown keys are an error. Topic configs are set per topic
(CreateTopics, AlterConfigs) and otherwise fall back to their broker synonyms,
the first one set winning, then to the default.

## Broker configs

`)
	if err := WriteReference(&b, false); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n## Topic configs\n\n")
	if err := WriteReference(&b, true); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReference(t *testing.T) {
	want := reference(t)
	if *update {
		if err := os.MkdirAll(filepath.Dir(referencePath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(referencePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with the config table; run go test ./broker/internal/config -run TestReference -update", referencePath)
	}
}

func TestWriteReference(t *testing.T) {
	var b strings.Builder
	if err := WriteReference(&b, true); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| `retention.ms` | LONG | `604800000` | [-1,...] | log.retention.ms, log.retention.minutes, log.retention.hours |",
		"| `cleanup.policy` | LIST | `delete` | [delete, compact] |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("topic reference lacks %q", want)
		}
	}
	if n := strings.Count(out, "\n"); n != len(TopicDefs())+2 {
		t.Errorf("%d lines for %d topic defs", n, len(TopicDefs()))
	}
	b.Reset()
	if err := WriteReference(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `listeners` | STRING | `PLAINTEXT://127.0.0.1:9092` |",
		"Sluice's default differs from Kafka's (PLAINTEXT://:9092)",
		"| `log.retention.ms` | LONG | (none) |",
		"| per-broker |",
		"| `controller.quorum.voters` | LIST | \"\" |",
	} {
		if !strings.Contains(out+b.String(), want) {
			t.Errorf("broker reference lacks %q", want)
		}
	}
}
