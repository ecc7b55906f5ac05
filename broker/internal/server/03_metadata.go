// Metadata: versions 0-12. v0 asks for all topics with an empty list, v1+
// with a null one; v4+ says whether to auto-create (older versions always
// may); v10+ carries topic IDs; v8-v10 authorized operations are not
// computed (no ACLs yet) and answered with Kafka's "not requested" value.

package server

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/config"
	"github.com/sluicehq/sluice/broker/internal/meta"
)

func (s *Server) handleMetadata(r *request, req *kmsg.MetadataRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.SetVersion(req.Version)
	adv := s.advertisedFor(r.c.listener)
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: s.config().NodeID, Host: adv.Host, Port: int32(adv.Port)}}
	resp.ClusterID = &s.clusterID
	resp.ControllerID = s.config().NodeID
	resp.AuthorizedOperations = -2147483648

	allowAuto := req.Version < 4 || req.AllowAutoTopicCreation
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range s.parts.all() {
			resp.Topics = append(resp.Topics, s.metadataTopic(t))
		}
		return resp, nil
	}
	for _, rt := range req.Topics {
		var t *topicState
		switch {
		case rt.Topic != nil:
			t = s.parts.topic(*rt.Topic)
			if t == nil && allowAuto && s.config().AutoCreateTopics {
				// As in Kafka, the request that creates the topic is
				// answered LEADER_NOT_AVAILABLE without partitions;
				// clients retry and the next Metadata shows them. A
				// client that deletes a topic and then looks at it
				// (kafka-go's tests do) sees it gone before it is back.
				code := kerr.LeaderNotAvailable.Code
				if _, err := s.autoCreate(*rt.Topic); err != nil {
					code = errCode(err)
				}
				resp.Topics = append(resp.Topics, kmsg.MetadataResponseTopic{Topic: rt.Topic, ErrorCode: code})
				continue
			}
		case rt.TopicID != [16]byte{}:
			t = s.parts.topicByID(meta.TopicID(rt.TopicID))
		}
		if t == nil {
			mt := kmsg.MetadataResponseTopic{Topic: rt.Topic, TopicID: rt.TopicID, ErrorCode: kerr.UnknownTopicOrPartition.Code}
			if rt.Topic != nil && validateTopicName(*rt.Topic) != nil {
				mt.ErrorCode = kerr.InvalidTopicException.Code
			} else if rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, s.metadataTopic(t))
	}
	return resp, nil
}

// autoCreate creates a topic with the broker defaults, as Metadata does
// when auto.create.topics.enable is set (Produce never creates, as in
// Kafka). A concurrent creation of the same topic is not an error.
func (s *Server) autoCreate(name string) (*topicState, error) {
	if internalTopics[name] {
		return nil, kerr.InvalidRequest
	}
	t, err := s.parts.create(name, -1, -1, nil, false)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		if t = s.parts.topic(name); t != nil {
			return t, nil
		}
	}
	if err != nil {
		s.log.Info("auto-creating topic failed", "topic", name, "err", err)
		return nil, err
	}
	return t, nil
}

// advertisedFor is the address this broker gives clients that connected
// through the named listener.
func (s *Server) advertisedFor(listener string) config.Listener { return s.advertised[listener] }

func (s *Server) metadataTopic(t *topicState) kmsg.MetadataResponseTopic {
	name := t.name
	mt := kmsg.MetadataResponseTopic{Topic: &name, TopicID: t.id, IsInternal: t.internal, AuthorizedOperations: -2147483648}
	s.parts.mu.RLock()
	parts := t.parts
	s.parts.mu.RUnlock()
	for _, p := range parts {
		mt.Partitions = append(mt.Partitions, kmsg.MetadataResponseTopicPartition{
			Partition:   p.index,
			Leader:      s.config().NodeID,
			LeaderEpoch: p.epoch(),
			Replicas:    p.replicas,
			ISR:         p.isr,
		})
	}
	return mt
}
