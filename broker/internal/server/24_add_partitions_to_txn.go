// AddPartitionsToTxn: versions 0-3 (one transaction per request; v4+'s
// batched and verify-only forms belong to KIP-890 part 2 and are not
// advertised). Partitions of unknown topics answer
// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, as
// Kafka does; otherwise every partition carries the coordinator's answer.
// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2 (KIP-588).

package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/txn"
)

func (s *Server) handleAddPartitionsToTxn(r *request, req *kmsg.AddPartitionsToTxnRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	resp.SetVersion(req.Version)
	var parts []txn.TopicPartition
	unknown := map[txn.TopicPartition]bool{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tp := txn.TopicPartition{Topic: t.Topic, Partition: p}
			if _, part := s.parts.partition(t.Topic, p); part == nil {
				unknown[tp] = true
			}
			parts = append(parts, tp)
		}
	}
	var code int16
	if len(unknown) == 0 {
		code = txnErr(s.txns.coord.AddPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts), req.Version, 2)
	}
	for _, t := range req.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			if len(unknown) > 0 {
				rp.ErrorCode = kerr.OperationNotAttempted.Code
				if unknown[txn.TopicPartition{Topic: t.Topic, Partition: p}] {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
