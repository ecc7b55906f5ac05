// CreateTopics: versions 0-7. v1+ has validate_only; v5+ returns the
// created topic's partitions, replication factor and configs; v7+ its ID.
// Manual replica assignments are accepted when they name this broker only.

package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleCreateTopics(r *request, req *kmsg.CreateTopicsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	resp.SetVersion(req.Version)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		fail := func(err error) {
			st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
			st.NumPartitions, st.ReplicationFactor = -1, -1
			resp.Topics = append(resp.Topics, st)
		}
		if seen[rt.Topic] > 1 {
			fail(fmt.Errorf("%w: topic %q appears more than once in the request", kerr.InvalidRequest, rt.Topic))
			continue
		}
		if internalTopics[rt.Topic] {
			fail(fmt.Errorf("%w: %s is an internal topic the broker creates itself", kerr.InvalidRequest, rt.Topic))
			continue
		}
		parts, rf := rt.NumPartitions, rt.ReplicationFactor
		if len(rt.ReplicaAssignment) > 0 {
			if parts != -1 || rf != -1 {
				fail(fmt.Errorf("%w: give either a replica assignment or partitions and replication factor, not both", kerr.InvalidRequest))
				continue
			}
			if err := s.checkAssignment(rt.ReplicaAssignment); err != nil {
				fail(err)
				continue
			}
			parts, rf = int32(len(rt.ReplicaAssignment)), int16(len(rt.ReplicaAssignment[0].Replicas))
		}
		configs := map[string]string{}
		var badConfig error
		for _, c := range rt.Configs {
			if c.Value == nil {
				badConfig = fmt.Errorf("%w: config %s has a null value", kerr.InvalidConfig, c.Name)
				break
			}
			configs[c.Name] = *c.Value
		}
		if badConfig != nil {
			fail(badConfig)
			continue
		}
		if len(configs) == 0 {
			configs = nil
		}
		t, err := s.parts.create(rt.Topic, parts, rf, configs, req.ValidateOnly)
		if err != nil {
			fail(err)
			continue
		}
		if parts == -1 {
			parts = s.config().NumPartitions
		}
		if rf == -1 {
			rf = s.config().DefaultReplicationFactor
		}
		st.NumPartitions, st.ReplicationFactor = parts, rf
		if t != nil {
			st.TopicID = t.id
			if req.Version >= 5 {
				for _, e := range s.config().DescribeTopic(t.conf.Load().overrides, false, false) {
					st.Configs = append(st.Configs, kmsg.CreateTopicsResponseTopicConfig{
						Name: e.Name, Value: e.Value, ReadOnly: e.ReadOnly, Source: int8(e.Source),
						IsSensitive: e.Sensitive,
					})
				}
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (s *Server) checkAssignment(as []kmsg.CreateTopicsRequestTopicReplicaAssignment) error {
	for i, a := range as {
		if a.Partition != int32(i) {
			return fmt.Errorf("%w: replica assignment partitions must be 0..%d in order", kerr.InvalidReplicaAssignment, len(as)-1)
		}
		if len(a.Replicas) != 1 || a.Replicas[0] != s.config().NodeID {
			return fmt.Errorf("%w: partition %d names brokers %v; the only broker is %d", kerr.InvalidReplicaAssignment, i, a.Replicas, s.config().NodeID)
		}
	}
	return nil
}
