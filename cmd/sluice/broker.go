package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker"
)

func newBrokerCmd() *cobra.Command {
	var (
		configFile string
		sets       []string
		logLevel   string
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a Kafka-protocol broker",
		Long: `Run a Kafka-protocol broker.

Configuration uses Apache Kafka's property names, from a properties file
(--config server.properties), SLUICE_* environment variables
(SLUICE_LOG_DIRS sets log.dirs) and --set key=value, later ones winning.
With nothing given it stores data under ./data and listens on
127.0.0.1:9092. Stop it with Ctrl-C or SIGTERM; it flushes its logs first.`,
		Example: `  sluice broker
  sluice broker --config server.properties --set num.partitions=6
  SLUICE_LOG_DIRS=/var/lib/sluice sluice broker`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			props, err := broker.LoadProperties(configFile, os.Environ(), sets)
			if err != nil {
				return err
			}
			b, err := broker.New(broker.Config{Properties: props, Logger: logger})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "sluice broker listening on %s (cluster %s)\n", strings.Join(b.Addrs(), ", "), b.ClusterID())
			return b.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "broker properties file (Kafka's server.properties format)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "set a broker property, key=value (repeatable)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}
