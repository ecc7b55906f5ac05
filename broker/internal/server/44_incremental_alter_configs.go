// IncrementalAlterConfigs: versions 0-1. Changes only the named keys of a
// resource: SET, DELETE, and APPEND and SUBTRACT on list configs (items
// comma-separated), for TOPIC resources and for BROKER resources, this
// broker's node id or "" for the cluster default. validate_only checks
// without changing anything. BROKER_LOGGER (log4j levels) is refused with
// INVALID_REQUEST: Sluice has no log4j. The shared logic is in dynconfig.go.

package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/config"
)

func (s *Server) handleIncrementalAlterConfigs(r *request, req *kmsg.IncrementalAlterConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resp.SetVersion(req.Version)
	res := make([]alterResource, len(req.Resources))
	for i, rr := range req.Resources {
		ar := alterResource{typ: rr.ResourceType, name: rr.ResourceName}
		var ops []config.Op
		for _, c := range rr.Configs {
			ar.keys = append(ar.keys, c.Name)
			op := config.Op{Name: c.Name, Op: config.OpType(c.Op)}
			if !op.Op.Valid() && ar.err == nil {
				ar.err = apiErr(kerr.InvalidRequest, "Unknown operations type %d for config %s", int8(c.Op), c.Name)
			}
			if c.Value != nil {
				op.Value = *c.Value
			} else if op.Op != config.OpDelete {
				ar.nulls = append(ar.nulls, c.Name)
			}
			ops = append(ops, op)
		}
		ar.next = func(b *config.Broker, cur map[string]string, topic bool) (map[string]string, error) {
			if topic {
				return b.ApplyTopicOps(cur, ops)
			}
			return b.ApplyBrokerOps(cur, ops)
		}
		res[i] = ar
	}
	errs := s.alterConfigs(res, req.ValidateOnly)
	for i, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		sr.ErrorCode, sr.ErrorMessage = errCode(errs[i]), errMessage(errs[i])
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}
