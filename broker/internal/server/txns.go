package server

// The transaction coordinator's wiring, shaped as groups.go: openTxns runs
// in New after openGroups (markers for __consumer_offsets reach the group
// coordinator, so it must exist first) and replays every existing
// __transaction_state partition, completing transactions left prepared;
// closeTxns runs in Close before closeGroups.
//
// The coordinator (package txn) gets an internalLog (internal_topics.go) to append to and scan
// __transaction_state, and txnMarkers to write commit and abort markers
// into partition logs (and to tell the group coordinator when one lands in
// __consumer_offsets). The topic is created on first need
// (FindCoordinator with key type 1). A ticker here drives transaction
// timeouts. The coordinator also verifies transactional produce (KIP-890
// part 1) through the produce path's hook.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/group"
	"github.com/sluicehq/sluice/broker/internal/txn"
)

// txnTick is how often transaction timeouts are checked (Kafka's
// transaction.abort.timed.out.transaction.cleanup.interval.ms is 10 s;
// timeouts are seconds to minutes, so a second is precise enough).
const txnTick = time.Second

// txnsState is the server's part of the transaction coordinator.
type txnsState struct {
	coord    *txn.Coordinator
	createMu sync.Mutex
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func (s *Server) openTxns() error {
	cfg := s.config()
	partitions := cfg.TransactionStateLogNumPartitions
	if t := s.parts.topic(txn.Topic); t != nil {
		partitions = int32(len(t.parts))
	}
	coord := txn.New(txn.Config{
		Partitions:   partitions,
		MaxTimeout:   time.Duration(cfg.TransactionMaxTimeoutMs) * time.Millisecond,
		IDExpiration: time.Duration(cfg.TransactionalIDExpirationMs) * time.Millisecond,
		NextProducerID: func() (int64, error) {
			return s.meta.NextProducerID(s.config().NodeID)
		},
		GroupPartition: func(g string) int32 { return s.groups.coord.PartitionFor(g) },
		GroupTopic:     group.Topic,
		Logger:         s.log.With("component", "transaction-coordinator"),
	}, internalLog{s, txn.Topic}, txnMarkers{s})
	if err := s.loadTxnPartitions(coord); err != nil {
		coord.Close()
		return err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.txns = &txnsState{coord: coord, cancel: cancel}
	s.SetTxnProduceVerifier(func(topic string, p int32, pid int64, epoch int16) error {
		return coord.Verify(pid, epoch, txn.TopicPartition{Topic: topic, Partition: p})
	})
	startTicker(ctx, &s.txns.wg, txnTick, coord.Tick)
	return nil
}

func (s *Server) closeTxns() {
	if s.txns == nil {
		return
	}
	s.SetTxnProduceVerifier(nil)
	s.txns.cancel()
	s.txns.wg.Wait()
	s.txns.coord.Close()
}

// loadTxnPartitions loads every existing __transaction_state partition.
func (s *Server) loadTxnPartitions(coord *txn.Coordinator) error {
	for p := range s.partitionCount(txn.Topic) {
		// A single broker leads every partition at epoch 0; a replicated
		// broker passes the partition's leader epoch.
		if err := coord.Load(p, 0); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// ensureTxnTopic creates __transaction_state if it does not exist yet
// (transaction.state.log.num.partitions, compacted, Kafka's 100 MiB
// transaction.state.log.segment.bytes) and loads it.
func (s *Server) ensureTxnTopic() error {
	x := s.txns
	return s.ensureInternalTopic(&x.createMu, txn.Topic, s.config().TransactionStateLogNumPartitions, 100<<20,
		func() bool { return x.coord.Loaded(0) },
		func() error { return s.loadTxnPartitions(x.coord) })
}

// txnMarkers writes the coordinator's markers into partition logs.
type txnMarkers struct{ s *Server }

func (m txnMarkers) WriteMarker(tp txn.TopicPartition, pid int64, epoch int16, commit bool, coordEpoch int32) error {
	err := m.s.WriteTxnMarker(tp.Topic, tp.Partition, pid, epoch, commit, coordEpoch)
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		// Kafka drops markers for a deleted partition.
		m.s.log.Info("dropping a transaction marker for a missing partition", "topic", tp.Topic, "partition", tp.Partition, "producer_id", pid)
		return nil
	case errors.Is(err, kerr.InvalidProducerEpoch):
		// A newer epoch already wrote here: this marker is moot.
		m.s.log.Warn("stale transaction marker dropped", "topic", tp.Topic, "partition", tp.Partition, "producer_id", pid, "err", err)
		return nil
	}
	return err
}

// txnErr maps a coordinator error to the code a request version knows:
// PRODUCER_FENCED exists from the versions of KIP-588; older ones get
// INVALID_PRODUCER_EPOCH.
func txnErr(err error, version, fencedFrom int16) int16 {
	if errors.Is(err, kerr.ProducerFenced) && version < fencedFrom {
		return kerr.InvalidProducerEpoch.Code
	}
	return errCode(err)
}
