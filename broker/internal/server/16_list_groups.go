// ListGroups: versions 0-5. v4+ filters by state names, v5+ by group type
// ("classic" or "consumer" for KIP-848 groups); both filters ignore case.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleListGroups(r *request, req *kmsg.ListGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.SetVersion(req.Version)
	resp.Groups, resp.ErrorCode = s.groups.coord.ListGroups(req.StatesFilter, req.TypesFilter)
	return resp, nil
}
