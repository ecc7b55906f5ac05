// ElectLeaders (43): versions 0-2. v0 has no election type (it is always a
// preferred-replica election); v1 adds PREFERRED (0) and UNCLEAN (1).
//
// Followed: Apache Kafka's KRaft controller, which every broker forwards
// this request to (QuorumController.electLeaders and
// ReplicationControlManager.electLeaders / electLeader, error shape from
// ElectLeadersRequest.getErrorResponse).
//
// On this single node the only replica of every partition leads it, so:
//   - PREFERRED: the leader is the preferred (first) replica, ELECTION_NOT_NEEDED;
//   - UNCLEAN: the partition has a live leader, ELECTION_NOT_NEEDED (Kafka
//     elects uncleanly only a partition without a leader);
//   - a topic or partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION
//     with Kafka's message;
//   - null topics means every partition of every topic (internal ones
//     included); Kafka then leaves out the partitions whose answer is
//     ELECTION_NOT_NEEDED, so each topic comes back with no partitions;
//   - an empty (non-null) topic list is answered with an empty response;
//   - an election type other than 0 or 1 is INVALID_REQUEST at the top
//     (v1+) and on every named partition.

package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Election types (org.apache.kafka.common.ElectionType).
const (
	electPreferred int8 = 0
	electUnclean   int8 = 1
)

func (s *Server) handleElectLeaders(r *request, req *kmsg.ElectLeadersRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	resp.SetVersion(req.Version)
	if req.Topics != nil && len(req.Topics) == 0 {
		return resp, nil // nothing to elect (QuorumController.electLeaders)
	}
	how := req.ElectionType
	if req.Version == 0 {
		how = electPreferred
	}
	if how != electPreferred && how != electUnclean {
		msg := fmt.Sprintf("Unknown election type %d", how)
		resp.ErrorCode = kerr.InvalidRequest.Code // written in v1+ only
		for _, rt := range req.Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition = p
				sp.ErrorCode = kerr.InvalidRequest.Code
				sp.ErrorMessage = &msg
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	if req.Topics == nil {
		topics := s.parts.all()
		slices.SortFunc(topics, func(a, b *topicState) int { return strings.Compare(a.name, b.name) })
		for _, t := range topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = t.name
			for i := range s.partitionCount(t.name) {
				code, msg := s.electLeader(t.name, i, how)
				if code == kerr.ElectionNotNeeded.Code {
					continue // Kafka lists only partitions whose leader changed or failed to
				}
				st.Partitions = append(st.Partitions, electResult(i, code, msg))
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	for _, rt := range req.Topics {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			code, msg := s.electLeader(rt.Topic, p, how)
			st.Partitions = append(st.Partitions, electResult(p, code, msg))
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func electResult(p int32, code int16, msg *string) kmsg.ElectLeadersResponseTopicPartition {
	sp := kmsg.NewElectLeadersResponseTopicPartition()
	sp.Partition, sp.ErrorCode, sp.ErrorMessage = p, code, msg
	return sp
}

// electLeader is ReplicationControlManager.electLeader for one partition:
// its error code and message (nil where Kafka sends none). The leader of
// every partition is this node, the only live broker.
func (s *Server) electLeader(topic string, idx int32, how int8) (int16, *string) {
	t, p := s.parts.partition(topic, idx)
	switch {
	case t == nil:
		msg := "No such topic as " + topic
		return kerr.UnknownTopicOrPartition.Code, &msg
	case p == nil:
		msg := fmt.Sprintf("No such partition as %s-%d", topic, idx)
		return kerr.UnknownTopicOrPartition.Code, &msg
	}
	leader := s.config().NodeID
	preferred := len(p.replicas) > 0 && p.replicas[0] == leader
	if how == electUnclean || preferred {
		// UNCLEAN: the partition has a leader. PREFERRED: it is the
		// preferred replica.
		return kerr.ElectionNotNeeded.Code, nil
	}
	// The preferred replica is another broker, which is not alive here:
	// PartitionChangeBuilder finds no change to make.
	return kerr.PreferredLeaderNotAvailable.Code, nil
}
