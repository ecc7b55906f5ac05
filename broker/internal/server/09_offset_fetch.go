// OffsetFetch: versions 0-9. v2+ null topics ask for every partition with
// a commit and carry a group-level error (v0-v1 put it on each partition);
// v5+ the committed leader epoch; v7+ require_stable: a partition with a
// transactional offset commit still waiting for its marker answers
// UNSTABLE_OFFSET_COMMIT (offset -1, no metadata) instead of the last
// stable offset, per partition, as Kafka's OffsetMetadataManager does, and
// the client retries (KIP-447); v8 asks for several groups; v9 names the
// member and its epoch, checked for consumer-protocol (KIP-848) groups
// (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH). A partition with no commit
// answers offset -1.

package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/group"
)

// stable returns p as OffsetFetch answers it: with requireStable, a
// partition whose transactional offsets wait for their marker has no
// offset yet, only UNSTABLE_OFFSET_COMMIT.
func stable(p group.PartitionOffset, requireStable bool) (group.PartitionOffset, int16) {
	if !requireStable || !p.Pending {
		return p, 0
	}
	return group.PartitionOffset{Partition: p.Partition, Offset: -1, LeaderEpoch: -1}, kerr.UnstableOffsetCommit.Code
}

func (s *Server) handleOffsetFetch(r *request, req *kmsg.OffsetFetchRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	resp.SetVersion(req.Version)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var want []group.TopicPartitions
			if rg.Topics != nil {
				want = []group.TopicPartitions{}
				for _, t := range rg.Topics {
					want = append(want, group.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			memberID, epoch := (*string)(nil), int32(-1)
			if req.Version >= 9 {
				memberID, epoch = rg.MemberID, rg.MemberEpoch
			}
			got, err := s.groups.coord.FetchMemberOffsets(rg.Group, memberID, epoch, want)
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			sg.ErrorCode = errCode(err)
			for _, t := range got {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = t.Topic
				for _, p := range t.Partitions {
					sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					p, sp.ErrorCode = stable(p, req.RequireStable)
					sp.Partition, sp.Offset, sp.LeaderEpoch = p.Partition, p.Offset, p.LeaderEpoch
					meta := p.Metadata
					sp.Metadata = &meta
					st.Partitions = append(st.Partitions, sp)
				}
				sg.Topics = append(sg.Topics, st)
			}
			resp.Groups = append(resp.Groups, sg)
		}
		return resp, nil
	}
	var want []group.TopicPartitions
	if req.Topics != nil || req.Version < 2 {
		want = []group.TopicPartitions{}
		for _, t := range req.Topics {
			want = append(want, group.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	got, err := s.groups.coord.FetchOffsets(req.Group, want)
	if err != nil && req.Version >= 2 {
		resp.ErrorCode = errCode(err)
		return resp, nil
	}
	if err != nil {
		// v0-v1 have no group error: every partition carries it.
		got = nil
		for _, t := range req.Topics {
			to := group.TopicOffsets{Topic: t.Topic}
			for _, p := range t.Partitions {
				to.Partitions = append(to.Partitions, group.PartitionOffset{Partition: p, Offset: -1, LeaderEpoch: -1})
			}
			got = append(got, to)
		}
	}
	for _, t := range got {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			p, sp.ErrorCode = stable(p, req.Version >= 7 && req.RequireStable)
			sp.Partition, sp.Offset, sp.LeaderEpoch = p.Partition, p.Offset, p.LeaderEpoch
			meta := p.Metadata
			sp.Metadata = &meta
			if err != nil {
				sp.ErrorCode = errCode(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
