package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a command in a goroutine with ctx and returns its output
// buffers and a channel with its error.
func start(ctx context.Context, addr string, in io.Reader, args ...string) (*syncBuffer, *syncBuffer, <-chan error) {
	root := &cobra.Command{Use: "sluice", SilenceUsage: true, SilenceErrors: true}
	AddCommands(root)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	root.SetArgs(append([]string{"-b", addr}, args...))
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	return out, errOut, done
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtimeGosched()
	}
}

func TestConsumeAndProduceStopOnCancel(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topics", "create", "s", "--partitions", "1")

	// The producer reads from a pipe that stays open: cancelling (SIGINT in
	// main) must deliver what was read and return cleanly.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	_, perr, pdone := start(pctx, addr, pr, "produce", "s")
	if _, err := pw.Write([]byte("one\ntwo\n")); err != nil {
		t.Fatal(err)
	}

	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	cout, cerr, cdone := start(cctx, addr, strings.NewReader(""), "consume", "s", "--from-beginning", "--group", "cg")
	waitFor(t, "two records consumed", func() bool { return strings.Count(cout.String(), "\n") == 2 })

	pcancel()
	if err := <-pdone; err != nil {
		t.Errorf("cancelled produce: %v (%s)", err, perr)
	}
	if !strings.Contains(perr.String(), "Produced 2 records") {
		t.Errorf("produce stderr %q", perr)
	}
	ccancel()
	if err := <-cdone; err != nil {
		t.Errorf("cancelled consume: %v", err)
	}
	if cout.String() != "one\ntwo\n" || !strings.Contains(cerr.String(), "Processed a total of 2 messages") {
		t.Errorf("consume output %q, stderr %q", cout, cerr)
	}
	// The group committed on the way out: nothing is left for it.
	if out := mustRun(t, addr, "", "consume", "s", "--group", "cg", "--from-beginning", "--timeout", "1s"); out != "" {
		t.Errorf("group re-read %q after its cancelled run committed", out)
	}
}

func TestProduceLineTooLong(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topics", "create", "l", "--partitions", "1")
	_, _, err := run(t, addr, "short\n"+strings.Repeat("x", 700)+"\n", "produce", "l", "--max-message-bytes", "600")
	if err == nil || !strings.Contains(err.Error(), "--max-message-bytes") {
		t.Errorf("long line: %v", err)
	}
}
