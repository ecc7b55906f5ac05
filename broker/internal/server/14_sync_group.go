// SyncGroup: versions 0-5. v3+ carries group.instance.id; v5+ the protocol
// type and name, checked against the group's (INCONSISTENT_GROUP_PROTOCOL).
// Followers wait (a long poll) until the leader's assignment is stored.

package server

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleSyncGroup(ctx context.Context, r *request, req *kmsg.SyncGroupRequest) (kmsg.Response, error) {
	resp, err := s.groups.coord.SyncGroup(ctx, req)
	if err != nil {
		return nil, err
	}
	resp.SetVersion(req.Version)
	return resp, nil
}
