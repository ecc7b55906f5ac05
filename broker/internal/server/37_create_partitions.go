// CreatePartitions: versions 0-3. Manual assignments must name this broker.

package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleCreatePartitions(r *request, req *kmsg.CreatePartitionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	resp.SetVersion(req.Version)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		t := s.parts.topic(rt.Topic)
		switch {
		case seen[rt.Topic] > 1:
			err = fmt.Errorf("%w: topic %q appears more than once", kerr.InvalidRequest, rt.Topic)
		case t == nil:
			err = kerr.UnknownTopicOrPartition
		default:
			for _, a := range rt.Assignment {
				if len(a.Replicas) != 1 || a.Replicas[0] != s.config().NodeID {
					err = fmt.Errorf("%w: assignment %v names a broker other than %d", kerr.InvalidReplicaAssignment, a.Replicas, s.config().NodeID)
				}
			}
			if err == nil && rt.Assignment != nil && int32(len(rt.Assignment)) != rt.Count-int32(len(t.parts)) {
				err = fmt.Errorf("%w: %d assignments for %d new partitions", kerr.InvalidReplicaAssignment, len(rt.Assignment), rt.Count-int32(len(t.parts)))
			}
			if err == nil {
				err = s.parts.addPartitions(t, rt.Count, req.ValidateOnly)
			}
		}
		st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
