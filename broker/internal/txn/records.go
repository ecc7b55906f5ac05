package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// ErrBadRecord marks a __transaction_state record this package cannot
// decode; replay skips it with a warning rather than refusing to start.
var ErrBadRecord = errors.New("txn: undecodable __transaction_state record")

// keyVersion is Kafka's TransactionLogKey version; valueVersion the
// TransactionLogValue version written (0: readable by every Kafka).
const (
	keyVersion   = 0
	valueVersion = 0
)

type rec struct{ key, value []byte }

func txnKey(id string) []byte {
	k := kmsg.TxnMetadataKey{Version: keyVersion, TransactionalID: id}
	return k.AppendTo(nil)
}

func txnRecord(m *txnMeta) rec {
	v := kmsg.NewTxnMetadataValue()
	v.Version = valueVersion
	v.ProducerID, v.ProducerEpoch = m.pid, m.epoch
	v.TimeoutMillis = int32(m.timeout.Milliseconds())
	v.State = kmsg.TransactionState(m.state)
	v.LastUpdateTimestamp = m.updated.UnixMilli()
	v.StartTimestamp = -1
	if !m.start.IsZero() {
		v.StartTimestamp = m.start.UnixMilli()
	}
	for _, tp := range m.sortedParts() {
		if n := len(v.Topics); n > 0 && v.Topics[n-1].Topic == tp.Topic {
			v.Topics[n-1].Partitions = append(v.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		t := kmsg.NewTxnMetadataValueTopic()
		t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
		v.Topics = append(v.Topics, t)
	}
	return rec{txnKey(m.id), v.AppendTo(nil)}
}

// store persists a transaction's next metadata; the caller applies it to
// memory only when this succeeds.
func (c *Coordinator) store(m *txnMeta) error {
	return c.append(m.partition, []rec{txnRecord(m)})
}

func (c *Coordinator) append(p int32, recs []rec) error {
	now := c.cfg.Now()
	rs := make([]batch.Record, len(recs))
	for i, r := range recs {
		rs[i] = batch.Record{Offset: int64(i), Timestamp: now.UnixMilli(), Key: r.key, Value: r.value}
	}
	b, err := batch.AppendBatch(nil, batch.Header{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, rs)
	if err != nil {
		return fmt.Errorf("txn: building a batch: %w", err)
	}
	if _, err := c.log.Append(p, b); err != nil {
		// Kafka's TransactionStateManager answers a failed write so
		// that the client finds the coordinator again and retries.
		code := kerr.CoordinatorNotAvailable
		if errors.Is(err, kerr.NotLeaderForPartition) {
			code = kerr.NotCoordinator
		}
		return fmt.Errorf("%w: appending to %s-%d: %w", code, Topic, p, err)
	}
	return nil
}

// replay rebuilds the transactions of a partition: the latest record per
// transactional id wins and a tombstone deletes, as a compacted topic
// reads.
func (c *Coordinator) replay(p int32) (map[string]*txnMeta, error) {
	txns := map[string]*txnMeta{}
	err := c.log.Scan(p, func(b []byte) error {
		h, err := batch.ParseHeader(b)
		if err != nil {
			return err
		}
		if h.IsControl() {
			return nil
		}
		for r, err := range batch.Records(b) {
			if err != nil {
				return err
			}
			if err := apply(p, r, txns); err != nil {
				c.lg.Warn("skipping record in replay", "partition", p, "offset", r.Offset, "err", err)
			}
		}
		return nil
	})
	return txns, err
}

func apply(p int32, r batch.Record, txns map[string]*txnMeta) error {
	if len(r.Key) < 2 {
		return ErrBadRecord
	}
	if v := binary.BigEndian.Uint16(r.Key); v != keyVersion {
		return fmt.Errorf("%w: key version %d", ErrBadRecord, v)
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(r.Key); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if r.Value == nil {
		delete(txns, k.TransactionalID)
		return nil
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(r.Value); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	m := &txnMeta{
		id:        k.TransactionalID,
		partition: p,
		pid:       v.ProducerID,
		epoch:     v.ProducerEpoch,
		lastEpoch: -1,
		timeout:   time.Duration(v.TimeoutMillis) * time.Millisecond,
		state:     State(v.State),
		updated:   time.UnixMilli(v.LastUpdateTimestamp),
	}
	if v.StartTimestamp >= 0 && (m.state == Ongoing || m.state == PrepareCommit || m.state == PrepareAbort) {
		m.start = time.UnixMilli(v.StartTimestamp)
	}
	for _, t := range v.Topics {
		for _, part := range t.Partitions {
			if m.parts == nil {
				m.parts = map[TopicPartition]bool{}
			}
			m.parts[TopicPartition{t.Topic, part}] = true
		}
	}
	txns[m.id] = m
	return nil
}
