package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startGroupsBroker starts the broker the groups tests run against: the
// Sluice broker in process.
func startGroupsBroker(t *testing.T) string {
	t.Helper()
	return startBroker(t)
}

// tsBase is the timestamp of offset 0 in every partition the tests
// produce; offset o has tsBase + o seconds, so --to-datetime has a known
// answer.
var tsBase = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

// produceRange writes records with offsets from..to-1 to every partition
// of topic (which must be empty below from), one batch per record so
// that timestamp lookups resolve to single records.
func produceRange(t *testing.T, addr, topic string, partitions int32, from, to int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for o := from; o < to; o++ {
		for p := range partitions {
			r := &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "v%d", o), Timestamp: tsBase.Add(time.Duration(o) * time.Second)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("producing: %v", err)
			}
		}
	}
}

// consumeAndCommit joins group with a kgo group consumer, reads n records
// of topic, commits them and returns the still-joined client.
func consumeAndCommit(t *testing.T, addr, group, topic string, n int) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ClientID("billing-consumer"), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(t2 string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", t2, p, err) })
		got += fs.NumRecords()
	}
	if got != n {
		t.Fatalf("consumed %d records, want %d", got, n)
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("committing: %v", err)
	}
	return cl
}

func describeGroupJSON(t *testing.T, addr, group string) groupDescription {
	t.Helper()
	out := mustRun(t, addr, "", "groups", "describe", group, "-o", "json")
	var ds []groupDescription
	if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) != 1 {
		t.Fatalf("describe json: %v %d\n%s", err, len(ds), out)
	}
	return ds[0]
}

// committed returns the group's committed offset per partition of topic.
func committed(t *testing.T, addr, group, topic string) map[int32]int64 {
	t.Helper()
	m := map[int32]int64{}
	for _, r := range describeGroupJSON(t, addr, group).Offsets {
		if r.Topic == topic && r.Committed != nil {
			m[r.Partition] = *r.Committed
		}
	}
	return m
}

func resetJSON(t *testing.T, addr string, args ...string) resetPlan {
	t.Helper()
	out := mustRun(t, addr, "", append([]string{"groups", "reset-offsets", "-o", "json"}, args...)...)
	var p resetPlan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("reset json: %v\n%s", err, out)
	}
	return p
}

// newOffsets returns a plan's new offset per partition.
func newOffsets(p resetPlan) map[int32]int64 {
	m := map[int32]int64{}
	for _, r := range p.Offsets {
		m[r.Partition] = r.New
	}
	return m
}

func listGroupsJSON(t *testing.T, addr string, args ...string) []listedGroup {
	t.Helper()
	out := mustRun(t, addr, "", append([]string{"groups", "list", "-o", "json"}, args...)...)
	var gs []listedGroup
	if err := json.Unmarshal([]byte(out), &gs); err != nil {
		t.Fatalf("list json: %v\n%s", err, out)
	}
	return gs
}

func hasGroup(gs []listedGroup, name string) bool {
	return slices.ContainsFunc(gs, func(g listedGroup) bool { return g.Group == name })
}

func TestGroupsDescribeLagAndActiveRefusals(t *testing.T) {
	addr := startGroupsBroker(t)
	mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "3")
	produceRange(t, addr, "orders", 3, 0, 10)
	cl := consumeAndCommit(t, addr, "billing", "orders", 30)
	produceRange(t, addr, "orders", 3, 10, 15)

	gs := listGroupsJSON(t, addr)
	if i := slices.IndexFunc(gs, func(g listedGroup) bool { return g.Group == "billing" }); i < 0 || gs[i].State != "Stable" || gs[i].ProtocolType != "consumer" {
		t.Errorf("groups list: %+v, want billing Stable consumer", gs)
	}
	if gs := listGroupsJSON(t, addr, "--state", "empty,dead"); hasGroup(gs, "billing") {
		t.Errorf("--state empty,dead lists the stable group: %+v", gs)
	}
	if gs := listGroupsJSON(t, addr, "--state", "Stable"); !hasGroup(gs, "billing") {
		t.Errorf("--state Stable does not list billing: %+v", gs)
	}
	if out := mustRun(t, addr, "", "groups", "list"); !strings.Contains(out, "GROUP") || !strings.Contains(out, "billing") {
		t.Errorf("list table:\n%s", out)
	}
	if _, _, err := run(t, addr, "", "groups", "list", "--state", "Sleepy"); !errors.Is(err, ErrUsage) {
		t.Errorf("bad --state: %v, want ErrUsage", err)
	}

	d := describeGroupJSON(t, addr, "billing")
	if d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	m := d.Members[0]
	if m.ClientID != "billing-consumer" || m.Host == "" || len(m.Assignment) != 1 || !slices.Equal(m.Assignment[0].Partitions, []int32{0, 1, 2}) {
		t.Errorf("member %+v", m)
	}
	if len(d.Offsets) != 3 {
		t.Fatalf("offsets %+v, want 3 partitions", d.Offsets)
	}
	for i, r := range d.Offsets {
		if r.Partition != int32(i) || r.Committed == nil || *r.Committed != 10 || r.LogEnd == nil || *r.LogEnd != 15 || r.Lag == nil || *r.Lag != 5 || r.MemberID != m.MemberID || r.ClientID != "billing-consumer" {
			t.Errorf("partition row %d: %+v (committed %s, end %s, lag %s)", i, r, int64OrDash(r.Committed), int64OrDash(r.LogEnd), int64OrDash(r.Lag))
		}
	}
	out := mustRun(t, addr, "", "groups", "describe", "billing")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "CURRENT-OFFSET") {
		t.Fatalf("describe table:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 9 || f[0] != "billing" || f[1] != "orders" || f[2] != "0" || f[3] != "10" || f[4] != "15" || f[5] != "5" || f[8] != "billing-consumer" {
		t.Errorf("describe row %q", lines[1])
	}
	if out := mustRun(t, addr, "", "groups", "describe", "billing", "--members"); !strings.Contains(out, "orders(0,1,2)") || !strings.Contains(out, "#PARTITIONS") {
		t.Errorf("--members:\n%s", out)
	}
	if out := mustRun(t, addr, "", "groups", "describe", "billing", "--state"); !strings.Contains(out, "Stable") || !strings.Contains(out, "COORDINATOR") {
		t.Errorf("--state:\n%s", out)
	}

	// A running consumer blocks reset and delete, in dry run too, as in Kafka.
	_, _, err := run(t, addr, "", "groups", "reset-offsets", "--group", "billing", "--topic", "orders", "--to-earliest")
	if !errors.Is(err, ErrGroupActive) || !strings.Contains(err.Error(), "Stable") {
		t.Errorf("reset of an active group: %v, want ErrGroupActive naming the state", err)
	}
	_, _, err = run(t, addr, "", "groups", "delete", "billing")
	if !errors.Is(err, ErrGroupActive) || !errors.Is(err, kerr.NonEmptyGroup) {
		t.Errorf("delete of an active group: %v, want ErrGroupActive", err)
	}
	if c := committed(t, addr, "billing", "orders"); c[0] != 10 {
		t.Errorf("refused commands changed offsets: %v", c)
	}

	cl.Close() // leaves the group
	deadline := time.Now().Add(20 * time.Second)
	for d.State != "Empty" {
		if time.Now().After(deadline) {
			t.Fatalf("group still %s after its consumer left", d.State)
		}
		runtimeGosched()
		d = describeGroupJSON(t, addr, "billing")
	}
	if len(d.Members) != 0 || len(d.Offsets) != 3 || d.Offsets[0].MemberID != "" || *d.Offsets[0].Lag != 5 {
		t.Errorf("empty group describe: %+v", d)
	}
	_, errOut, err := run(t, addr, "", "groups", "describe", "billing")
	if err != nil || !strings.Contains(errOut, "has no active members") {
		t.Errorf("describe of an empty group: %v, stderr %q", err, errOut)
	}

	if out := mustRun(t, addr, "", "groups", "delete", "billing"); !strings.Contains(out, "Deleted group billing") {
		t.Errorf("delete output %q", out)
	}
	if hasGroup(listGroupsJSON(t, addr), "billing") {
		t.Error("billing still listed after delete")
	}
}

func TestGroupsUnknown(t *testing.T) {
	addr := startGroupsBroker(t)
	mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "1")
	_, _, err := run(t, addr, "", "groups", "describe", "nope")
	if !errors.Is(err, ErrUnknownGroup) || !strings.Contains(err.Error(), "sluice groups list") {
		t.Errorf("describe unknown: %v, want ErrUnknownGroup with a hint", err)
	}
	_, _, err = run(t, addr, "", "groups", "delete", "nope")
	if !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("delete unknown: %v, want ErrUnknownGroup", err)
	}
	_, _, err = run(t, addr, "", "groups", "delete-offsets", "--group", "nope", "--topic", "orders")
	if !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("delete-offsets unknown group: %v, want ErrUnknownGroup", err)
	}
	_, _, err = run(t, addr, "", "groups", "reset-offsets", "--group", "nope", "--topic", "missing", "--to-earliest")
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("reset on a missing topic: %v", err)
	}
}

func TestGroupsResetOffsets(t *testing.T) {
	addr := startGroupsBroker(t)
	mustRun(t, addr, "", "topics", "create", "orders", "--partitions", "3")
	produceRange(t, addr, "orders", 3, 0, 15)
	// An offsets-only group (no members, as after its consumers stopped)
	// is set up with the command under test itself.
	g := []string{"--group", "billing"}
	p := resetJSON(t, addr, append(g, "--topic", "orders", "--to-offset", "10", "--execute")...)
	if !p.Executed || len(p.Offsets) != 3 || p.Offsets[0].Current != nil {
		t.Fatalf("first reset of a new group: %+v", p)
	}
	check := func(name string, want map[int32]int64) {
		t.Helper()
		if got := committed(t, addr, "billing", "orders"); !maps(got, want) {
			t.Errorf("%s: committed %v, want %v", name, got, want)
		}
	}
	check("to-offset 10 on a new group", map[int32]int64{0: 10, 1: 10, 2: 10})

	all := func(o int64) map[int32]int64 { return map[int32]int64{0: o, 1: o, 2: o} }
	steps := []struct {
		name    string
		args    []string
		plan    map[int32]int64 // the dry run's new offsets
		current map[int32]int64 // committed after --execute
	}{
		{"to-earliest", []string{"--topic", "orders", "--to-earliest"}, all(0), all(0)},
		{"to-latest", []string{"--all-topics", "--to-latest"}, all(15), all(15)},
		{"to-offset one partition", []string{"--topic", "orders:1", "--to-offset", "3"}, map[int32]int64{1: 3}, map[int32]int64{0: 15, 1: 3, 2: 15}},
		{"to-offset clamps to the end", []string{"--topic", "orders:1", "--to-offset", "100"}, map[int32]int64{1: 15}, all(15)},
		{"to-offset clamps to the start", []string{"--topic", "orders:0,2", "--to-offset", "-7"}, map[int32]int64{0: 0, 2: 0}, map[int32]int64{0: 0, 1: 15, 2: 0}},
		{"shift-by", []string{"--all-topics", "--shift-by", "-4"}, map[int32]int64{0: 0, 1: 11, 2: 0}, map[int32]int64{0: 0, 1: 11, 2: 0}},
		{"shift-by forward", []string{"--all-topics", "--shift-by", "6"}, map[int32]int64{0: 6, 1: 15, 2: 6}, map[int32]int64{0: 6, 1: 15, 2: 6}},
		{"to-current", []string{"--all-topics", "--to-current"}, map[int32]int64{0: 6, 1: 15, 2: 6}, map[int32]int64{0: 6, 1: 15, 2: 6}},
		// now minus the duration lands half a second before offset 12's
		// timestamp (the command runs a few ms after this line).
		{"by-duration", []string{"--topic", "orders", "--by-duration", time.Since(tsBase.Add(11500 * time.Millisecond)).String()}, all(12), all(12)},
		{"to-datetime", []string{"--topic", "orders", "--to-datetime", "2026-01-02T03:04:12Z"}, all(12), all(12)},
		{"to-datetime with a fraction and offset zone", []string{"--topic", "orders", "--to-datetime", "2026-01-02T04:04:07.500+01:00"}, all(8), all(8)},
		{"to-datetime after the last record", []string{"--all-topics", "--to-datetime", "2027-01-01T00:00:00.000Z"}, all(15), all(15)},
	}
	for _, s := range steps {
		before := committed(t, addr, "billing", "orders")
		dry := resetJSON(t, addr, append(g, s.args...)...)
		if dry.Executed || !maps(newOffsets(dry), s.plan) {
			t.Errorf("%s dry run: %+v, want new offsets %v", s.name, dry, s.plan)
		}
		for _, r := range dry.Offsets {
			if r.Current == nil || *r.Current != before[r.Partition] {
				t.Errorf("%s dry run: partition %d current %s, want %d", s.name, r.Partition, int64OrDash(r.Current), before[r.Partition])
			}
		}
		if after := committed(t, addr, "billing", "orders"); !maps(after, before) {
			t.Errorf("%s dry run committed: %v, was %v", s.name, after, before)
		}
		exec := resetJSON(t, addr, append(append(g, s.args...), "--execute")...)
		if !exec.Executed || !maps(newOffsets(exec), s.plan) {
			t.Errorf("%s --execute: %+v", s.name, exec)
		}
		check(s.name+" --execute", s.current)
	}

	out, errOut, err := run(t, addr, "", "groups", "reset-offsets", "--group", "billing", "--topic", "orders:0", "--to-latest")
	if err != nil || !strings.Contains(out, "NEW-OFFSET") || !strings.Contains(out, "15") || !strings.Contains(errOut, "--execute") {
		t.Errorf("dry-run table: %v\n%s\n%s", err, out, errOut)
	}

	bad := []struct {
		name string
		args []string
		want error
	}{
		{"no mode", []string{"--topic", "orders"}, ErrUsage},
		{"two modes", []string{"--topic", "orders", "--to-earliest", "--to-latest"}, ErrUsage},
		{"bad datetime", []string{"--topic", "orders", "--to-datetime", "2026-13-01T00:00:00"}, ErrUsage},
		{"date only", []string{"--topic", "orders", "--to-datetime", "2026-01-02"}, ErrUsage},
		{"bad duration", []string{"--topic", "orders", "--by-duration", "P1X"}, ErrUsage},
		{"two modes", []string{"--topic", "orders", "--to-current", "--to-earliest"}, ErrUsage},
		{"no partitions", []string{"--to-earliest"}, ErrUsage},
		{"topic and all-topics", []string{"--topic", "orders", "--all-topics", "--to-earliest"}, ErrUsage},
		{"bad partition", []string{"--topic", "orders:9", "--to-earliest"}, ErrUsage},
		{"bad partition syntax", []string{"--topic", "orders:x", "--to-earliest"}, ErrUsage},
		{"dry-run and execute", []string{"--topic", "orders", "--to-earliest", "--dry-run", "--execute"}, ErrUsage},
	}
	for _, b := range bad {
		_, _, err := run(t, addr, "", append(append([]string{"groups", "reset-offsets"}, g...), b.args...)...)
		if !errors.Is(err, b.want) {
			t.Errorf("%s: %v, want %v", b.name, err, b.want)
		}
	}
	if _, _, err := run(t, addr, "", "groups", "reset-offsets", "--topic", "orders", "--to-earliest"); !errors.Is(err, ErrUsage) {
		t.Errorf("no --group: %v", err)
	}
	_, _, err = run(t, addr, "", "groups", "reset-offsets", "--group", "fresh", "--topic", "orders", "--shift-by", "1")
	if !errors.Is(err, ErrNoCommittedOffset) {
		t.Errorf("shift-by without commits: %v, want ErrNoCommittedOffset", err)
	}
	_, _, err = run(t, addr, "", "groups", "reset-offsets", "--group", "fresh", "--all-topics", "--to-earliest")
	if !errors.Is(err, ErrUsage) {
		t.Errorf("--all-topics without commits: %v, want ErrUsage", err)
	}

	out = mustRun(t, addr, "", "groups", "delete-offsets", "--group", "billing", "--topic", "orders:0")
	if !strings.Contains(out, "deleted") {
		t.Errorf("delete-offsets output:\n%s", out)
	}
	check("after delete-offsets", map[int32]int64{1: 15, 2: 15})
	if _, _, err := run(t, addr, "", "groups", "delete-offsets", "--group", "billing"); !errors.Is(err, ErrUsage) {
		t.Errorf("delete-offsets without --topic: %v", err)
	}
}

func maps(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestParseDatetime(t *testing.T) {
	want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []string{"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z", "2026-01-02T05:04:05+02:00", "2026-01-02T05:04:05+0200", "2026-01-02T01:04:05.000-02"} {
		got, err := parseDatetime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseDatetime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	local, err := parseDatetime("2026-01-02T03:04:05.250")
	if err != nil || !local.Equal(time.Date(2026, 1, 2, 3, 4, 5, 250e6, time.Local)) {
		t.Errorf("no zone: %v %v, want local time", local, err)
	}
	for _, bad := range []string{"", "2026-01-02", "2026-01-02 03:04:05", "yesterday", "2026-01-02T03:04:05+25:00"} {
		if _, err := parseDatetime(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("parseDatetime(%q) = %v, want ErrUsage", bad, err)
		}
	}
}

// TestGroupsUnsupportedCluster: against a cluster whose ApiVersions lists
// no group APIs, the groups commands say so instead of kgo's "broker is
// too old". kfake stands in for such a cluster, with ApiVersions answered
// by the test.
func TestGroupsUnsupportedCluster(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(kmsg.ApiVersions.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ApiVersionsRequest)
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.SetVersion(min(req.Version, 3))
		for _, k := range []kmsg.Key{kmsg.Produce, kmsg.Fetch, kmsg.ListOffsets, kmsg.Metadata, kmsg.ApiVersions} {
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k.Int16(), MinVersion: 0, MaxVersion: 9})
		}
		return resp, nil, true
	})
	_, _, err = run(t, c.ListenAddrs()[0], "", "groups", "describe", "billing")
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "DescribeGroups") {
		t.Errorf("describe on a cluster without groups: %v, want ErrUnsupported naming DescribeGroups", err)
	}
}

func TestParseResetDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT1H": time.Hour, "P1DT12H": 36 * time.Hour, "PT30M15S": 30*time.Minute + 15*time.Second,
		"P2D": 48 * time.Hour, "PT0.5S": 500 * time.Millisecond, "pt2m": 2 * time.Minute, "1h30m": 90 * time.Minute,
	} {
		if got, err := parseResetDuration(in); err != nil || got != want {
			t.Errorf("parseResetDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "P", "PT", "P1H", "-1h", "0s", "PT0S", "1 hour", "P1DT"} {
		if _, err := parseResetDuration(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("parseResetDuration(%q): %v, want ErrUsage", bad, err)
		}
	}
}
