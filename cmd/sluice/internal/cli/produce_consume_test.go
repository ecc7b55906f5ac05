package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/brokertest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCompileFormat(t *testing.T) {
	r := &kgo.Record{
		Topic: "t", Partition: 2, Offset: 7, Key: []byte("k"), Value: []byte("v"),
		Timestamp: time.UnixMilli(1700000000123),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}},
	}
	for tmpl, want := range map[string]string{
		`%v\n`:                   "v\n",
		`%T/%p@%o %k=%v [%h] %t`: "t/2@7 k=v [a=1,b=2] 1700000000123",
		`100%% %k\t%v\\`:         "100% k\tv\\",
	} {
		f, err := compileFormat(tmpl)
		if err != nil {
			t.Fatalf("compileFormat(%q): %v", tmpl, err)
		}
		if got := string(f.appendRecord(nil, r)); got != want {
			t.Errorf("format %q = %q, want %q", tmpl, got, want)
		}
	}
	f, _ := compileFormat("%k|%v")
	if got := string(f.appendRecord(nil, &kgo.Record{})); got != "null|null" {
		t.Errorf("null key and value = %q", got)
	}
	for _, bad := range []string{"%x", "%", `\`, `\q`} {
		if _, err := compileFormat(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("compileFormat(%q) = %v, want ErrFormat", bad, err)
		}
	}
}

func TestProduceConsumeKeysHeadersFormat(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topics", "create", "events", "--partitions", "3")
	in := "user1:login\nuser2:logout\r\nuser1:buy:2\n"
	_, errOut, err := run(t, addr, in, "produce", "events", "--key-separator", ":", "--header", "src=cli", "-H", "v=1")
	if err != nil || !strings.Contains(errOut, "Produced 3 records") {
		t.Fatalf("produce: %v, stderr %q", err, errOut)
	}
	out := mustRun(t, addr, "", "consume", "events", "--from-beginning", "--max-messages", "3", "--timeout", "10s",
		"--format", `%T %p %k=%v [%h]\n`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("consumed %d lines:\n%s", len(lines), out)
	}
	parts := map[string]string{} // key -> partition; equal keys must share a partition
	seen := map[string]bool{}
	for _, l := range lines {
		var topic, part, kv, hdr string
		if _, err := fmt.Sscanf(l, "%s %s %s %s", &topic, &part, &kv, &hdr); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		k, _, _ := strings.Cut(kv, "=")
		if p, ok := parts[k]; ok && p != part {
			t.Errorf("key %s in partitions %s and %s", k, p, part)
		}
		parts[k] = part
		seen[kv] = true
		if topic != "events" || hdr != "[src=cli,v=1]" {
			t.Errorf("line %q", l)
		}
	}
	for _, want := range []string{"user1=login", "user2=logout", "user1=buy:2"} {
		if !seen[want] {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}

	_, _, err = run(t, addr, "no separator here\n", "produce", "events", "--key-separator", ":")
	if err == nil || !strings.Contains(err.Error(), "no key separator") {
		t.Errorf("line without separator: %v", err)
	}
}

func TestProduceConsumeCompression(t *testing.T) {
	addr := startBroker(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "c-" + codec
			mustRun(t, addr, "", "topics", "create", topic, "-p", "1")
			var in strings.Builder
			for i := range 200 {
				fmt.Fprintf(&in, "%s record %d %s\n", codec, i, strings.Repeat("x", i))
			}
			mustRun(t, addr, in.String(), "produce", topic, "--compression", codec)
			out := mustRun(t, addr, "", "consume", topic, "--from-beginning", "-n", "200", "--timeout", "10s")
			if out != in.String() {
				t.Errorf("round trip with %s differs: got %d bytes, want %d", codec, len(out), in.Len())
			}
		})
	}
	if _, _, err := run(t, addr, "x\n", "produce", "c-none", "--compression", "brotli"); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown codec: %v", err)
	}
}

func TestPartitionAndOffset(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topics", "create", "p", "--partitions", "3")
	mustRun(t, addr, "a\nb\nc\nd\ne\n", "produce", "p", "--partition", "1", "--acks", "1")
	mustRun(t, addr, "other\n", "produce", "p", "--partition", "2", "--acks", "0")

	out := mustRun(t, addr, "", "consume", "p", "--partition", "1", "--offset", "2", "-n", "3", "--timeout", "10s", "--format", `%p:%o:%v\n`)
	if out != "1:2:c\n1:3:d\n1:4:e\n" {
		t.Errorf("--partition 1 --offset 2 gave\n%s", out)
	}
	out = mustRun(t, addr, "", "consume", "p", "--partition", "0,2", "--offset", "earliest", "--timeout", "1s", "--format", `%p:%v\n`)
	if out != "2:other\n" {
		t.Errorf("--partition 0,2 gave\n%s", out)
	}
	// A numeric --offset without --partition applies to every partition.
	out = mustRun(t, addr, "", "consume", "p", "--offset", "4", "--timeout", "1s", "--format", `%p:%v\n`)
	if out != "1:e\n" {
		t.Errorf("--offset 4 gave\n%s", out)
	}
	// --timeout ends an idle consumer that starts at the end.
	_, errOut, err := run(t, addr, "", "consume", "p", "--timeout", "300ms")
	if err != nil || !strings.Contains(errOut, "Processed a total of 0 messages") {
		t.Errorf("idle consume: %v %q", err, errOut)
	}
	if _, _, err := run(t, addr, "", "consume", "p", "--partition", "7"); !errors.Is(err, ErrUsage) {
		t.Errorf("missing partition: %v", err)
	}
	// read_committed is accepted (no transactions here to hide); a made-up
	// level is a usage error.
	if out := mustRun(t, addr, "", "consume", "p", "--partition", "2", "--offset", "0", "--isolation", "read_committed", "-n", "1", "--timeout", "10s"); out != "other\n" {
		t.Errorf("read_committed gave %q", out)
	}
	if _, _, err := run(t, addr, "", "consume", "p", "--isolation", "serializable"); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown isolation: %v", err)
	}
	if _, _, err := run(t, addr, "", "consume", "p", "--group", "g", "--offset", "1"); !errors.Is(err, ErrUsage) {
		t.Errorf("--group with --offset: %v", err)
	}
	if _, _, err := run(t, addr, "", "consume", "nope"); !errors.Is(err, kerr.UnknownTopicOrPartition) || !strings.Contains(err.Error(), "sluice topics create") {
		t.Errorf("consuming a missing topic: %v", err)
	}
}

func TestGroupResume(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topics", "create", "g", "--partitions", "2")
	var in strings.Builder
	for i := range 10 {
		fmt.Fprintf(&in, "m%d\n", i)
	}
	mustRun(t, addr, in.String(), "produce", "g")

	got := map[string]int{}
	collect := func(out string) int {
		n := 0
		for _, l := range strings.Fields(out) {
			got[l]++
			n++
		}
		return n
	}
	if n := collect(mustRun(t, addr, "", "consume", "g", "--group", "grp", "--from-beginning", "-n", "4", "--timeout", "10s")); n != 4 {
		t.Fatalf("first run printed %d records, want 4", n)
	}
	if n := collect(mustRun(t, addr, "", "consume", "g", "--group", "grp", "--from-beginning", "-n", "6", "--timeout", "10s")); n != 6 {
		t.Fatalf("second run printed %d records, want 6", n)
	}
	if n := collect(mustRun(t, addr, "", "consume", "g", "--group", "grp", "--from-beginning", "--timeout", "1s")); n != 0 {
		t.Errorf("third run printed %d records, want 0 (all committed)", n)
	}
	for i := range 10 {
		if c := got[fmt.Sprintf("m%d", i)]; c != 1 {
			t.Errorf("m%d printed %d times across the runs, want once", i, c)
		}
	}
}

func TestProduceUnknownTopic(t *testing.T) {
	addr := startBroker(t, brokertest.Property("auto.create.topics.enable", "false"))
	_, _, err := run(t, addr, "x\n", "produce", "missing")
	if !errors.Is(err, ErrProduce) || !errors.Is(err, kerr.UnknownTopicOrPartition) || !strings.Contains(err.Error(), "sluice topics create missing") {
		t.Errorf("produce to a missing topic: %v", err)
	}
}

func TestProducePartitionOutOfRange(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topics", "create", "one", "--partitions", "1")
	_, _, err := run(t, addr, "x\n", "produce", "one", "--partition", "9")
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "partitions 0-0") {
		t.Errorf("--partition 9 of 1: %v", err)
	}
}
