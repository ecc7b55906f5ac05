// LeaveGroup: versions 0-5. v0-v2 name one member and answer with a
// top-level error; v3+ remove a batch of members, each with its own error,
// and may name static members by group.instance.id alone.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleLeaveGroup(r *request, req *kmsg.LeaveGroupRequest) (kmsg.Response, error) {
	resp := s.groups.coord.LeaveGroup(req)
	resp.SetVersion(req.Version)
	return resp, nil
}
