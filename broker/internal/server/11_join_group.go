// JoinGroup: versions 0-9. v0 has no rebalance timeout (the session
// timeout is used); v4+ answers MEMBER_ID_REQUIRED to a new member (KIP-394);
// v5+ carries group.instance.id (static membership); v7+ the protocol
// type in the response; v9 skip_assignment for a rejoining static leader
// (KIP-814). The request is a long poll: it returns when the rebalance
// completes, without holding up other requests on the connection.

package server

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/group"
)

func (s *Server) handleJoinGroup(ctx context.Context, r *request, req *kmsg.JoinGroupRequest) (kmsg.Response, error) {
	resp, err := s.groups.coord.JoinGroup(ctx, group.Client{ID: r.clientID, Host: clientHost(r)}, req)
	if err != nil {
		return nil, err
	}
	resp.SetVersion(req.Version)
	if resp.Protocol == nil && req.Version < 7 {
		empty := "" // not nullable before v7
		resp.Protocol = &empty
	}
	return resp, nil
}

// clientHost is the client's address as Kafka shows it in DescribeGroups
// ("/127.0.0.1").
func clientHost(r *request) string {
	host := r.c.remote
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "/" + host
}
