// AlterConfigs: versions 0-2. The legacy form of dynamic config changes:
// each resource's configs replace all of its existing ones (a key left
// out returns to its default), for TOPIC resources and for BROKER
// resources, this broker's node id or "" for the cluster default.
// validate_only checks without changing anything. BROKER_LOGGER is not
// accepted here, as in Kafka. The shared logic is in dynconfig.go.

package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/config"
)

func (s *Server) handleAlterConfigs(r *request, req *kmsg.AlterConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	resp.SetVersion(req.Version)
	res := make([]alterResource, len(req.Resources))
	for i, rr := range req.Resources {
		set := map[string]string{}
		ar := alterResource{typ: rr.ResourceType, name: rr.ResourceName}
		for _, c := range rr.Configs {
			ar.keys = append(ar.keys, c.Name)
			if c.Value == nil {
				ar.nulls = append(ar.nulls, c.Name)
				continue
			}
			set[c.Name] = *c.Value
		}
		ar.next = func(*config.Broker, map[string]string, bool) (map[string]string, error) { return set, nil }
		res[i] = ar
	}
	errs := s.alterConfigs(res, req.ValidateOnly)
	for i, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		sr.ErrorCode, sr.ErrorMessage = errCode(errs[i]), errMessage(errs[i])
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}
