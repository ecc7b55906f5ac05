// DeleteGroups: versions 0-2. Only empty groups are deleted, with their
// offsets (tombstones in __consumer_offsets); a group with members answers
// NON_EMPTY_GROUP and an unknown one GROUP_ID_NOT_FOUND.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDeleteGroups(r *request, req *kmsg.DeleteGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.SetVersion(req.Version)
	resp.Groups = s.groups.coord.DeleteGroups(req.Groups)
	return resp, nil
}
