package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/brokertest"
	"github.com/spf13/cobra"
)

// honoursValidateOnly says whether startBroker's broker creates nothing for
// CreateTopics with validate_only (kfake ignores the flag and creates).
const honoursValidateOnly = true

// startBroker starts a single in-process Sluice broker for one test and
// returns its address. It is the one place to switch the tests' broker.
func startBroker(t *testing.T, opts ...brokertest.Option) string {
	t.Helper()
	return brokertest.Start(t, opts...).Addr()
}

// run executes `sluice -b addr args...` in process with stdin as input and
// returns what it wrote to stdout and stderr.
func run(t *testing.T, addr, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "sluice", SilenceUsage: true, SilenceErrors: true}
	AddCommands(root)
	var out, errb bytes.Buffer
	root.SetArgs(append([]string{"-b", addr}, args...))
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// mustRun is run that fails the test on error.
func mustRun(t *testing.T, addr, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, addr, stdin, args...)
	if err != nil {
		t.Fatalf("sluice %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// newTestRoot returns a root with the commands and discarded output.
func newTestRoot() *cobra.Command {
	root := &cobra.Command{Use: "sluice", SilenceUsage: true, SilenceErrors: true}
	AddCommands(root)
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	return root
}

// runtimeGosched yields briefly between polls of a condition.
func runtimeGosched() { <-time.After(5 * time.Millisecond) }
