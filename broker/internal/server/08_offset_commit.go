// OffsetCommit: versions 0-9. v1 has a per-partition commit timestamp and
// v2-v4 a retention time (both keep Kafka's old per-offset expiry); v6+
// the committed leader epoch; v7+ group.instance.id; v9 (KIP-848) carries
// the member epoch of a consumer-protocol group member, which must be
// current (STALE_MEMBER_EPOCH) and must use v9 (UNSUPPORTED_VERSION).
// Simple consumers (generation -1, no member id) commit to groups without
// members. The response is sent once the records are in __consumer_offsets.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetCommit(r *request, req *kmsg.OffsetCommitRequest) (kmsg.Response, error) {
	resp := s.groups.coord.CommitOffsets(req)
	resp.SetVersion(req.Version)
	return resp, nil
}
