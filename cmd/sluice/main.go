// Command sluice is Sluice's single binary: the broker (sluice broker) and
// the client tools (topics, produce, consume, perf) that work against any
// Kafka cluster.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/cmd/sluice/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Sluice: a Kafka-compatible event streaming broker and toolkit in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cli.AddCommands(root)
	root.AddCommand(newBrokerCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}
