// InitProducerId: versions 0-5. For an idempotent producer (a null
// transactional id) this answers, as Kafka's TransactionCoordinator does,
// with a fresh producer id at epoch 0 from a durable block (meta's
// ProducerIDs record), also on v3+ when the producer passes its current
// id and epoch (KIP-360): Kafka hands idempotent producers a new id rather
// than bumping the epoch. A transactional id answers
// COORDINATOR_NOT_AVAILABLE, like FindCoordinator for transaction keys,
// until the transaction coordinator exists (issue 4, second part).

package server

import (
	"fmt"

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
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
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
