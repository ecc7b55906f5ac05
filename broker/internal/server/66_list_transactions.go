// ListTransactions: versions 0-1. Filters by state (unknown state names
// are listed back in UnknownStateFilters and match nothing), by producer
// id, and (v1) by running longer than DurationFilterMillis. v2's
// transactional id pattern is not advertised.

package server

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/txn"
)

func (s *Server) handleListTransactions(r *request, req *kmsg.ListTransactionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	resp.SetVersion(req.Version)
	var states []txn.State
	for _, name := range req.StateFilters {
		st, ok := txn.ParseState(name)
		if !ok {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
			continue
		}
		states = append(states, st)
	}
	if len(req.StateFilters) > 0 && len(states) == 0 {
		return resp, nil // only unknown states: nothing matches
	}
	minDuration := time.Duration(-1)
	if req.Version >= 1 && req.DurationFilterMillis >= 0 {
		minDuration = time.Duration(req.DurationFilterMillis) * time.Millisecond
	}
	for _, d := range s.txns.coord.List(states, req.ProducerIDFilters, minDuration) {
		ts := kmsg.NewListTransactionsResponseTransactionState()
		ts.TransactionalID, ts.ProducerID, ts.TransactionState = d.ID, d.ProducerID, d.State.String()
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	return resp, nil
}
