package broker_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// The kafkajs tests run the scripts in testdata/kafkajs (kafkajs 2.2.4, pinned
// in its package-lock.json; scripts/install-test-deps.sh runs npm ci there)
// with node against an in-process broker. Each script does what a kafkajs
// user does and prints one JSON line: facts (what each call returned) and
// errors (what a call threw). The expected values live here, so a broker
// that answers wrongly fails the Go test even when kafkajs itself is content.

// requireKafkaJS skips (or, with SLUICE_TEST_REQUIRE_CLIENTS, fails) when
// node or the installed kafkajs package is missing.
func requireKafkaJS(t *testing.T) {
	t.Helper()
	requireTool(t, "node", "--version")
	if err := exec.Command("node", "-e", "require('./testdata/kafkajs/node_modules/kafkajs')").Run(); err != nil {
		msg := fmt.Sprintf("kafkajs is not installed in testdata/kafkajs (%v); scripts/install-test-deps.sh runs npm ci there", err)
		if os.Getenv("SLUICE_TEST_REQUIRE_CLIENTS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// runKafkaJS runs script against b with topic and group names starting with
// prefix and returns its result. It fails the test when the script does not
// print its JSON line or dies (a fatal error or its own time limit).
func runKafkaJS(t *testing.T, b *brokertest.Broker, script, prefix string, args ...string) scriptResult {
	t.Helper()
	return runKafkaJSWith(t, b, nil, script, prefix, args...)
}

// runKafkaJSWith is runKafkaJS for a script that stops halfway: when it
// prints a line "restart", onRestart runs (restarting the broker on the same
// address) and the script is told to go on with a line on its stdin.
func runKafkaJSWith(t *testing.T, b *brokertest.Broker, onRestart func(), script, prefix string, args ...string) scriptResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script, b.Addr(), prefix}, args...)...)
	cmd.Dir = "testdata/kafkajs"
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		if sc.Text() == "restart" && onRestart != nil {
			onRestart()
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Errorf("node %s: telling it the broker is back: %v", script, err)
			}
			continue
		}
		out.Write(sc.Bytes())
	}
	scanErr := sc.Err()
	stdin.Close()
	err = cmd.Wait()
	if scanErr != nil {
		t.Fatalf("node %s: reading its output: %v", script, scanErr)
	}
	var res scriptResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("node %s: %v; stdout is not its JSON line (%v)\nstdout: %s\nstderr: %s", script, err, jerr, out.String(), errb.String())
	}
	if err != nil || res.Facts["fatal"] != nil || res.Errors["script"] != "" {
		t.Fatalf("node %s: %v\nfatal: %s\nerrors: %v\nstderr: %s", script, err, res.Facts["fatal"], res.Errors, errb.String())
	}
	if errb.Len() > 0 {
		t.Logf("kafkajs logged:\n%s", errb.String())
	}
	return res
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestKafkaJSAdmin(t *testing.T) {
	requireKafkaJS(t)
	t.Parallel()
	b := brokertest.Start(t)
	r := runKafkaJS(t, b, "admin.js", "kjs")

	r.expect(t, "createTopics", true)
	r.expect(t, "createTopicsAgain", false) // TOPIC_ALREADY_EXISTS, which kafkajs turns into false
	r.expect(t, "listTopics", []string{"kjs-a", "kjs-b"})
	type meta struct {
		Name       string `json:"name"`
		Partitions []int  `json:"partitions"`
		Leaders    []int  `json:"leaders"`
		Replicas   []int  `json:"replicas"`
		ISR        []int  `json:"isr"`
	}
	var ms []meta
	if r.fact(t, "fetchTopicMetadata", &ms) {
		sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
		want := []meta{{"kjs-a", []int{0, 1, 2}, []int{1}, []int{1, 1, 1}, []int{1, 1, 1}}, {"kjs-b", []int{0}, []int{1}, []int{1}, []int{1}}}
		if !reflect.DeepEqual(ms, want) {
			t.Errorf("fetchTopicMetadata: got %+v, want %+v", ms, want)
		}
	}
	r.expect(t, "createPartitions", true)
	r.expect(t, "metadataAfterCreatePartitions", []meta{{"kjs-a", []int{0, 1, 2, 3}, []int{1}, []int{1, 1, 1, 1}, []int{1, 1, 1, 1}}})
	r.expect(t, "describeConfigs", map[string]any{
		"errorCode": 0,
		"configs":   map[string]string{"cleanup.policy": "delete", "max.message.bytes": "200000", "retention.ms": "3600000"},
		"isDefault": map[string]bool{"cleanup.policy": true, "max.message.bytes": false, "retention.ms": false},
		// 1 = DYNAMIC_TOPIC_CONFIG, 5 = DEFAULT_CONFIG
		"source": map[string]int{"cleanup.policy": 5, "max.message.bytes": 1, "retention.ms": 1},
	})
	var all struct {
		Count             int      `json:"count"`
		HasSegmentBytes   bool     `json:"hasSegmentBytes"`
		RetentionSynonyms []string `json:"retentionSynonyms"`
	}
	if r.fact(t, "describeAllConfigs", &all) && (all.Count < 10 || !all.HasSegmentBytes || len(all.RetentionSynonyms) == 0 || all.RetentionSynonyms[0] != "retention.ms") {
		t.Errorf("describeAllConfigs: %+v, want every topic config and the synonyms of retention.ms starting with the topic's own", all)
	}
	r.expect(t, "alterConfigs", []map[string]any{{"errorCode": 0, "name": "kjs-a"}})
	// AlterConfigs replaces the whole config: max.message.bytes is back to its default.
	r.expect(t, "describeConfigsAfterAlter", map[string]any{
		"configs":   map[string]string{"max.message.bytes": "1048588", "retention.ms": "7200000"},
		"isDefault": map[string]bool{"max.message.bytes": true, "retention.ms": false},
	})
	r.expect(t, "produce", 4)
	type off struct {
		P      int    `json:"p"`
		High   string `json:"high,omitempty"`
		Low    string `json:"low,omitempty"`
		Offset string `json:"offset"`
	}
	offsets := func(high, low, offset [4]string) []off {
		var os []off
		for p := range 4 {
			os = append(os, off{p, high[p], low[p], offset[p]})
		}
		return os
	}
	r.expect(t, "fetchTopicOffsets", offsets([4]string{"10", "10", "10", "10"}, [4]string{"0", "0", "0", "0"}, [4]string{"10", "10", "10", "10"}))
	r.expect(t, "fetchTopicOffsetsByTimestamp", offsets([4]string{}, [4]string{}, [4]string{"5", "5", "5", "5"}))
	r.expect(t, "fetchTopicOffsetsByTimestampMiddle", offsets([4]string{}, [4]string{}, [4]string{"5", "5", "5", "5"}))
	r.expect(t, "fetchTopicOffsetsByTimestampFuture", offsets([4]string{}, [4]string{}, [4]string{"10", "10", "10", "10"}))
	// No record at or after the timestamp in an empty partition: Kafka
	// answers -1, which kafkajs turns into the end offset.
	r.expect(t, "fetchTopicOffsetsByTimestampEmpty", []off{{P: 0, Offset: "0"}})
	r.expect(t, "deleteTopicRecords", true)
	// Partition 0 deleted below 4, partition 1 below the high watermark (-1).
	r.expect(t, "offsetsAfterDeleteRecords", offsets([4]string{"10", "10", "10", "10"}, [4]string{"4", "10", "0", "0"}, [4]string{"10", "10", "10", "10"}))
	r.expect(t, "setOffsets", true)
	r.expect(t, "fetchOffsetsAfterSet", []any{map[string]any{"topic": "kjs-a", "offsets": []string{"5", "10", "7", "8"}}})
	// The consumer starts at the offsets set; partition 1 is at its end.
	r.expect(t, "consume", map[string]any{"first": []any{5, nil, 7, 8}, "last": []any{9, nil, 9, 9}})
	r.expect(t, "listGroups", []map[string]string{{"groupId": "kjs-g", "protocolType": "consumer"}})
	group := func(state, protocol, protocolType string, clientIDs []string, subscriptions [][]string, assignments []map[string][]int) []map[string]any {
		return []map[string]any{{"groupId": "kjs-g", "state": state, "protocolType": protocolType, "protocol": protocol,
			"members": len(clientIDs), "clientIds": clientIDs, "errorCode": 0, "subscriptions": subscriptions, "assignments": assignments}}
	}
	// The member's subscription and assignment bytes come back as the
	// kafkajs member and leader sent them.
	r.expect(t, "describeGroupsStable", group("Stable", "RoundRobinAssigner", "consumer", []string{"kjs"},
		[][]string{{"kjs-a"}}, []map[string][]int{{"kjs-a": {0, 1, 2, 3}}}))
	r.expect(t, "consumerDisconnect", true)
	r.expect(t, "describeGroupsEmpty", group("Empty", "", "consumer", []string{}, [][]string{}, []map[string][]int{}))
	r.expect(t, "fetchOffsets", []any{map[string]any{"topic": "kjs-a", "offsets": []string{"10", "10", "10", "10"}}})
	// A null topic list (kafkajs' default) asks for every topic with offsets.
	r.expect(t, "fetchOffsetsAllTopics", []any{map[string]any{"topic": "kjs-a", "offsets": []string{"10", "10", "10", "10"}}})
	r.expect(t, "resetOffsetsEarliest", true)
	// kafkajs commits the logical offset -2 (earliest) as it is.
	r.expect(t, "fetchOffsetsAfterReset", []any{map[string]any{"topic": "kjs-a", "offsets": []string{"-2", "-2", "-2", "-2"}}})
	r.expect(t, "deleteGroups", []map[string]any{{"groupId": "kjs-g", "errorCode": 0}})
	r.expect(t, "describeGroupsDeleted", group("Dead", "", "", []string{}, [][]string{}, []map[string][]int{}))
	r.expect(t, "listGroupsAfterDelete", []any{})
	r.expect(t, "fetchOffsetsAfterDelete", []any{map[string]any{"topic": "kjs-a", "offsets": []string{"-1", "-1", "-1", "-1"}}})
	r.expect(t, "deleteTopics", true)
	r.expect(t, "listTopicsAfterDelete", []string{"kjs-b"})
}

func TestKafkaJSProduce(t *testing.T) {
	requireKafkaJS(t)
	t.Parallel()
	b := brokertest.Start(t)
	r := runKafkaJS(t, b, "produce.js", "kjs")
	const n = 30
	r.expect(t, "createTopics", true)
	type meta struct {
		Topic string `json:"topic"`
		P     int    `json:"p"`
		Err   int    `json:"err"`
		Base  string `json:"base"`
	}
	r.expect(t, "send-none", []meta{{"kjs-p1", 0, 0, "0"}})
	r.expect(t, "send-gzip", []meta{{"kjs-p1", 0, 0, "30"}})
	batchMeta := func(p0, others int) []meta {
		var ms []meta
		for _, topic := range []string{"kjs-p1", "kjs-p2"} {
			for p := range 3 {
				base := others
				if topic == "kjs-p1" && p == 0 {
					base = p0
				}
				ms = append(ms, meta{topic, p, 0, fmt.Sprint(base)})
			}
		}
		return ms
	}
	r.expect(t, "sendBatch-none", batchMeta(2*n, 0))
	r.expect(t, "sendBatch-gzip", batchMeta(3*n, n))
	r.expect(t, "consume", 2*n+2*2*3*n)

	type partition struct {
		Count             int      `json:"count"`
		OffsetsContiguous bool     `json:"offsetsContiguous"`
		Values            []string `json:"values"`
		KeysOK            bool     `json:"keysOk"`
		HeadersOK         bool     `json:"headersOk"`
	}
	r.expect(t, "logAppendTime-none", true)
	r.expect(t, "logAppendTime-gzip", true)
	r.expect(t, "logAppendTimeRead", []bool{true, true, true, true})
	r.expect(t, "timestampFuture2h", "INVALID_TIMESTAMP")
	r.expect(t, "timestampPast10y", "ok")

	var got map[string]partition
	if !r.fact(t, "readBack", &got) {
		return
	}
	values := func(t, p int, codecs ...string) []string {
		var vs []string
		for _, c := range codecs {
			for i := range n {
				vs = append(vs, fmt.Sprintf("%s/%d/%d/%d", c, t, p, i))
			}
		}
		return vs
	}
	want := map[string][]string{}
	for ti := range 2 {
		for p := range 3 {
			codecs := []string{"none-batch", "gzip-batch"}
			if ti == 0 && p == 0 {
				codecs = append([]string{"none", "gzip"}, codecs...)
			}
			want[fmt.Sprintf("kjs-p%d/%d", ti+1, p)] = values(ti, p, codecs...)
		}
	}
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("read partitions %v, want %v", keys(got), keys(want))
	}
	for k, w := range want {
		g := got[k]
		if !reflect.DeepEqual(g.Values, w) || g.Count != len(w) {
			t.Errorf("%s: read %d values %q..., want %d in produce order", k, g.Count, g.Values[:min(3, len(g.Values))], len(w))
		}
		if !g.OffsetsContiguous || !g.KeysOK || !g.HeadersOK {
			t.Errorf("%s: offsets contiguous from 0 %v, keys %v, headers %v; want all true", k, g.OffsetsContiguous, g.KeysOK, g.HeadersOK)
		}
	}
}

// TestKafkaJSGroup: two kafkajs consumers split a 6-partition topic; when
// one leaves, the other resumes its partitions at its auto-committed
// offsets, losing and repeating nothing.
func TestKafkaJSGroup(t *testing.T) {
	requireKafkaJS(t)
	t.Parallel()
	const per = 50
	b := brokertest.Start(t)
	r := runKafkaJS(t, b, "group.js", "kjs", fmt.Sprint(per))
	r.expect(t, "createTopics", true)
	var split struct{ A, B []int }
	if r.fact(t, "split", &split) {
		all := append(append([]int{}, split.A...), split.B...)
		sort.Ints(all)
		if len(split.A) == 0 || len(split.B) == 0 || !reflect.DeepEqual(all, []int{0, 1, 2, 3, 4, 5}) {
			t.Errorf("split: A %v, B %v; want both non-empty, together each of the 6 partitions once", split.A, split.B)
		}
	}
	r.expect(t, "phase1", true)
	r.expect(t, "disconnectA", true)
	r.expect(t, "takeover", []int{0, 1, 2, 3, 4, 5})
	r.expect(t, "phase2", true)
	r.expect(t, "committed", []int{2 * per, 2 * per, 2 * per, 2 * per, 2 * per, 2 * per})

	var reads map[string][][3]any
	if !r.fact(t, "reads", &reads) {
		return
	}
	owner := map[int]string{}
	for _, p := range split.A {
		owner[p] = "A"
	}
	for _, p := range split.B {
		owner[p] = "B"
	}
	// Every record is read exactly once, in offset order per partition:
	// phase 1 by the owner of the partition, phase 2 by B.
	next := map[int]int{}
	for _, name := range []string{"A", "B"} {
		for _, rd := range reads[name] {
			p, o, v := int(rd[0].(float64)), int(rd[1].(float64)), rd[2].(string)
			phase := 1 + o/per
			if want := fmt.Sprintf("%d:%d:%d", phase, p, o%per); v != want {
				t.Fatalf("%s read %q at %d/%d, want %q", name, v, p, o, want)
			}
			if phase == 1 && owner[p] != name || phase == 2 && name != "B" {
				t.Errorf("%s read %d/%d (phase %d); partition %d was %s's", name, p, o, phase, p, owner[p])
			}
			if o != next[p] {
				t.Errorf("%s read %d/%d, want offset %d next (a gap is a lost record, a step back a repeat)", name, p, o, next[p])
			}
			next[p] = o + 1
		}
	}
	for p := range 6 {
		if next[p] != 2*per {
			t.Errorf("partition %d read up to %d, want %d", p, next[p], 2*per)
		}
	}
}

// TestKafkaJSTransactions: the idempotent producer and transactions
// (commit, abort, consume-transform-produce with sendOffsets), read back
// with readUncommitted false and true.
func TestKafkaJSTransactions(t *testing.T) {
	requireKafkaJS(t)
	t.Parallel()
	const n = 20
	b := brokertest.Start(t)
	r := runKafkaJS(t, b, "txn.js", "kjs")
	r.expect(t, "createTopics", true)
	r.expect(t, "idempotentSend", true)
	r.expect(t, "idempotentSendBatch", true)
	seq := func(format string, from, to int, args ...any) []string {
		var vs []string
		for i := from; i < to; i++ {
			vs = append(vs, fmt.Sprintf(format, append(args, i)...))
		}
		return vs
	}
	r.expect(t, "idempotentRead", map[string][]string{
		"kjs-idem/0": seq("0:%d", 0, 2*n), "kjs-idem/1": seq("1:%d", 0, 2*n), "kjs-idem/2": seq("2:%d", 0, 2*n),
	})
	r.expect(t, "txnCommit", true)
	r.expect(t, "txnAbort", true)
	r.expect(t, "txnCommit2", true)
	r.expect(t, "ctpInput", true)
	r.expect(t, "ctp", 1) // one aborted consume-transform-produce transaction
	// OffsetFetch during the first (later aborted) transaction: its pending
	// offsets are not committed ones.
	r.expect(t, "ctpPendingOffsets", []int{-1, -1})
	r.expect(t, "ctpOffsets", []int{n, n})
	txn := func(p int, tags ...string) []string {
		count := map[string]int{"c1": 5, "c1b": 2, "a1": 4, "c2": 3}
		var vs []string
		for _, tag := range tags {
			vs = append(vs, seq("%s:%d:%d", 0, count[tag], tag, p)...)
		}
		return vs
	}
	r.expect(t, "readCommitted", map[string][]string{
		"kjs-txn/0": txn(0, "c1", "c1b", "c2"), "kjs-txn/1": txn(1, "c1", "c1b", "c2"),
		"kjs-out/0": seq("IN:0:%d", 0, n), "kjs-out/1": seq("IN:1:%d", 0, n),
	})
	r.expect(t, "lso", map[string]any{
		"whileOpen":    []string{"before"},
		"endWhileOpen": "1",
		"afterCommit":  []string{"before", "open1", "open2", "after"},
	})
	// EndTxn v1 after the broker aborted the transaction on timeout (and
	// bumped the epoch): INVALID_PRODUCER_EPOCH, as PRODUCER_FENCED before v2.
	r.expect(t, "txnTimeout", map[string]any{"commit": "INVALID_PRODUCER_EPOCH", "read": []string{"before", "open1", "open2", "after", "after2"}})
	// read_uncommitted also returns the aborted records, as Kafka does.
	r.expect(t, "readUncommitted", map[string][]string{
		"kjs-txn/0": txn(0, "c1", "c1b", "a1", "c2"), "kjs-txn/1": txn(1, "c1", "c1b", "a1", "c2"),
	})
	if t.Failed() {
		t.Logf("errors: %v", strings.Join(keys(r.Errors), ", "))
	}
}

// TestKafkaJSErrors: the errors a kafkajs user gets for mistakes, fencing
// and edge cases are the ones Kafka gives (kafkajs names them by Kafka's
// error names).
func TestKafkaJSErrors(t *testing.T) {
	requireKafkaJS(t)
	t.Parallel()
	b := brokertest.Start(t)
	r := runKafkaJS(t, b, "errors.js", "kjs")
	for step, want := range map[string]any{
		"createTopics":                 true,
		"createReplicationFactor3":     "INVALID_REPLICATION_FACTOR",
		"createUnknownConfig":          "INVALID_CONFIG",
		"createBadConfigValue":         "INVALID_CONFIG",
		"createBadName":                "INVALID_TOPIC_EXCEPTION",
		"createZeroPartitions":         "INVALID_PARTITIONS",
		"createValidateOnly":           true,
		"listAfterFailedCreates":       []string{"kjs-t"}, // validateOnly created nothing
		"createPartitionsFewer":        "INVALID_PARTITIONS",
		"createPartitionsSame":         "INVALID_PARTITIONS",
		"createPartitionsUnknownTopic": "UNKNOWN_TOPIC_OR_PARTITION",
		"deleteUnknownTopic":           "UNKNOWN_TOPIC_OR_PARTITION",
		"describeConfigsUnknownTopic":  "UNKNOWN_TOPIC_OR_PARTITION",
		"alterUnknownConfig":           "INVALID_CONFIG",
		"createBadReplicaAssignment":   "INVALID_REPLICA_ASSIGNMENT", // broker 7 does not exist
		"createReplicaAssignment":      [][]int{{1}, {1}, {1}},
		"alterValidateOnly":            map[string]string{"retention.ms": "604800000", "max.message.bytes": "2000"},
		"minIsr":                       map[string]string{"acksAll": "NOT_ENOUGH_REPLICAS", "acks1": "ok"},
		"bigRecord":                    []int{1500000, 5},
		"compacted":                    map[string]any{"noKey": "INVALID_RECORD", "read": [][]any{{"k", "v"}, {"k", nil}}},
		"describeBrokerConfig":         map[string]string{"auto.create.topics.enable": "true", "num.partitions": "1"},
		"describeCluster":              map[string]any{"brokers": []string{"1@" + b.Addr()}, "controller": 1, "hasClusterId": true},
		"deleteRecordsBeyondEnd":       "OFFSET_OUT_OF_RANGE",
		"produceTooLarge":              "MESSAGE_TOO_LARGE",
		"produceAcks1":                 []map[string]any{{"err": 0, "base": "0"}},
		"produceAcks0":                 0, // no answer, no metadata
		"produceAutoCreate":            []map[string]any{{"err": 0, "base": "0"}},
		"autoCreatedMetadata":          []int{1},
		"offsetsAfterProduce":          []string{"2", "0", "2"}, // the acks=0 record is there too
		"deleteNonEmptyGroup":          "NON_EMPTY_GROUP",
		"deleteUnknownGroup":           "GROUP_ID_NOT_FOUND",
		"describeUnknownGroup":         []map[string]any{{"state": "Dead", "errorCode": 0}},
		"fenceOldSend":                 true,
		"fenceNewBegin":                true,
		// EndTxn v1 from the fenced producer: PRODUCER_FENCED is
		// INVALID_PRODUCER_EPOCH before v2 (KIP-588).
		"fencedCommit": "INVALID_PRODUCER_EPOCH",
		"fenceNewTxn":  true,
		// The fenced producer's open transaction was aborted.
		"fenceRead": []string{"new"},
	} {
		r.expect(t, step, want)
	}
	var small []string
	for i := range 5 {
		for j := range 3 {
			small = append(small, fmt.Sprintf("%d:%d", i, j))
		}
	}
	// maxBytesPerPartition 100 is smaller than each 3-record batch: the
	// broker still returns the first whole batch, so every record arrives.
	r.expect(t, "smallFetchLimit", small)

	// Produce from the fenced producer (old epoch, partition already in its
	// transaction): INVALID_PRODUCER_EPOCH, as Kafka maps its produce
	// verification's PRODUCER_FENCED (which kafkajs 2.2.4 does not know).
	r.expect(t, "fencedSend", "INVALID_PRODUCER_EPOCH")
	// Without an authorizer Kafka answers DescribeAcls SECURITY_DISABLED;
	// on one broker nothing is being reassigned.
	r.expect(t, "describeAcls", "SECURITY_DISABLED")
	r.expect(t, "listPartitionReassignments", "ok")
}

// TestKafkaJSConsumer: a long-poll fetch wakes on append, seek, a topic
// deleted and created again, and a group member killed with SIGKILL whose
// partitions the other member takes over after its session expires,
// resuming at its commits.
func TestKafkaJSConsumer(t *testing.T) {
	requireKafkaJS(t)
	t.Parallel()
	const per, sessionMs = 20, 2000
	// Kafka's group.min.session.timeout.ms is 6 s; a lower floor lets the
	// killed member expire in 2 s.
	b := brokertest.Start(t, brokertest.Property("group.min.session.timeout.ms", "1000"))
	r := runKafkaJS(t, b, "consumer.js", "kjs", fmt.Sprint(sessionMs))

	// The fetch waits up to 5 s; a broker that does not wake it on append
	// delivers the record about 5 s later.
	var lp struct {
		MaxLatencyMs int `json:"maxLatencyMs"`
	}
	if r.fact(t, "longPollWake", &lp) && lp.MaxLatencyMs > 2000 {
		t.Errorf("longPollWake: a record reached a caught-up consumer %d ms after its produce; the parked fetch should wake at once", lp.MaxLatencyMs)
	}
	r.expect(t, "seek", []int{2, 3, 4, 5, 6, 7, 8, 9})
	// The new topic has 2 empty-start partitions and none of the old records.
	r.expect(t, "recreate", map[string]any{"offsets": [][]string{{"0", "0"}, {"0", "1"}}, "got": []string{"1/0/new1"}})

	r.expect(t, "joinMidStream", map[string]any{"split": []int{3, 3}, "unique": 600, "repeats": 0})

	var split struct {
		Child []int `json:"child"`
		B     []int `json:"b"`
	}
	if !r.fact(t, "crashSplit", &split) {
		return
	}
	all := append(append([]int{}, split.Child...), split.B...)
	sort.Ints(all)
	if len(split.Child) == 0 || len(split.B) == 0 || !reflect.DeepEqual(all, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("crashSplit: child %v, B %v; want both non-empty, together each partition once", split.Child, split.B)
	}
	r.expect(t, "crashTakeover", map[string]any{"partitions": []int{0, 1, 2, 3, 4, 5}, "withinSessionTimeoutPlus5s": true})
	r.expect(t, "crashPhase2", true)

	childOwns := map[int]bool{}
	for _, p := range split.Child {
		childOwns[p] = true
	}
	next := map[int]int{}
	var childRead [][2]int
	if r.fact(t, "childRead", &childRead) {
		for _, rd := range childRead {
			p, o := rd[0], rd[1]
			if !childOwns[p] || o != next[p] {
				t.Errorf("killed member read %d/%d; it owned %v and should read its partitions in order (next %d)", p, o, split.Child, next[p])
			}
			next[p] = o + 1
		}
	}
	var bReads [][3]any
	if !r.fact(t, "crashReads", &bReads) {
		return
	}
	// B reads its own partitions from 0 and the killed member's from where
	// that member committed (per), never repeating or skipping one.
	bNext := map[int]int{}
	for p := range 6 {
		if childOwns[p] {
			bNext[p] = per
		}
	}
	for _, rd := range bReads {
		p, o, v := int(rd[0].(float64)), int(rd[1].(float64)), rd[2].(string)
		if want := fmt.Sprintf("%d:%d:%d", 1+o/per, p, o%per); v != want {
			t.Fatalf("B read %q at %d/%d, want %q", v, p, o, want)
		}
		if o != bNext[p] {
			t.Errorf("B read %d/%d, want offset %d next (below: a repeat of committed records; above: a loss)", p, o, bNext[p])
		}
		bNext[p] = o + 1
	}
	for p := range 6 {
		if bNext[p] != 2*per {
			t.Errorf("B read partition %d up to %d, want %d", p, bNext[p], 2*per)
		}
	}
}

// TestKafkaJSRestart: kafkajs clients carry on across a broker restart
// (clean stop, same data and address): records, the idempotent producer's
// sequence state, the transactional id and the group's offsets survive.
func TestKafkaJSRestart(t *testing.T) {
	requireKafkaJS(t)
	t.Parallel()
	const n = 10
	b := brokertest.Start(t)
	restarted := false
	r := runKafkaJSWith(t, b, func() { b, restarted = b.Restart(t), true }, "restart.js", "kjs")
	if !restarted {
		t.Fatal("the script never asked for the restart")
	}
	values := func(firstOffset, from, to int, txn string) []string {
		var vs []string
		for i := from; i < to; i++ {
			vs = append(vs, fmt.Sprintf("%d:i%d", firstOffset+i-from, i))
		}
		return append(vs, fmt.Sprintf("%d:%s", firstOffset+to-from, txn))
	}
	// i0..i9 at 0..9, t1 at 10 and its commit marker at 11.
	r.expect(t, "before", values(0, 0, n, "t1"))
	r.expect(t, "idempotentAfter", true)
	r.expect(t, "txnAfter", true)
	// kafkajs commits the offset after the last record it read (11), not
	// past the marker.
	r.expect(t, "committedAfter", []int{n + 1})
	// i10..i19 at 12..21, t2 at 22, its marker at 23.
	r.expect(t, "after", values(n+2, n, 2*n, "t2"))
	r.expect(t, "offsetsAfter", [][]string{{"0", fmt.Sprint(2*n + 4)}})
}
