// DescribeTransactions: version 0. Each transactional id's state, timeout,
// start time (-1 when no transaction is ongoing), producer id and epoch and
// the partitions of its ongoing transaction; an unknown id answers
// TRANSACTIONAL_ID_NOT_FOUND.

package server

import "github.com/twmb/franz-go/pkg/kmsg"

func (s *Server) handleDescribeTransactions(r *request, req *kmsg.DescribeTransactionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	resp.SetVersion(req.Version)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.StartTimestamp, st.ProducerID, st.ProducerEpoch = id, -1, -1, -1
		d, err := s.txns.coord.Describe(id)
		if err != nil {
			st.ErrorCode = errCode(err)
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		st.State = d.State.String()
		st.TimeoutMillis = int32(d.Timeout.Milliseconds())
		if !d.Start.IsZero() {
			st.StartTimestamp = d.Start.UnixMilli()
		}
		st.ProducerID, st.ProducerEpoch = d.ProducerID, d.ProducerEpoch
		for _, tp := range d.Partitions {
			if n := len(st.Topics); n > 0 && st.Topics[n-1].Topic == tp.Topic {
				st.Topics[n-1].Partitions = append(st.Topics[n-1].Partitions, tp.Partition)
				continue
			}
			t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
			st.Topics = append(st.Topics, t)
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}
