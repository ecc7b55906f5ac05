// TxnOffsetCommit: versions 0-3 (v3 names the member and generation,
// KIP-447; v4+ is KIP-890's verification, not advertised). The group
// coordinator stores the offsets in a transactional batch; they become
// visible when the transaction's commit marker lands in the group's
// __consumer_offsets partition and are dropped on abort.

package server

import "github.com/twmb/franz-go/pkg/kmsg"

func (s *Server) handleTxnOffsetCommit(r *request, req *kmsg.TxnOffsetCommitRequest) (kmsg.Response, error) {
	resp := s.groups.coord.CommitTxnOffsets(req)
	resp.SetVersion(req.Version)
	return resp, nil
}
