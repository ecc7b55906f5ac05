// OffsetCommit: versions 0-8. v1 has a per-partition commit timestamp and
// v2-v4 a retention time (both keep Kafka's old per-offset expiry); v6+
// the committed leader epoch; v7+ group.instance.id. Simple consumers
// (generation -1, no member id) commit to groups without members. The
// response is sent once the records are in __consumer_offsets.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetCommit(r *request, req *kmsg.OffsetCommitRequest) (kmsg.Response, error) {
	resp := s.groups.coord.CommitOffsets(req)
	resp.SetVersion(req.Version)
	return resp, nil
}
