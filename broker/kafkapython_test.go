package broker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// The kafka-python tests run testdata/kafka_python.py (Debian's python3-kafka
// 2.0.2, a pure-Python client with its own protocol code) against an
// in-process broker. The script prints one JSON line of facts (what each call
// returned) and errors (what a call raised); the expected values live here.

// requireKafkaPython skips (or, with SLUICE_TEST_REQUIRE_CLIENTS, fails) when
// /usr/bin/python3 cannot import kafka.
func requireKafkaPython(t *testing.T) {
	t.Helper()
	requireTool(t, "/usr/bin/python3", "-c", "import kafka")
}

// runKafkaPython runs the script's command against b, with names starting
// with prefix and api the api_version ("auto" lets kafka-python probe).
func runKafkaPython(t *testing.T, b *brokertest.Broker, command, prefix, api string) scriptResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/kafka_python.py", b.Addr(), prefix, command, api)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var res scriptResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("kafka_python.py %s: %v; stdout is not its JSON line (%v)\nstdout: %s\nstderr: %s", command, err, jerr, out.String(), errb.String())
	}
	if err != nil || res.Errors["script"] != "" {
		t.Fatalf("kafka_python.py %s: %v\nerrors: %v\nstderr: %s", command, err, res.Errors, errb.String())
	}
	t.Logf("kafka_python.py %s %s: %s", command, api, out.String())
	return res
}

// kafkaPythonAPIs are the api_version settings each test runs with: "auto"
// lets kafka-python 2.0.2 probe ApiVersions (it infers Kafka 2.5.0 at most),
// the others force the request versions of older releases.
var kafkaPythonAPIs = []struct{ name, arg, detected string }{
	{"auto", "auto", "2.5.0"},
	{"1.0", "1.0", "1.0"},
	// (0, 11, 0), not (0, 11): kafka-python compares tuples, and
	// (0, 11) < (0, 11, 0) makes it send Fetch v3, below the broker's
	// Fetch v4 floor (Kafka 4.0's too, KIP-896), which closes the
	// connection; kafka-python then retries for ever.
	{"0.11", "0.11.0", "0.11.0"},
	{"0.11-fetch-v3", "0.11", "0.11"},
}

// kafkaPythonSkip says why an api_version setting cannot pass.
func kafkaPythonSkip(t *testing.T, api string) {
	t.Helper()
	if api == "0.11" {
		t.Skip("api_version=(0, 11) sends Fetch v3; the broker, like Kafka 4.0, supports Fetch v4 and later and closes the connection (see kafkaPythonAPIs)")
	}
}

// TestKafkaPythonClients produces with acks=all, keys, headers and every
// codec the Debian python libraries provide, then reads it back with an
// assigned consumer: order per partition, seek, beginning and end offsets and
// offsets_for_times.
func TestKafkaPythonClients(t *testing.T) {
	requireKafkaPython(t)
	t.Parallel()
	for _, api := range kafkaPythonAPIs {
		t.Run(api.name, func(t *testing.T) {
			kafkaPythonSkip(t, api.arg)
			t.Parallel()
			b := brokertest.Start(t)
			r := runKafkaPython(t, b, "clients", "kp", api.arg)
			r.expect(t, "apiVersion", api.detected)
			r.expect(t, "producerApiVersion", api.detected)
			var have map[string]bool
			if r.fact(t, "codecs", &have) {
				for _, c := range []string{"gzip", "snappy", "lz4", "zstd"} {
					if !have[c] {
						// make test installs the codec packages; a plain go
						// test on a machine without them tests what it has.
						logf := t.Logf
						if os.Getenv("SLUICE_TEST_REQUIRE_CLIENTS") != "" {
							logf = t.Errorf
						}
						logf("kafka-python has no %s codec here (Debian's python3-%s is missing; scripts/install-test-deps.sh installs it)", c, map[string]string{"gzip": "stdlib", "snappy": "snappy", "lz4": "lz4", "zstd": "zstandard"}[c])
					}
				}
			}
			var codecs []string
			if !r.fact(t, "tested", &codecs) {
				return
			}
			r.expect(t, "createTopics", make([]int, len(codecs)))
			for _, codec := range codecs {
				// 30 records to partition i%3 at BASE_TS+i s, then one
				// keyed record that murmur2 puts on partition 1.
				var produced [][2]int
				records := map[string][]string{}
				for i := range 30 {
					p := i % 3
					produced = append(produced, [2]int{p, i / 3})
					records[fmt.Sprint(p)] = append(records[fmt.Sprint(p)],
						fmt.Sprintf("%d k%d %s-%d %d h=v%d,n=", i/3, i, codec, i, kafkaPythonBaseTS+int64(i)*1000, i))
				}
				produced = append(produced, [2]int{1, 10})
				records["1"] = append(records["1"], "10 keyed keyed -1 ")
				r.expect(t, "produce."+codec, produced)
				want := map[string]any{
					"beginning": map[string]int{"0": 0, "1": 0, "2": 0},
					"end":       map[string]int{"0": 10, "1": 11, "2": 10},
					"forTimes":  map[string]any{"0": []int64{2, kafkaPythonBaseTS + 6000}, "1": nil},
					"records":   records,
					"afterSeek": []string{fmt.Sprintf("5 %s-15", codec)},
				}
				if codec == "zstd" {
					// kafka-python 2.0.2 limit, not the broker's: it fetches
					// with Fetch v4 at most, and Kafka (and Sluice) answer
					// zstd data below Fetch v10 with UNSUPPORTED_COMPRESSION_TYPE
					// (76), a code 2.0.2 does not know.
					want["records"] = map[string][]string{"0": {}, "1": {}, "2": {}}
					want["warnings"] = []string{"Unknown error fetching data"}
					for _, k := range []string{"afterSeek", "beginning", "end", "forTimes"} {
						delete(want, k)
					}
				}
				r.expect(t, "consume."+codec, want)
			}
		})
	}
}

// kafkaPythonBaseTS is the timestamp of the script's first record (BASE_TS).
const kafkaPythonBaseTS int64 = 1600000000000

// TestKafkaPythonGroup runs two consumers of one group in one python process
// over a 4-partition topic: they split it 2 and 2, each reads only its own
// partitions, then one closes and the other takes every partition over from
// the commits, losing nothing.
func TestKafkaPythonGroup(t *testing.T) {
	requireKafkaPython(t)
	t.Parallel()
	for _, api := range []string{"auto", "0.11.0"} {
		t.Run(api, func(t *testing.T) {
			kafkaPythonSkip(t, api)
			t.Parallel()
			b := brokertest.Start(t)
			r := runKafkaPython(t, b, "group", "kpg", api)
			r.expect(t, "createTopic", []int{0})
			r.expect(t, "split", map[string]any{"sizes": []int{2, 2}, "union": []int{0, 1, 2, 3}, "secondRound": []int{40, 40}, "ownPartitionsOnly": true})
			var tk struct {
				Assignment     []int `json:"assignment"`
				Distinct       int   `json:"distinct"`
				Lost           []int `json:"lost"`
				Duplicates     int   `json:"duplicates"`
				CommitFailures int   `json:"commitFailures"`
			}
			if r.fact(t, "takeover", &tk) {
				if !reflect.DeepEqual(tk.Assignment, []int{0, 1, 2, 3}) || tk.Distinct != 200 || len(tk.Lost) != 0 {
					t.Errorf("takeover: %+v, want the survivor on [0 1 2 3] with all 200 records and none lost", tk)
				}
				// Every poll's records are committed before the next poll,
				// so a duplicate means a commit the broker lost.
				if tk.Duplicates != 0 || tk.CommitFailures != 0 {
					t.Errorf("takeover: %d records read twice, %d commits failed; want none", tk.Duplicates, tk.CommitFailures)
				}
			}
			r.expect(t, "committed", map[string]int{"0": 50, "1": 50, "2": 50, "3": 50})
			for _, k := range keys(r.Errors) {
				t.Errorf("%s: %s", k, r.Errors[k])
			}
		})
	}
}

// TestKafkaPythonAdmin runs every KafkaAdminClient call 2.0.2 has.
func TestKafkaPythonAdmin(t *testing.T) {
	requireKafkaPython(t)
	t.Parallel()
	b := brokertest.Start(t)
	r := runKafkaPython(t, b, "admin", "kpa", "auto")
	r.expect(t, "apiVersion", "2.5.0")
	r.expect(t, "createTopics", map[string]int{"kpa-a": 0, "kpa-b": 0})
	r.expect(t, "createValidateOnly", map[string]int{"kpa-v": 0})
	if e := r.Errors["createAgain"]; !strings.HasPrefix(e, "TopicAlreadyExistsError: [Error 36]") {
		t.Errorf("createAgain: raised %q, want TopicAlreadyExistsError (36)", e)
	}
	r.expect(t, "listTopics", []string{"kpa-a", "kpa-b"})
	one := []any{1, []int{1}, []int{1}}
	part := func(p int) []any { return append([]any{p}, one...) }
	r.expect(t, "describeTopics", map[string]any{
		"kpa-a": map[string]any{"error": 0, "partitions": [][]any{part(0), part(1), part(2)}},
		"kpa-b": map[string]any{"error": 0, "partitions": [][]any{part(0)}},
	})
	_, portStr, _ := strings.Cut(b.Addr(), ":")
	port, _ := strconv.Atoi(portStr)
	r.expect(t, "describeCluster", map[string]any{
		"controller_id": 1,
		"brokers":       []map[string]any{{"host": "127.0.0.1", "node_id": 1, "port": port, "rack": nil}},
	})
	// [value, config_source]: 1 = DYNAMIC_TOPIC_CONFIG, 5 = DEFAULT_CONFIG.
	r.expect(t, "describeConfigs", map[string]any{"error": 0,
		"cleanup.policy": []any{"delete", 5}, "max.message.bytes": []any{"200000", 1}, "retention.ms": []any{"3600000", 1}})
	var bc struct {
		Error         int      `json:"error"`
		Count         int      `json:"count"`
		NumPartitions []string `json:"num.partitions"`
	}
	if r.fact(t, "describeBrokerConfigs", &bc) && (bc.Error != 0 || bc.Count < 20 || !reflect.DeepEqual(bc.NumPartitions, []string{"1"})) {
		t.Errorf("describeBrokerConfigs: %+v, want every broker config with num.partitions=1", bc)
	}
	r.expect(t, "alterConfigs", [][]any{{0, nil}})
	// AlterConfigs (not incremental) replaces the topic's whole config:
	// max.message.bytes, not named, goes back to its default.
	r.expect(t, "describeConfigsAfterAlter", map[string]any{"error": 0,
		"cleanup.policy": []any{"delete", 5}, "max.message.bytes": []any{"1048588", 5}, "retention.ms": []any{"7200000", 1}})
	r.expect(t, "createPartitions", map[string]int{"kpa-a": 0})
	r.expect(t, "partitionsAfterCreate", []int{5})
	r.expect(t, "commitOffsets", true)
	// A group that only committed offsets has no protocol type; Kafka
	// lists it with "".
	r.expect(t, "listConsumerGroups", [][]string{{"kpa-grp", ""}})
	r.expect(t, "describeConsumerGroups", []map[string]any{{"error": 0, "group": "kpa-grp", "state": "Empty", "protocol_type": "", "members": 0}})
	r.expect(t, "listConsumerGroupOffsets", map[string][]any{"kpa-a/0": {7, "meta-0"}, "kpa-a/1": {3, ""}})
	r.expect(t, "deleteConsumerGroups", [][]string{{"kpa-grp", "NoError"}})
	r.expect(t, "listGroupsAfterDelete", []string{})
	r.expect(t, "deleteTopics", [][]any{{"kpa-a", 0}, {"kpa-b", 0}})
	r.expect(t, "listTopicsAfterDelete", []string{})
	for _, k := range keys(r.Errors) {
		if k != "createAgain" {
			t.Errorf("%s: %s", k, r.Errors[k])
		}
	}
}
