// FindCoordinator: versions 0-6. v1+ has the key type (0 group, 1
// transaction); v4+ batches keys. This single broker coordinates every
// group; asking for a group coordinator creates __consumer_offsets on
// first need, as Kafka does; asking for a transaction coordinator
// creates __transaction_state the same way.

package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleFindCoordinator(r *request, req *kmsg.FindCoordinatorRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	resp.SetVersion(req.Version)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	adv := s.advertisedFor(r.c.listener)
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		var err error
		switch req.CoordinatorType {
		case 0:
			err = s.ensureOffsetsTopic()
			if err != nil {
				s.log.Warn("group coordinator not available", "err", err)
				err = fmt.Errorf("%w: %v", kerr.CoordinatorNotAvailable, err)
			}
		case 1:
			err = s.ensureTxnTopic()
			if err != nil {
				s.log.Warn("transaction coordinator not available", "err", err)
				err = fmt.Errorf("%w: %v", kerr.CoordinatorNotAvailable, err)
			}
		default:
			err = fmt.Errorf("%w: unknown coordinator type %d", kerr.InvalidRequest, req.CoordinatorType)
		}
		if err != nil {
			c.NodeID, c.Port, c.ErrorCode, c.ErrorMessage = -1, -1, errCode(err), errMessage(err)
		} else {
			c.NodeID, c.Host, c.Port = s.config().NodeID, adv.Host, int32(adv.Port)
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if req.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
	}
	return resp, nil
}
