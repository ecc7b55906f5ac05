// DeleteRecords: versions 0-2. Offset -1 means the high watermark. The new
// log start offset is persisted before the response.

package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDeleteRecords(r *request, req *kmsg.DeleteRecordsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	resp.SetVersion(req.Version)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			low, err := s.deleteRecords(rt.Topic, rp.Partition, rp.Offset)
			if err != nil {
				sp.ErrorCode = errCode(err)
			} else {
				sp.LowWatermark = low
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (s *Server) deleteRecords(topic string, idx int32, offset int64) (int64, error) {
	t, p := s.parts.partition(topic, idx)
	if p == nil {
		return 0, kerr.UnknownTopicOrPartition
	}
	policy := t.config().CleanupPolicy
	for _, pol := range policy {
		if pol == "compact" && len(policy) == 1 {
			return 0, fmt.Errorf("%w: records of compacted topic %s cannot be deleted", kerr.PolicyViolation, topic)
		}
	}
	hw := p.highWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return 0, kerr.OffsetOutOfRange
	}
	return p.log.DeleteRecordsBefore(offset)
}
