// DescribeConfigs: versions 0-4. Topic (2) and broker (4) resources; a
// broker resource is this broker's node id (every broker config, from
// whichever layer sets it), or "" for the cluster-wide dynamic defaults
// (only the keys set at that level, as Kafka answers). v1+ reports each value's source and, when asked, its synonyms
// (the broker keys it falls back to, most specific first); v3+ the type
// and documentation. v0 has is_default instead of a source.

package server

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/config"
)

func (s *Server) handleDescribeConfigs(r *request, req *kmsg.DescribeConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	resp.SetVersion(req.Version)
	cfg := s.config() // one config for the whole answer
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []config.Entry
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := s.parts.topic(rr.ResourceName)
			if t == nil {
				err = kerr.UnknownTopicOrPartition
				if validateTopicName(rr.ResourceName) != nil {
					err = kerr.InvalidTopicException
				}
				break
			}
			overrides, _ := s.parts.topicConfig(t)
			entries = cfg.DescribeTopic(overrides, req.IncludeSynonyms, req.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			switch rr.ResourceName {
			case "":
				entries = cfg.DescribeDefault(req.IncludeSynonyms, req.IncludeDocumentation)
			case strconv.Itoa(int(cfg.NodeID)):
				entries = cfg.Describe(req.IncludeSynonyms, req.IncludeDocumentation)
			default:
				err = fmt.Errorf("%w: Unexpected broker id, expected %d or empty string, but received %s", kerr.InvalidRequest, cfg.NodeID, rr.ResourceName)
			}
		default:
			err = fmt.Errorf("%w: resource type %d is not supported", kerr.InvalidRequest, rr.ResourceType)
		}
		if err != nil {
			sr.ErrorCode, sr.ErrorMessage = errCode(err), errMessage(err)
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		want := map[string]bool{}
		for _, n := range rr.ConfigNames {
			want[n] = true
		}
		for _, e := range entries {
			if rr.ConfigNames != nil && !want[e.Name] {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Sensitive
			c.IsDefault = e.IsDefault
			c.Source = kmsg.ConfigSource(e.Source)
			c.ConfigType = kmsg.ConfigType(e.Type)
			if req.IncludeDocumentation {
				doc := e.Doc
				c.Documentation = &doc
			}
			for _, syn := range e.Synonyms {
				c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{
					Name: syn.Name, Value: syn.Value, Source: kmsg.ConfigSource(syn.Source),
				})
			}
			sr.Configs = append(sr.Configs, c)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}
