// AddOffsetsToTxn: versions 0-3. Adds the group's __consumer_offsets
// partition to the producer's transaction (creating the topic on first
// need), so that EndTxn writes a marker there and the group's
// TxnOffsetCommits become visible or are dropped with the transaction.
// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2 (KIP-588).

package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleAddOffsetsToTxn(r *request, req *kmsg.AddOffsetsToTxnRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	resp.SetVersion(req.Version)
	if err := s.ensureOffsetsTopic(); err != nil {
		resp.ErrorCode = errCode(fmt.Errorf("%w: %w", kerr.CoordinatorNotAvailable, err))
		return resp, nil
	}
	err := s.txns.coord.AddOffsets(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group)
	resp.ErrorCode = txnErr(err, req.Version, 2)
	return resp, nil
}
