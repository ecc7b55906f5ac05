// DescribeAcls (29), CreateAcls (30), DeleteAcls (31): versions 0-3.
//
// Sluice has no authorizer, so these answer what Apache Kafka answers when
// authorizer.class.name is unset (core/src/main/scala/kafka/server/AclApis.scala,
// the `case None` branches): SECURITY_DISABLED with "No Authorizer is
// configured on the broker" at the top of a DescribeAcls response, and with
// "No Authorizer is configured." on every creation of a CreateAcls and every
// filter of a DeleteAcls (CreateAclsRequest/DeleteAclsRequest.getErrorResponse).
// Tools (kafka-acls, kadm, kafkajs) show that answer as "security is
// disabled" instead of failing on a closed connection.
//
// Kafka checks the request while parsing it, before any handler runs
// (DescribeAclsRequest.normalizeAndValidate, CreateAclsRequest.validate,
// DeleteAclsRequest.normalizeAndValidate): a resource type, pattern type,
// operation or permission that is UNKNOWN (code 0 or a code Kafka does not
// know), or a v0 pattern other than LITERAL (or ANY in a filter), fails the
// parse, and Kafka's SocketServer closes the connection. The handlers here
// do the same by returning an error, which closes the connection.
//
// Kafka 4.0 dropped v0 of these APIs (KIP-896); Sluice keeps it, as it keeps
// the other old version floors in apiVersions for clients still in use, and
// answers it the way Kafka 3.x did.

package server

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The messages Kafka puts next to SECURITY_DISABLED: AclApis writes the
// first into DescribeAcls responses and throws SecurityDisabledException
// with the second for CreateAcls and DeleteAcls.
const (
	msgNoAuthorizerDescribe = "No Authorizer is configured on the broker"
	msgNoAuthorizer         = "No Authorizer is configured."
)

// errMalformedACL is the parse failure Kafka closes the connection for.
var errMalformedACL = errors.New("server: malformed ACL request")

// ACL enum codes Kafka knows (org.apache.kafka.common.acl.AclOperation,
// AclPermissionType, resource.ResourceType, resource.PatternType); 0 is
// UNKNOWN in each, and so is any code outside these ranges.
const (
	aclPatternAny     = 1
	aclPatternLiteral = 3
	aclPatternMax     = 4  // PREFIXED
	aclResourceMax    = 7  // USER
	aclOperationMax   = 15 // TWO_PHASE_COMMIT (KIP-939)
	aclPermissionMax  = 3  // ALLOW
)

// checkACLBinding applies Kafka's parse-time checks to one filter or
// creation. filter says whether pattern ANY is allowed in v0 (filters
// normalize it to LITERAL; creations must be LITERAL).
func checkACLBinding(version int16, filter bool, rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) error {
	if version == 0 {
		// v0 has no pattern type on the wire: it is LITERAL. A request
		// built in memory may still carry another value.
		if pt != aclPatternLiteral && !(filter && pt == aclPatternAny) {
			return fmt.Errorf("%w: version 0 only supports literal resource pattern types", errMalformedACL)
		}
		pt = aclPatternLiteral
	}
	if pt < 1 || pt > aclPatternMax || rt < 1 || rt > aclResourceMax ||
		op < 1 || op > aclOperationMax || perm < 1 || perm > aclPermissionMax {
		return fmt.Errorf("%w: UNKNOWN element (resource type %d, pattern type %d, operation %d, permission %d)",
			errMalformedACL, rt, pt, op, perm)
	}
	return nil
}

func (s *Server) handleDescribeACLs(r *request, req *kmsg.DescribeACLsRequest) (kmsg.Response, error) {
	if err := checkACLBinding(req.Version, true, req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType); err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.SetVersion(req.Version)
	resp.ErrorCode = kerr.SecurityDisabled.Code
	msg := msgNoAuthorizerDescribe
	resp.ErrorMessage = &msg
	return resp, nil
}

func (s *Server) handleCreateACLs(r *request, req *kmsg.CreateACLsRequest) (kmsg.Response, error) {
	for i := range req.Creations {
		c := &req.Creations[i]
		if err := checkACLBinding(req.Version, false, c.ResourceType, c.ResourcePatternType, c.Operation, c.PermissionType); err != nil {
			return nil, err
		}
	}
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.SetVersion(req.Version)
	for range req.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode = kerr.SecurityDisabled.Code
		msg := msgNoAuthorizer
		res.ErrorMessage = &msg
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

func (s *Server) handleDeleteACLs(r *request, req *kmsg.DeleteACLsRequest) (kmsg.Response, error) {
	for i := range req.Filters {
		f := &req.Filters[i]
		if err := checkACLBinding(req.Version, true, f.ResourceType, f.ResourcePatternType, f.Operation, f.PermissionType); err != nil {
			return nil, err
		}
	}
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.SetVersion(req.Version)
	for range req.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		res.ErrorCode = kerr.SecurityDisabled.Code
		msg := msgNoAuthorizer
		res.ErrorMessage = &msg
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
