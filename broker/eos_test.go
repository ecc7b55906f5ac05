package broker_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// eosRun is one run of testdata/confluent_eos.py.
type eosRun struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, line by line; closed at EOF
	stderr bytes.Buffer
	copied chan struct{} // closed when stdout has been read to EOF
}

func startEOS(t *testing.T, args ...string) *eosRun {
	t.Helper()
	r := &eosRun{lines: make(chan string, 1024), copied: make(chan struct{})}
	r.cmd = exec.Command("/usr/bin/python3", append([]string{"testdata/confluent_eos.py"}, args...)...)
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.copied)
		defer close(r.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	// Whatever happens to the test, the process is gone and waited for.
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.copied
		_ = r.cmd.Wait()
	})
	return r
}

// next returns the next progress line: its word and count. ok is false at
// EOF or after the deadline.
func (r *eosRun) next(t *testing.T, deadline <-chan time.Time) (word string, n int, ok bool) {
	t.Helper()
	select {
	case line, open := <-r.lines:
		if !open {
			return "", 0, false
		}
		w, c, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(c)
		if err != nil {
			t.Fatalf("confluent_eos.py printed %q", line)
		}
		return w, n, true
	case <-deadline:
		return "", 0, false
	}
}

// proceed lets the script commit the transaction it reported open.
func (r *eosRun) proceed(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(r.stdin, "go\n"); err != nil {
		t.Fatalf("confluent_eos.py stdin: %v\nstderr: %s", err, r.stderr.String())
	}
}

func (r *eosRun) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to exit and fails the test unless it exited
// as expected (cleanly, or killed by SIGKILL).
func (r *eosRun) wait(t *testing.T, killed bool) {
	t.Helper()
	<-r.copied
	err := r.cmd.Wait()
	if killed {
		ws, _ := r.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("confluent_eos.py was to die of SIGKILL: %v\nstderr: %s", err, r.stderr.String())
		}
		return
	}
	if err != nil {
		t.Fatalf("confluent_eos.py: %v\nstderr: %s", err, r.stderr.String())
	}
}

// TestEOSConfluentKillRestart: a confluent-kafka consume-transform-produce
// client (testdata/confluent_eos.py) is killed with SIGKILL four times at
// different points, in an open transaction whose records are on the broker
// or in the middle of a commit, and restarted with the same transactional id until it
// has processed all input. A read_committed reader of the output then sees
// exactly one output record per input record, and the group's committed
// offsets are the input's end offsets.
func TestEOSConfluentKillRestart(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "-c", "import confluent_kafka")
	const (
		n     = 2000
		parts = 3
	)
	b := brokertest.Start(t, brokertest.Property("group.min.session.timeout.ms", "1000"))
	cl := client(t, b.Addr())
	adm := kadmClient(cl)
	createTopic(t, adm, "eos-in", parts, nil)
	createTopic(t, adm, "eos-out", parts, nil)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "eos-in", Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	args := []string{b.Addr(), "eos-in", "eos-out", "eos-group", "eos-txn"}
	deadline := time.After(50 * time.Second)
	// Kill points: after a run has committed this many records, it is
	// killed at its next transaction, either while the transaction is open
	// with its records on the broker (held), or just after it was told to
	// commit, so the kill races the commit (the outcome may be either, but
	// it must be all or nothing). 0 kills in the first transaction of a run.
	kills := []struct {
		after int
		held  bool
	}{{300, true}, {0, true}, {400, false}, {200, true}}
	for i, k := range kills {
		r := startEOS(t, args...)
		for killed := false; !killed; {
			word, done, ok := r.next(t, deadline)
			if !ok {
				t.Fatalf("run %d ended before its kill point %d\nstderr: %s", i, k.after, r.stderr.String())
			}
			switch {
			case word == "done":
				t.Fatalf("run %d finished all input before its kill point %d", i, k.after)
			case word != "open":
			case done < k.after:
				r.proceed(t)
			case k.held:
				r.kill(t)
				killed = true
				t.Logf("run %d killed in an open transaction after committing %d records", i, done)
			default:
				r.proceed(t)
				r.kill(t)
				killed = true
				t.Logf("run %d killed during a commit after committing %d records", i, done)
			}
		}
		r.wait(t, true)
	}
	r := startEOS(t, args...)
	for finished := false; !finished; {
		word, done, ok := r.next(t, deadline)
		switch {
		case !ok:
			t.Fatalf("the last run never finished\nstderr: %s", r.stderr.String())
		case word == "open":
			r.proceed(t)
		case word == "done":
			t.Logf("the last run committed %d records", done)
			finished = true
		}
	}
	r.wait(t, false)

	out := readAll(t, b.Addr(), "eos-out", n, kgo.ReadCommitted())
	seen := make(map[string]int, n)
	for _, rec := range out {
		seen[string(rec.Value)]++
		if want := "out-" + string(rec.Key); string(rec.Value) != want {
			t.Fatalf("output %q for key %q, want %q", rec.Value, rec.Key, want)
		}
	}
	var problems []string
	for i := range n {
		if c := seen[fmt.Sprintf("out-%d", i)]; c != 1 {
			problems = append(problems, fmt.Sprintf("out-%d x%d", i, c))
		}
	}
	if len(out) != n || len(problems) > 0 {
		t.Fatalf("read_committed output has %d records, want %d exactly once each; wrong: %.20v", len(out), n, problems)
	}
	// The held kills left records of aborted transactions in the log, so
	// the read_committed result above is the broker's filtering at work.
	if all := readAll(t, b.Addr(), "eos-out", n+1, kgo.ReadUncommitted()); len(all) <= n {
		t.Fatalf("read_uncommitted sees %d records: no aborted transaction left records behind", len(all))
	}

	ends, err := adm.ListEndOffsets(ctxT(t), "eos-in")
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctxT(t), "eos-group")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		c, ok := committed.Lookup(e.Topic, e.Partition)
		if !ok || c.At != e.Offset {
			t.Errorf("eos-in[%d]: group committed %v (found %v), want the end %d", e.Partition, c.At, ok, e.Offset)
		}
	})
}
