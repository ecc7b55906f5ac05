// DescribeGroups: versions 0-5. v3+ may ask for authorized operations,
// which are not computed (no ACLs yet) and answered with Kafka's "not
// requested" value. Member metadata and assignments are shown only for a
// Stable group; an unknown group is described as Dead, with no error.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeGroups(r *request, req *kmsg.DescribeGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	resp.SetVersion(req.Version)
	for _, g := range req.Groups {
		resp.Groups = append(resp.Groups, s.groups.coord.DescribeGroup(g))
	}
	return resp, nil
}
