// OffsetDelete: version 0. Removes committed offsets of an empty group, or
// of topics a "consumer" group's members do not subscribe to
// (GROUP_SUBSCRIBED_TO_TOPIC for the others). An empty group left without
// offsets is deleted, as Kafka does.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetDelete(r *request, req *kmsg.OffsetDeleteRequest) (kmsg.Response, error) {
	resp := s.groups.coord.DeleteOffsets(req)
	resp.SetVersion(req.Version)
	return resp, nil
}
