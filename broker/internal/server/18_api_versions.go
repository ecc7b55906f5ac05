// ApiVersions: versions 0-4. v3+ (KIP-511) carries the client's software
// name and version; a request of a version above ours is answered with v0
// and UNSUPPORTED_VERSION so the client retries with one we support.

package server

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleApiVersions(r *request, req *kmsg.ApiVersionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.SetVersion(req.Version)
	if r.badVersion {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	}
	keys := make([]int, 0, len(apiVersions))
	for k := range apiVersions {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	for _, k := range keys {
		vr := apiVersions[int16(k)]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{
			ApiKey:     int16(k),
			MinVersion: vr.min,
			MaxVersion: vr.max,
		})
	}
	return resp, nil
}
