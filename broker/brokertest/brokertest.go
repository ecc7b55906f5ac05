// Package brokertest starts real Sluice brokers inside Go tests: in
// process, on a free loopback port, with a throwaway data directory, and
// shut down when the test ends.
//
//	b := brokertest.Start(t)
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
package brokertest

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"testing"

	"github.com/sluicehq/sluice/broker"
)

// Option changes how Start configures the broker.
type Option func(*options)

type options struct {
	props map[string]string
	dir   string
	log   *slog.Logger
}

// Property sets a broker property (Kafka's names, e.g. "num.partitions").
// Start's defaults differ from the broker's in one key, made for tests:
// group.initial.rebalance.delay.ms is 0.
func Property(key, value string) Option {
	return func(o *options) { o.props[key] = value }
}

// Dir stores the broker's data in dir instead of a new t.TempDir(), so a
// test can start a second broker on the data of a stopped one.
func Dir(dir string) Option { return func(o *options) { o.dir = dir } }

// Logger sends the broker's logs to l. By default they go to the test log
// at debug level only when SLUICE_TEST_LOG is set.
func Logger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Broker is a running in-process broker.
type Broker struct {
	*broker.Broker
	dir    string
	props  map[string]string
	cancel context.CancelFunc
	done   chan error
}

// Start starts a broker listening on 127.0.0.1 on a free port and stops it
// when the test ends. It fails the test if the broker cannot start.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	o := &options{props: map[string]string{}}
	for _, opt := range opts {
		opt(o)
	}
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	props := map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0",
		"log.dirs":  o.dir,
		// A test's consumers join at once; Kafka's own test harness also
		// turns off the wait for late joiners of a new group.
		"group.initial.rebalance.delay.ms": "0",
	}
	maps.Copy(props, o.props)
	logger := o.log
	if logger == nil {
		if os.Getenv("SLUICE_TEST_LOG") != "" {
			logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		} else {
			logger = slog.New(slog.DiscardHandler)
		}
	}
	b, err := broker.New(broker.Config{Properties: props, Logger: logger})
	if err != nil {
		t.Fatalf("brokertest: starting broker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb := &Broker{Broker: b, dir: o.dir, props: props, cancel: cancel, done: make(chan error, 1)}
	go func() { tb.done <- b.Run(ctx) }()
	t.Cleanup(func() {
		if err := tb.Stop(); err != nil {
			t.Errorf("brokertest: stopping broker: %v", err)
		}
	})
	return tb
}

// Dir returns the broker's data directory.
func (b *Broker) Dir() string { return b.dir }

// Stop shuts the broker down cleanly and waits for it; it is idempotent.
func (b *Broker) Stop() error {
	b.cancel()
	err, ok := <-b.done
	if ok {
		close(b.done)
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Restart stops the broker and starts a new one on the same data directory
// and properties, listening on the same address. It returns the new broker.
func (b *Broker) Restart(t testing.TB) *Broker {
	t.Helper()
	if err := b.Stop(); err != nil {
		t.Fatalf("brokertest: stopping broker: %v", err)
	}
	opts := []Option{Dir(b.dir), Property("listeners", "PLAINTEXT://"+b.Addr())}
	for k, v := range b.props {
		if k != "listeners" && k != "log.dirs" {
			opts = append(opts, Property(k, v))
		}
	}
	return Start(t, opts...)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
