// ConsumerGroupDescribe: versions 0-1 (KIP-848). Describes consumer-protocol
// groups: group and target assignment epochs, the assignor, and per member
// its epoch, subscription, current and target assignment; v1 adds the
// member type (always the consumer protocol here). A classic or unknown
// group gets GROUP_ID_NOT_FOUND. Authorized operations are not computed (no
// ACLs yet) and answered with Kafka's "not requested" value.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleConsumerGroupDescribe(r *request, req *kmsg.ConsumerGroupDescribeRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	resp.SetVersion(req.Version)
	resp.Groups = s.groups.coord.ConsumerDescribe(req.Groups)
	return resp, nil
}
