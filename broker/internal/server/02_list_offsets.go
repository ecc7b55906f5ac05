// ListOffsets: versions 1-8. Timestamps: -1 latest (the high watermark, or
// the last stable offset for read_committed), -2 earliest, -3 the record
// with the largest timestamp (v7+), -4 earliest local (v8+, the same as
// earliest without tiered storage); any other value finds the first record
// with a timestamp at or after it. v4+ checks the current leader epoch.

package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleListOffsets(r *request, req *kmsg.ListOffsetsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	resp.SetVersion(req.Version)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			if err := s.listOffset(req, rt.Topic, &rp, &sp); err != nil {
				sp.ErrorCode = errCode(err)
				sp.Timestamp, sp.Offset = -1, -1
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (s *Server) listOffset(req *kmsg.ListOffsetsRequest, topic string, rp *kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	_, p := s.parts.partition(topic, rp.Partition)
	if p == nil {
		return kerr.UnknownTopicOrPartition
	}
	epoch := p.epoch()
	if req.Version >= 4 && rp.CurrentLeaderEpoch >= 0 {
		if err := checkLeaderEpoch(rp.CurrentLeaderEpoch, epoch); err != nil {
			return err
		}
	}
	sp.LeaderEpoch = epoch
	switch ts := rp.Timestamp; {
	case ts == -1:
		sp.Offset = p.highWatermark()
		if req.IsolationLevel == 1 {
			sp.Offset = p.lastStableOffset()
		}
	case ts == -2 || (ts == -4 && req.Version >= 8):
		sp.Offset = p.log.StartOffset()
	case ts == -3 && req.Version >= 7:
		mts, off := p.log.MaxTimestamp()
		sp.Timestamp, sp.Offset = mts, off
		if off < 0 {
			sp.LeaderEpoch = -1
		}
	case ts < 0:
		return kerr.InvalidRequest
	default:
		off, fts, ok, err := p.log.OffsetForTimestamp(ts)
		if err != nil {
			return err
		}
		if !ok || off >= p.highWatermark() {
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			return nil
		}
		sp.Timestamp, sp.Offset = fts, off
	}
	return nil
}
