package cli

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// murmur2 is Java Kafka's Utils.murmur2, written from its definition so the
// test checks kgo's partitioner against Java's rather than against itself.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func TestMurmur2MatchesJava(t *testing.T) {
	// Vectors from Kafka's UtilsTest.testMurmur2.
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := murmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestKeyedRecordsUseJavaPartitions(t *testing.T) {
	addr := startBroker(t)
	const parts = 7
	mustRun(t, addr, "", "topics", "create", "keyed", "--partitions", strconv.Itoa(parts))
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "key-%d|v\n", i)
	}
	mustRun(t, addr, in.String(), "produce", "keyed", "--key-separator", "|")
	out := mustRun(t, addr, "", "consume", "keyed", "--from-beginning", "-n", "50", "--timeout", "10s", "--format", `%k %p\n`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 50 {
		t.Fatalf("consumed %d records, want 50", len(lines))
	}
	for _, l := range lines {
		key, p, _ := strings.Cut(l, " ")
		want := (murmur2([]byte(key)) & 0x7fffffff) % parts
		if p != strconv.Itoa(int(want)) {
			t.Errorf("key %s in partition %s, Java puts it in %d", key, p, want)
		}
	}
}
