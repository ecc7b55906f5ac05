// Heartbeat: versions 0-4. v3+ carries group.instance.id. A heartbeat
// during a rebalance answers REBALANCE_IN_PROGRESS, which tells the member
// to rejoin; while the group's partition loads it answers no error.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleHeartbeat(r *request, req *kmsg.HeartbeatRequest) (kmsg.Response, error) {
	resp := s.groups.coord.Heartbeat(req)
	resp.SetVersion(req.Version)
	return resp, nil
}
