// ConsumerGroupHeartbeat: versions 0-1 (KIP-848, the consumer group
// protocol). v0 lets the coordinator name a new member; v1 (Kafka 4.0,
// what franz-go and the Java client use) has the client name itself and
// adds SubscribedTopicRegex. The coordinator assigns partitions with its
// server-side assignors (uniform, range) and reconciles each member
// incrementally: a partition reaches its new owner only after the old one
// revoked it.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/group"
)

func (s *Server) handleConsumerGroupHeartbeat(r *request, req *kmsg.ConsumerGroupHeartbeatRequest) (kmsg.Response, error) {
	resp := s.groups.coord.ConsumerHeartbeat(group.Client{ID: r.clientID, Host: clientHost(r)}, req)
	resp.SetVersion(req.Version)
	return resp, nil
}
