package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/broker"
)

// Names of the measured brokers, as -only takes them and the table shows
// them.
const (
	targetSluice = "sluice"
	targetKfake  = "kfake"
	// targetNull is the null broker (nullbroker.go): the client's ceiling.
	targetNull = "null"
)

// errStart marks a broker that could not be started.
var errStart = errors.New("benchcmp: starting broker")

// running is a started broker: where clients dial it and how to stop it.
type running struct {
	addr string
	// stop shuts the broker down and returns once everything it started
	// has exited.
	stop func() error
}

// startTarget starts the broker called name in this process. Sluice keeps
// its data in a fresh directory under dir, removed again by stop.
//
// The broker is created and run inside pprof.Do with the label
// side=broker; goroutines inherit labels from the goroutine that starts
// them, so every connection handler and background loop of the broker is
// labelled too and a CPU profile can be split into broker and client.
func startTarget(ctx context.Context, name, dir string) (*running, error) {
	switch name {
	case targetSluice:
		return startSluice(ctx, dir)
	case targetKfake:
		return startKfake(ctx)
	case targetNull:
		var (
			r   *running
			err error
		)
		pprof.Do(ctx, brokerLabels(), func(context.Context) { r, err = startNullBroker() })
		return r, err
	default:
		return nil, fmt.Errorf("%w: unknown broker %q", errStart, name)
	}
}

// brokerLabels marks the goroutines of the broker under test.
func brokerLabels() pprof.LabelSet { return pprof.Labels("side", "broker") }

func startSluice(ctx context.Context, dir string) (*running, error) {
	dataDir, err := os.MkdirTemp(dir, "sluice-bench-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStart, err)
	}
	var (
		b      *broker.Broker
		newErr error
	)
	pprof.Do(ctx, brokerLabels(), func(context.Context) {
		b, newErr = broker.New(broker.Config{Properties: map[string]string{
			"log.dirs":  dataDir,
			"listeners": "PLAINTEXT://127.0.0.1:0",
		}})
	})
	if newErr != nil {
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("%w: %w", errStart, newErr)
	}
	// Run gets its own context, not ctx: stop must be the one that ends
	// it, so that its shutdown error is seen and the goroutine is waited
	// for even when the benchmark is interrupted.
	done := make(chan error, 1)
	go pprof.Do(context.Background(), brokerLabels(), func(rctx context.Context) {
		done <- b.Run(rctx)
	})
	stop := func() error {
		cerr := b.Close()
		rerr := <-done
		if errors.Is(rerr, context.Canceled) {
			rerr = nil
		}
		return errors.Join(cerr, rerr, os.RemoveAll(dataDir))
	}
	return &running{addr: b.Addr(), stop: stop}, nil
}

func startKfake(ctx context.Context) (*running, error) {
	var (
		c   *kfake.Cluster
		err error
	)
	pprof.Do(ctx, brokerLabels(), func(context.Context) {
		c, err = kfake.NewCluster(kfake.NumBrokers(1))
	})
	if err != nil {
		return nil, fmt.Errorf("%w: kfake: %w", errStart, err)
	}
	return &running{addr: c.ListenAddrs()[0], stop: func() error { c.Close(); return nil }}, nil
}
