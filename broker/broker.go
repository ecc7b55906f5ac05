// Package broker runs a Kafka-protocol broker inside any Go program.
//
// A Broker stores partitions as segment files under log.dirs, speaks the
// Kafka wire protocol to any Kafka client (franz-go, librdkafka/kcat,
// confluent-kafka, the Java client, sarama, kafka-go, kafkajs), and is
// configured with Apache Kafka's own property names.
//
// # Usage
//
//	b, err := broker.New(broker.Config{Properties: map[string]string{
//		"log.dirs":  "/var/lib/sluice",
//		"listeners": "PLAINTEXT://127.0.0.1:9092",
//	}})
//	if err != nil { ... }
//	go b.Run(ctx)            // serves until ctx is done, then shuts down cleanly
//	fmt.Println(b.Addr())    // "127.0.0.1:9092"
//
// For tests, package brokertest starts a broker on a free port with a
// throwaway directory.
package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/sluicehq/sluice/broker/internal/config"
	"github.com/sluicehq/sluice/broker/internal/server"
)

// Config configures a Broker.
type Config struct {
	// Properties are broker properties with Kafka's names
	// (server.properties keys such as "log.dirs", "listeners",
	// "num.partitions"). Keys not given take their defaults; an unknown
	// key or a bad value makes New fail with an error naming the key.
	Properties map[string]string
	// Logger receives the broker's logs. Nil discards them.
	Logger *slog.Logger
}

// Broker is a running (or ready to run) broker.
type Broker struct {
	srv *server.Server
}

// New validates the configuration, opens (and recovers) the logs and binds
// the listeners. Serving starts with Run.
func New(cfg Config) (*Broker, error) {
	bc, err := config.Parse(cfg.Properties)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	srv, err := server.New(bc, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv}, nil
}

// Run serves clients until ctx is done or Close is called, then shuts down:
// it stops accepting, closes connections, waits for every goroutine and
// flushes and closes every log. It returns the shutdown error, if any.
func (b *Broker) Run(ctx context.Context) error { return b.srv.Serve(ctx) }

// Addr returns the address the first client listener is bound to, e.g.
// "127.0.0.1:9092" (with the real port when the configured one was 0).
func (b *Broker) Addr() string { return b.srv.Addrs()[0] }

// Addrs returns the bound address of every client listener.
func (b *Broker) Addrs() []string { return b.srv.Addrs() }

// ClusterID returns the cluster id kept in the log dirs' meta.properties.
func (b *Broker) ClusterID() string { return b.srv.ClusterID() }

// Close shuts the broker down as Run does when its context ends. It is
// idempotent and safe to call whether or not Run was called.
func (b *Broker) Close() error { return b.srv.Close() }

// LoadProperties gathers broker properties the way the sluice CLI does:
// the properties file at path (if path is not empty), then SLUICE_*
// variables from environ (SLUICE_LOG_DIRS sets log.dirs), then the
// key=value pairs in sets; later sources win.
func LoadProperties(path string, environ []string, sets []string) (map[string]string, error) {
	var file map[string]string
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("broker: reading config file: %w", err)
		}
		defer f.Close()
		if file, err = ReadProperties(f); err != nil {
			return nil, fmt.Errorf("broker: %s: %w", path, err)
		}
	}
	env, err := config.FromEnv(environ)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	set := map[string]string{}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("broker: --set %q: expected key=value", kv)
		}
		set[k] = v
	}
	return config.Merge(file, env, set), nil
}

// ReadProperties parses a Java .properties file (server.properties).
func ReadProperties(r io.Reader) (map[string]string, error) { return config.ReadProperties(r) }
