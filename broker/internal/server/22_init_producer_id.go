// InitProducerId: versions 0-5. For an idempotent producer (a null
// transactional id) this answers, as Kafka's TransactionCoordinator does,
// with a fresh producer id at epoch 0 from a durable block (meta's
// ProducerIDs record), also on v3+ when the producer passes its current
// id and epoch (KIP-360): Kafka hands idempotent producers a new id rather
// than bumping the epoch. A transactional id goes to the transaction
// coordinator (txns.go): a fresh producer id, or the next epoch of the
// id's producer, fencing the previous one. PRODUCER_FENCED is
// INVALID_PRODUCER_EPOCH before v4 (KIP-588).

package server

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleInitProducerID(r *request, req *kmsg.InitProducerIDRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.SetVersion(req.Version)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	switch {
	case (req.ProducerID == -1) != (req.ProducerEpoch == -1):
		// KafkaApis.handleInitProducerIdRequest
		resp.ErrorCode = kerr.InvalidRequest.Code
	case req.TransactionalID != nil:
		timeout := time.Duration(req.TransactionTimeoutMillis) * time.Millisecond
		pid, epoch, err := s.txns.coord.InitProducerID(*req.TransactionalID, timeout, req.ProducerID, req.ProducerEpoch)
		if err != nil {
			resp.ErrorCode = txnErr(err, req.Version, 4)
			break
		}
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	default:
		id, err := s.meta.NextProducerID(s.config().NodeID)
		if err != nil {
			s.log.Warn("producer id allocation failed", "err", err)
			resp.ErrorCode = errCode(fmt.Errorf("%w: %w", kerr.CoordinatorNotAvailable, err))
			break
		}
		resp.ProducerID, resp.ProducerEpoch = id, 0
	}
	return resp, nil
}
