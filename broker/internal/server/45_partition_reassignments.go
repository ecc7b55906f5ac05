// AlterPartitionReassignments (45): versions 0-1 (v1, Kafka 4.1, adds
// AllowReplicationFactorChange). ListPartitionReassignments (46): version 0.
//
// Followed: Apache Kafka's KRaft controller, which brokers forward both
// requests to (QuorumController.alterPartitionReassignments /
// listPartitionReassignments, ReplicationControlManager.
// alterPartitionReassignment, cancelPartitionReassignment,
// changePartitionReassignment, validateManualPartitionAssignment,
// listPartitionReassignments), with its error messages. The controller
// treats internal topics (__consumer_offsets, __transaction_state) like any
// other topic, and so does this file.
//
// On a single node a reassignment never has anything to move: the only
// valid target of any partition is [this node], which is already its
// replica list, so Kafka's PartitionChangeBuilder produces no change and
// the reassignment is complete when it is answered. Hence:
//   - target [this node]: NONE, and nothing is listed afterwards;
//   - an empty target, a broker that is not registered (any id but this
//     node's) or a broker named twice: INVALID_REPLICA_ASSIGNMENT, checked
//     in ascending broker id order as Kafka does;
//   - null replicas (cancel) while nothing is in progress, which is always:
//     NO_REASSIGNMENT_IN_PROGRESS with no message (Kafka drops a message
//     equal to the code's default one);
//   - an unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION;
//   - ListPartitionReassignments lists nothing; Kafka skips unknown topics
//     and partitions there silently, so they are no error either.

package server

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleAlterPartitionAssignments(r *request, req *kmsg.AlterPartitionAssignmentsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.SetVersion(req.Version)
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	if len(req.Topics) == 0 {
		// QuorumController answers a fresh AlterPartitionReassignmentsResponseData,
		// whose error message defaults to "" rather than null.
		empty := ""
		resp.ErrorMessage = &empty
		return resp, nil
	}
	allowRF := req.Version < 1 || req.AllowReplicationFactorChange
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode, sp.ErrorMessage = s.alterPartitionReassignment(rt.Topic, rp.Partition, rp.Replicas, allowRF)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// alterPartitionReassignment answers one partition of an
// AlterPartitionReassignments request: an error code and message (nil
// where Kafka sends none).
func (s *Server) alterPartitionReassignment(topic string, idx int32, target []int32, allowRF bool) (int16, *string) {
	fail := func(code int16, format string, args ...any) (int16, *string) {
		msg := fmt.Sprintf(format, args...)
		return code, &msg
	}
	t, p := s.parts.partition(topic, idx)
	switch {
	case t == nil:
		return fail(kerr.UnknownTopicOrPartition.Code, "Unable to find a topic named %s.", topic)
	case p == nil:
		return fail(kerr.UnknownTopicOrPartition.Code, "Unable to find partition %s:%d.", topic, idx)
	case target == nil:
		// Cancelling: no reassignment is ever in progress here.
		return kerr.NoReassignmentInProgress.Code, nil
	case len(target) == 0:
		return fail(kerr.InvalidReplicaAssignment.Code, "The manual partition assignment includes an empty replica list.")
	}
	sorted := slices.Sorted(slices.Values(target))
	for i, b := range sorted {
		if !s.brokerRegistered(b) {
			return fail(kerr.InvalidReplicaAssignment.Code, "The manual partition assignment includes broker %d, but no such broker is registered.", b)
		}
		if i > 0 && sorted[i-1] == b {
			return fail(kerr.InvalidReplicaAssignment.Code, "The manual partition assignment includes the broker %d more than once.", b)
		}
	}
	if !allowRF && len(target) != len(p.replicas) {
		// Unreachable on one node (a valid target has one replica, as
		// every partition here does); kept for when brokers join.
		return fail(kerr.InvalidReplicationFactor.Code, "The replication factor is changed from %d to %d", len(p.replicas), len(target))
	}
	if !slices.Equal(target, p.replicas) {
		// Also unreachable on one node: moving a replica needs another
		// broker, which brokerRegistered does not accept yet.
		return fail(kerr.InvalidReplicaAssignment.Code, "Moving replicas from %v to %v is not supported by this broker.", p.replicas, target)
	}
	return 0, nil // the target is the current assignment: done at once
}

// brokerRegistered says whether id names a registered broker. A single-node
// broker knows only itself.
func (s *Server) brokerRegistered(id int32) bool { return id == s.config().NodeID }

func (s *Server) handleListPartitionReassignments(r *request, req *kmsg.ListPartitionReassignmentsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.SetVersion(req.Version)
	// No partition is ever being reassigned (see the file comment), and
	// Kafka lists only reassigning partitions, skipping named topics and
	// partitions that do not exist without an error: the list is empty
	// whatever was asked.
	return resp, nil
}
