// DescribeCluster: versions 0-1. v1 endpoint type 1 (brokers) is served;
// asking a broker listener for controllers (type 2) is UNSUPPORTED_ENDPOINT_TYPE,
// as in Kafka.

package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeCluster(r *request, req *kmsg.DescribeClusterRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.SetVersion(req.Version)
	resp.EndpointType = req.EndpointType
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "this listener serves brokers only (endpoint type 1)"
		resp.ErrorMessage = &msg
		return resp, nil
	}
	adv := s.advertisedFor(r.c.listener)
	resp.ClusterID = s.clusterID
	resp.ControllerID = s.config().NodeID
	resp.ClusterAuthorizedOperations = -2147483648
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{{NodeID: s.config().NodeID, Host: adv.Host, Port: int32(adv.Port)}}
	return resp, nil
}
