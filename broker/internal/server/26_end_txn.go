// EndTxn: versions 0-3 (v4+ is KIP-890 part 2's epoch bump per
// transaction, not advertised). The coordinator stores the decision,
// writes a marker to every partition of the transaction and stores the
// completion before this answers. PRODUCER_FENCED is
// INVALID_PRODUCER_EPOCH before v2 (KIP-588).

package server

import "github.com/twmb/franz-go/pkg/kmsg"

func (s *Server) handleEndTxn(r *request, req *kmsg.EndTxnRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.SetVersion(req.Version)
	err := s.txns.coord.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
	resp.ErrorCode = txnErr(err, req.Version, 2)
	return resp, nil
}
