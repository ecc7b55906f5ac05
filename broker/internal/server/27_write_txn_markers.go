// WriteTxnMarkers: versions 0-1. What a transaction coordinator sends the
// leaders of a transaction's partitions once its outcome is decided: for
// each (producer, partition) one end-transaction marker, which completes
// the producer's transaction there and moves the last stable offset
// (log.AppendMarker). Errors are answered per partition. Kafka advertises
// this broker-to-broker API in ApiVersions too, so it is listed; v2
// (KIP-890's transaction version field) is not served yet.
//
// The in-process transaction coordinator calls [Server.WriteTxnMarker]
// directly instead of going through the wire.

package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/group"
)

func (s *Server) handleWriteTxnMarkers(r *request, req *kmsg.WriteTxnMarkersRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	resp.SetVersion(req.Version)
	for _, m := range req.Markers {
		sm := kmsg.NewWriteTxnMarkersResponseMarker()
		sm.ProducerID = m.ProducerID
		for _, rt := range m.Topics {
			st := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			st.Topic = rt.Topic
			for _, part := range rt.Partitions {
				sp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				sp.Partition = part
				if err := s.WriteTxnMarker(rt.Topic, part, m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch); err != nil {
					sp.ErrorCode = errCode(err)
					s.log.Debug("write txn marker failed", "partition", partDirName(rt.Topic, part), "producer", m.ProducerID, "err", err)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			sm.Topics = append(sm.Topics, st)
		}
		resp.Markers = append(resp.Markers, sm)
	}
	return resp, nil
}

// WriteTxnMarker appends one end-transaction marker (commit or abort) for
// a producer to a partition this broker leads and wakes the fetches
// waiting on it, so read_committed consumers see the LSO move at once; in
// __consumer_offsets it also completes the producer's pending offsets.
// Errors wrap kerr codes: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PRODUCER_EPOCH
// (an epoch older than the partition's producer state),
// TRANSACTION_COORDINATOR_FENCED (an older coordinator epoch than the last
// marker's), KAFKA_STORAGE_ERROR.
func (s *Server) WriteTxnMarker(topic string, partition int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32) error {
	_, p := s.parts.partition(topic, partition)
	if p == nil {
		return fmt.Errorf("%w: %s[%d]", kerr.UnknownTopicOrPartition, topic, partition)
	}
	if _, err := p.log.AppendMarker(producerID, producerEpoch, commit, coordinatorEpoch, p.epoch()); err != nil {
		return fmt.Errorf("marker for producer %d in %s[%d]: %w", producerID, topic, partition, err)
	}
	p.notify()
	if topic == group.Topic && s.groups != nil {
		// Transactional offset commits become visible (or are dropped)
		// with their marker, however it arrived.
		s.groups.coord.CompleteTxn(partition, producerID, commit)
	}
	return nil
}

// TxnProduceVerifier is KIP-890's hook on the produce path: called for
// every transactional batch before it is appended, with the partition and
// the batch's producer id and epoch; a non-nil error (wrapping a kerr code,
// e.g. INVALID_TXN_STATE when the partition is not part of the producer's
// ongoing transaction) rejects the batch for that partition.
type TxnProduceVerifier func(topic string, partition int32, producerID int64, producerEpoch int16) error

// SetTxnProduceVerifier installs the transaction coordinator's verification
// of transactional produce; nil (the default) accepts every transactional
// batch whose producer epoch the partition's state allows.
func (s *Server) SetTxnProduceVerifier(f TxnProduceVerifier) {
	if f == nil {
		s.txnVerify.Store(nil)
		return
	}
	s.txnVerify.Store(&f)
}
