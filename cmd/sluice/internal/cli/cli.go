// Package cli holds Sluice's client commands — topics, produce, consume,
// groups, configs and perf — which talk to any Kafka-protocol cluster
// (Apache Kafka, Redpanda, Sluice) through franz-go only. They mirror
// Kafka's own tools (kafka-topics, kafka-console-producer/consumer,
// kafka-consumer-groups, kafka-configs, kafka-*-perf-test) so that
// their users feel at home, with broker defaults where Kafka's tools demand
// flags, and errors that say what to do next.
//
// Usage from a main package:
//
//	root := &cobra.Command{Use: "sluice"}
//	cli.AddCommands(root)
//	root.ExecuteContext(ctx)
//
// Commands read standard input and write to the command's configured
// streams (cmd.InOrStdin, cmd.OutOrStdout, cmd.ErrOrStderr), so tests run
// them in process with buffers, and stop when cmd.Context() is cancelled
// (main wires SIGINT/SIGTERM into it).
package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBrokers names the environment variable that supplies the bootstrap
// servers when -b/--bootstrap-server is not given.
const EnvBrokers = "SLUICE_BROKERS"

// DefaultBrokers is used when neither the flag nor EnvBrokers is set.
const DefaultBrokers = "localhost:9092"

// Sentinel errors; callers match them with errors.Is.
var (
	// ErrUsage marks a bad combination of flags or arguments.
	ErrUsage = errors.New("usage")
	// ErrUnreachable marks a failure to connect to any bootstrap server.
	ErrUnreachable = errors.New("cannot reach the cluster")
)

// app is the state shared by every command of one root: the global flags.
// It lives in AddCommands' closure rather than in package variables so two
// roots (as in tests) never share settings.
type app struct {
	root    *cobra.Command
	brokers string
}

// AddCommands adds the client commands (topics, produce, consume, groups,
// configs, perf) and the persistent -b/--bootstrap-server flag to root.
func AddCommands(root *cobra.Command) {
	a := &app{root: root}
	root.PersistentFlags().StringVarP(&a.brokers, "bootstrap-server", "b", DefaultBrokers,
		"comma-separated host:port list of brokers to bootstrap from (env "+EnvBrokers+")")
	root.AddCommand(a.topicsCmd(), a.produceCmd(), a.consumeCmd(), a.groupsCmd(), a.transactionsCmd(), a.configsCmd(), a.perfCmd())
}

// seeds returns the bootstrap servers: the flag if given, else EnvBrokers,
// else DefaultBrokers.
func (a *app) seeds() []string {
	s := a.brokers
	if f := a.root.PersistentFlags().Lookup("bootstrap-server"); f != nil && !f.Changed {
		if env := strings.TrimSpace(os.Getenv(EnvBrokers)); env != "" {
			s = env
		}
	}
	return splitList(s)
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// adminTimeout bounds every admin command so an unreachable cluster gives an
// error in seconds instead of kgo's default retry budget.
const adminTimeout = 20 * time.Second

// newClient builds a kgo client for the seeds plus opts. Dial and retry
// budgets are shorter than kgo's defaults because a person is waiting.
func (a *app) newClient(opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(a.seeds()...),
		kgo.ClientID("sluice-cli"),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(15 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return cl, nil
}

// openAdmin returns an admin client, a context for its requests bounded by
// adminTimeout (so an unreachable cluster fails in seconds), and a function
// that releases both. Every admin command starts with it.
func (a *app) openAdmin(cmd *cobra.Command) (*kadm.Client, context.Context, func(), error) {
	cl, err := a.newClient()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := withTimeout(cmd)
	return kadm.NewClient(cl), ctx, func() { cancel(); cl.Close() }, nil
}

// explain turns a low-level error into one that says what to do next. It
// keeps the original error wrapped so errors.Is still works.
func (a *app) explain(err error) error {
	if err == nil {
		return nil
	}
	var op *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("%w at %s: is a broker running there? Start one with `sluice broker`, or point -b/--bootstrap-server (or %s) at your cluster: %w",
			ErrUnreachable, strings.Join(a.seeds(), ","), EnvBrokers, err)
	}
	return err
}

// withTimeout returns cmd's context bounded by adminTimeout.
func withTimeout(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, adminTimeout)
}

// cmdContext returns cmd's context, or Background when run without one.
func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
