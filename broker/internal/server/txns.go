package server

// The transaction coordinator's wiring, shaped as groups.go: openTxns runs
// in New after openGroups (markers for __consumer_offsets reach the group
// coordinator, so it must exist first) and replays every existing
// __transaction_state partition, completing transactions left prepared;
// closeTxns runs in Close before closeGroups.
//
// The coordinator (package txn) gets txnLog to append to and scan
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
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
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
	}, txnLog{s}, txnMarkers{s})
	if err := s.loadTxnPartitions(coord); err != nil {
		coord.Close()
		return err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.txns = &txnsState{coord: coord, cancel: cancel}
	s.SetTxnProduceVerifier(func(topic string, p int32, pid int64, epoch int16) error {
		return coord.Verify(pid, epoch, txn.TopicPartition{Topic: topic, Partition: p})
	})
	s.txns.wg.Add(1)
	go func() {
		defer s.txns.wg.Done()
		t := time.NewTicker(txnTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				coord.Tick()
			}
		}
	}()
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
	t := s.parts.topic(txn.Topic)
	if t == nil {
		return nil
	}
	s.parts.mu.RLock()
	n := len(t.parts)
	s.parts.mu.RUnlock()
	for p := range int32(n) {
		// A single broker leads every partition at epoch 0; a replicated
		// broker passes the partition's leader epoch.
		if err := coord.Load(p, 0); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// ensureTxnTopic creates __transaction_state if it does not exist yet
// (transaction.state.log.num.partitions, compacted) and loads it.
func (s *Server) ensureTxnTopic() error {
	x := s.txns
	if s.parts.topic(txn.Topic) != nil && x.coord.Loaded(0) {
		return nil
	}
	x.createMu.Lock()
	defer x.createMu.Unlock()
	if s.parts.topic(txn.Topic) == nil {
		cfg := s.config()
		configs := map[string]string{
			"cleanup.policy":   "compact",
			"compression.type": "producer",
			// Kafka's transaction.state.log.segment.bytes default.
			"segment.bytes": strconv.Itoa(100 << 20),
		}
		if _, err := s.parts.create(txn.Topic, cfg.TransactionStateLogNumPartitions, 1, configs, false); err != nil {
			return fmt.Errorf("server: creating %s: %w", txn.Topic, err)
		}
	}
	return s.loadTxnPartitions(x.coord)
}

// txnLog gives the coordinator the partitions of __transaction_state.
type txnLog struct{ s *Server }

func (l txnLog) Append(p int32, b []byte) (int64, error) {
	return appendInternal(l.s, txn.Topic, p, b)
}

func (l txnLog) Scan(p int32, fn func([]byte) error) error {
	return scanInternal(l.s, txn.Topic, p, fn)
}

// AppendTrusted stores a batch the group coordinator built (transactional
// offset commits) without the produce path's producer checks, as Kafka
// appends coordinator records.
func (l offsetsLog) AppendTrusted(p int32, b []byte) (int64, error) {
	_, part := l.s.parts.partition(group.Topic, p)
	if part == nil {
		return 0, fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, group.Topic, p)
	}
	res, err := part.log.AppendTrusted(b, part.epoch())
	if err != nil {
		return 0, err
	}
	part.notify()
	return res.BaseOffset, nil
}

func appendInternal(s *Server, topic string, p int32, b []byte) (int64, error) {
	_, part := s.parts.partition(topic, p)
	if part == nil {
		return 0, fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, topic, p)
	}
	res, err := part.log.Append(b, part.epoch())
	if err != nil {
		return 0, err
	}
	part.notify()
	return res.BaseOffset, nil
}

// scanInternal reads a partition from its start to its current end, batch
// by batch (offsetsLog.Scan for any internal topic).
func scanInternal(s *Server, topic string, p int32, fn func([]byte) error) error {
	_, part := s.parts.partition(topic, p)
	if part == nil {
		return fmt.Errorf("%w: %s-%d", kerr.UnknownTopicOrPartition, topic, p)
	}
	off, end := part.log.StartOffset(), part.log.EndOffset()
	for off < end {
		b, err := part.log.Read(off, 1<<20, end, true, nil)
		if err != nil {
			return err
		}
		if len(b) == 0 {
			return nil
		}
		next := off
		for one, err := range batch.Split(b) {
			if err != nil {
				return err
			}
			h, err := batch.ParseHeader(one)
			if err != nil {
				return err
			}
			if h.LastOffset() < off {
				continue
			}
			if err := fn(one); err != nil {
				return err
			}
			next = h.LastOffset() + 1
		}
		if next == off {
			return fmt.Errorf("server: scanning %s-%d made no progress at offset %d", topic, p, off)
		}
		off = next
	}
	return nil
}

// txnMarkers writes the coordinator's markers into partition logs.
type txnMarkers struct{ s *Server }

func (m txnMarkers) WriteMarker(tp txn.TopicPartition, pid int64, epoch int16, commit bool, coordEpoch int32) error {
	_, part := m.s.parts.partition(tp.Topic, tp.Partition)
	if part == nil {
		// Kafka drops markers for a deleted partition.
		m.s.log.Info("dropping a transaction marker for a missing partition", "topic", tp.Topic, "partition", tp.Partition, "producer_id", pid)
		return nil
	}
	if _, err := part.log.AppendMarker(pid, epoch, commit, coordEpoch, part.epoch()); err != nil {
		if errors.Is(err, kerr.InvalidProducerEpoch) {
			// A newer epoch already wrote here: this marker is moot.
			m.s.log.Warn("stale transaction marker dropped", "topic", tp.Topic, "partition", tp.Partition, "producer_id", pid, "err", err)
			return nil
		}
		return err
	}
	part.notify()
	if tp.Topic == group.Topic && m.s.groups != nil {
		m.s.groups.coord.CompleteTxn(tp.Partition, pid, commit)
	}
	return nil
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
