package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// buildBinary builds bin/sluice for the test into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sluice")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// syncBuffer is the process's stderr, written by exec's copying goroutine
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

// startBroker runs the binary and waits until it accepts connections.
func startBroker(t *testing.T, bin, dir, addr string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "broker", "--set", "log.dirs="+dir, "--set", "listeners=PLAINTEXT://"+addr, "--set", "num.partitions=3")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd, stderr}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker did not start: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a port with a deadline
	}
}

// TestKillDashNineLosesNoAckedRecord kills the broker process with SIGKILL
// while an acks=all producer is writing, restarts it on the same data, and
// checks that every acknowledged record is there at its acknowledged
// offset, in order, per partition.
func TestKillDashNineLosesNoAckedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freePort(t)
	p := startBroker(t, bin, dir, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(),
		kgo.RecordRetries(0), kgo.RequestRetries(0), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 3, 1, nil, "crash"); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[int64]string{} // partition<<40 | offset → value
	var nAcked int
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := fmt.Sprintf("record-%d-%0200d", i, i)
			cl.Produce(ctx, &kgo.Record{Topic: "crash", Key: []byte(strconv.Itoa(i)), Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[int64(r.Partition)<<40|r.Offset] = string(r.Value)
					nAcked++
					mu.Unlock()
				}
			})
		}
	}()
	// Kill once a good number of records are acknowledged, mid-stream.
	for {
		mu.Lock()
		n := nAcked
		mu.Unlock()
		if n >= 20000 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("only %d records acknowledged", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	cl.Close()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d records acknowledged before kill -9", len(acked))

	p2 := startBroker(t, bin, dir, addr)
	if !bytes.Contains(p2.stderr.Bytes(), []byte("log recovery")) {
		t.Fatalf("restart after kill -9 did not validate the logs:\n%s", p2.stderr.String())
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("crash"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ends, err := kadm.NewClient(cons).ListEndOffsets(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	seen := map[int64]string{}
	next := map[int32]int64{}
	for int64(len(seen)) < total {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records after restart", len(seen), total)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next[r.Partition] {
				t.Fatalf("partition %d: offset %d after %d (gap or reorder)", r.Partition, r.Offset, next[r.Partition]-1)
			}
			next[r.Partition] = r.Offset + 1
			seen[int64(r.Partition)<<40|r.Offset] = string(r.Value)
		})
	}
	for k, v := range acked {
		if seen[k] != v {
			t.Fatalf("acknowledged record partition %d offset %d lost or changed: got %q", k>>40, k&(1<<40-1), seen[k])
		}
	}
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		t.Log(p.stderr.String())
	}
}

// TestSIGTERMShutsDownCleanly stops the binary with SIGTERM: it exits 0,
// and the next start finds every log closed cleanly (nothing to recover)
// with the data in place.
func TestSIGTERMShutsDownCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freePort(t)
	p := startBroker(t, bin, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		cl.Produce(ctx, &kgo.Record{Topic: "term", Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("broker exited with %v after SIGTERM\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("broker still running 30s after SIGTERM\n%s", p.stderr.String())
	}
	if !bytes.Contains(p.stderr.Bytes(), []byte("broker stopped")) {
		t.Fatalf("no shutdown log line:\n%s", p.stderr.String())
	}

	p2 := startBroker(t, bin, dir, addr)
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("term"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	n := 0
	for n < 500 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 500 records after restart", n)
		}
		n += fs.NumRecords()
	}
	if bytes.Contains(p2.stderr.Bytes(), []byte("recover")) {
		t.Fatalf("a clean shutdown was followed by recovery:\n%s", p2.stderr.String())
	}
}

// TestBrokerRejectsBadConfig: an unknown key or a bad value stops the
// broker at start with a message naming the key.
func TestBrokerRejectsBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for _, tc := range []struct{ set, want string }{
		{"log.retention.mss=5", "log.retention.ms"},
		{"num.partitions=zero", "num.partitions"},
		{"listeners=PLAINTEXT//nohost", "listeners"},
	} {
		cmd := exec.Command(bin, "broker", "--set", "log.dirs="+t.TempDir(), "--set", tc.set)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("--set %s: broker started", tc.set)
		}
		if !bytes.Contains(out, []byte(tc.want)) {
			t.Fatalf("--set %s: message does not name %s:\n%s", tc.set, tc.want, out)
		}
	}
	// A properties file with an unknown key, and an unknown SLUICE_ variable.
	props := filepath.Join(t.TempDir(), "server.properties")
	os.WriteFile(props, []byte("log.dirs="+t.TempDir()+"\nauto.create.topic.enable=false\n"), 0o644)
	if out, err := exec.Command(bin, "broker", "--config", props).CombinedOutput(); err == nil || !bytes.Contains(out, []byte("auto.create.topic.enable")) {
		t.Fatalf("unknown key in --config: err %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "broker", "--set", "log.dirs="+t.TempDir())
	cmd.Env = append(os.Environ(), "SLUICE_NUM_PARTITION=3")
	if out, err := cmd.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("SLUICE_NUM_PARTITION")) {
		t.Fatalf("unknown SLUICE_ variable: err %v\n%s", err, out)
	}
}

// TestKillDashNineKeepsCommittedOffsets commits offsets in a loop, kills the
// broker with SIGKILL mid-loop, restarts it, and checks that every
// acknowledged commit survived and that a group consumer resumes exactly
// at the committed offsets.
func TestKillDashNineKeepsCommittedOffsets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freePort(t)
	p := startBroker(t, bin, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const topic, group, perPartition = "commits", "crash-group", 500
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for part := range int32(3) {
		for i := range perPartition {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "%d-%d", part, i)})
		}
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	if err := pcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pcl.Close()

	// Commit offset i on every partition, i = 1, 2, ...; kill the broker
	// from another goroutine once 100 commits are acknowledged.
	var lastAcked atomic.Int64
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for lastAcked.Load() < 100 && ctx.Err() == nil {
			time.Sleep(time.Millisecond) // polling the commit loop's progress
		}
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}()
	for i := int64(1); i < perPartition; i++ {
		offs := kadm.Offsets{}
		for part := range int32(3) {
			offs.AddOffset(topic, part, i, -1)
		}
		resp, err := adm.CommitOffsets(ctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			break // the broker is gone
		}
		lastAcked.Store(i)
	}
	<-killed
	cl.Close()
	acked := lastAcked.Load()
	if acked < 100 {
		t.Fatalf("only %d commits acknowledged before the kill", acked)
	}

	startBroker(t, bin, dir, addr)
	cl2, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	fetched, err := kadm.NewClient(cl2).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	committed := map[int32]int64{}
	for part := range int32(3) {
		o, ok := fetched.Lookup(topic, part)
		// The commit in flight at the kill may or may not have landed.
		if !ok || o.Err != nil || o.At < acked || o.At > acked+1 {
			t.Fatalf("partition %d after kill -9: committed %+v, last acknowledged commit %d", part, o, acked)
		}
		committed[part] = o.At
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	first := map[int32]int64{}
	for len(first) < 3 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group consumer read only partitions %v after restart", first)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
			}
		})
	}
	for part, off := range first {
		if off != committed[part] {
			t.Errorf("partition %d: the group resumed at %d, committed %d", part, off, committed[part])
		}
	}
}
