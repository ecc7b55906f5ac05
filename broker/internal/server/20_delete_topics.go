// DeleteTopics: versions 0-6. v6+ names topics by name or by topic ID.

package server

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/meta"
)

var errDeleteDisabled = errors.New("topic deletion is disabled (delete.topic.enable=false)")

func (s *Server) handleDeleteTopics(r *request, req *kmsg.DeleteTopicsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	resp.SetVersion(req.Version)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for _, n := range req.TopicNames {
			targets = append(targets, target{name: &n})
		}
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		var t *topicState
		if tg.name != nil {
			t = s.parts.topic(*tg.name)
		} else {
			t = s.parts.topicByID(meta.TopicID(tg.id))
		}
		var err error
		switch {
		case !s.config().DeleteTopicEnable:
			err = fmt.Errorf("%w: %v", kerr.TopicDeletionDisabled, errDeleteDisabled)
		case t == nil && tg.name == nil:
			err = kerr.UnknownTopicID
		case t == nil:
			err = kerr.UnknownTopicOrPartition
		case t.internal:
			err = fmt.Errorf("%w: %s is an internal topic", kerr.InvalidRequest, t.name)
		default:
			name := t.name
			st.Topic, st.TopicID = &name, t.id
			err = s.parts.remove(t)
			if err == nil {
				s.groups.coord.TopicDeleted(name) // its committed offsets go too, as in Kafka
			}
		}
		st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
