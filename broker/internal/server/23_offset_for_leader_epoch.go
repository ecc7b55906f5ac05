// OffsetForLeaderEpoch: versions 0-4. Answers the end offset of the asked
// epoch from the partition's leader-epoch cache (v1+ also the epoch
// itself, the largest one not above the asked one); v2+ checks the
// current leader epoch. Followers use it to truncate after a leader
// change; consumers use it to detect log truncation (KIP-320).

package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetForLeaderEpoch(r *request, req *kmsg.OffsetForLeaderEpochRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	resp.SetVersion(req.Version)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			_, p := s.parts.partition(rt.Topic, rp.Partition)
			switch {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				if req.Version >= 2 && rp.CurrentLeaderEpoch >= 0 {
					if err := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.epoch()); err != nil {
						sp.ErrorCode = errCode(err)
						break
					}
				}
				sp.LeaderEpoch, sp.EndOffset = p.log.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
