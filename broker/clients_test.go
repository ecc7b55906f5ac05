package broker_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// requireTool skips when a real client is not installed, unless the run
// demands real clients (make test sets SLUICE_TEST_REQUIRE_CLIENTS=1 after
// installing them), where a missing one fails.
func requireTool(t *testing.T, path string, check ...string) {
	t.Helper()
	cmd := exec.Command(path, check...)
	if err := cmd.Run(); err != nil {
		if os.Getenv("SLUICE_TEST_REQUIRE_CLIENTS") != "" {
			t.Fatalf("%s %v: %v (scripts/install-test-deps.sh installs it)", path, check, err)
		}
		t.Skipf("%s not available: %v (make test installs it)", path, err)
	}
}

func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func TestKcat(t *testing.T) {
	requireTool(t, "kcat", "-V")
	b := brokertest.Start(t, brokertest.Property("num.partitions", "3"))

	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			var in strings.Builder
			var want []string
			for i := range 300 {
				fmt.Fprintf(&in, "k%d:%s-%d\n", i%7, codec, i)
				want = append(want, fmt.Sprintf("k%d=%s-%d", i%7, codec, i))
			}
			// Metadata auto-creates the topic, as kcat users expect.
			run(t, in.String(), "kcat", "-b", b.Addr(), "-P", "-t", topic, "-K", ":", "-z", codec, "-X", "acks=all")
			out := run(t, "", "kcat", "-b", b.Addr(), "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s\n")
			got := strings.Split(strings.TrimSpace(out), "\n")
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("kcat read %d records, want %d; first: %q", len(got), len(want), got[:min(3, len(got))])
			}
		})
	}

	out := run(t, "", "kcat", "-b", b.Addr(), "-L")
	if !strings.Contains(out, "1 brokers:") || !strings.Contains(out, `topic "kcat-zstd" with 3 partitions`) {
		t.Fatalf("kcat -L:\n%s", out)
	}
}

func TestConfluentKafkaPython(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "-c", "import confluent_kafka")
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	createTopic(t, kadmClient(cl), "py", 4, nil)
	out := run(t, "", "/usr/bin/python3", "testdata/confluent_roundtrip.py", b.Addr(), "py", "4", "2000")
	if strings.TrimSpace(out) != "ok 2000" {
		t.Fatalf("python: %s", out)
	}
}

// TestConfluentKafkaGroup runs two librdkafka consumers in one group over a
// 6-partition topic; one leaves and the other must take every partition
// over from the committed offsets (see testdata/confluent_group.py).
func TestConfluentKafkaGroup(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "-c", "import confluent_kafka")
	b := brokertest.Start(t)
	cl := client(t, b.Addr())
	createTopic(t, kadmClient(cl), "pygroup", 6, nil)
	out := run(t, "", "/usr/bin/python3", "testdata/confluent_group.py", b.Addr(), "pygroup", "py-group", "100")
	if !strings.HasPrefix(out, "ok ") {
		t.Fatalf("python: %s", out)
	}
	t.Log(strings.TrimSpace(out))
}
