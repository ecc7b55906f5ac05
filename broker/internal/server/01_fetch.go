// Fetch: versions 4-16. v7+ fetch sessions (KIP-227) are declined: the
// broker answers session id 0, which tells the client to keep sending full
// fetches. As in Kafka's FetchManager, a session epoch of 0 (initial) or
// -1 (final) asks for a full fetch whatever the session id (a named
// session would be closed, and this broker keeps none), so it is served;
// any other epoch is an incremental fetch of a session this broker does
// not have and gets FETCH_SESSION_ID_NOT_FOUND. v9+
// checks the current leader epoch; v13+ names topics by ID. A fetch waits
// up to MaxWaitMillis for MinBytes, woken by appends to its partitions.
//
// Every partition answer carries the last stable offset. With
// isolation_level=1 (read_committed) data is served only below it, and the
// aborted transactions overlapping the served batches are listed (producer
// id, first offset) so the client drops their records; read_uncommitted
// gets everything, aborted data included, as Kafka serves it. A marker
// append wakes long polls like any append, so the LSO moving is seen.

package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/batch"
	"github.com/sluicehq/sluice/broker/internal/meta"
)

func (s *Server) handleFetch(ctx context.Context, r *request, req *kmsg.FetchRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.SetVersion(req.Version)
	if req.Version >= 7 && req.SessionEpoch != 0 && req.SessionEpoch != -1 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	if req.ReplicaID >= 0 {
		return nil, fmt.Errorf("replica fetch from broker %d, but replication is not enabled on this broker", req.ReplicaID)
	}

	// Resolve partitions once; the response mirrors the request's order.
	type target struct {
		t  *topicState
		p  *partition
		rp *kmsg.FetchRequestTopicPartition
		sp *kmsg.FetchResponseTopicPartition
	}
	var targets []target
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *topicState
		if req.Version >= 13 {
			t = s.parts.topicByID(meta.TopicID(rt.TopicID))
		} else {
			t = s.parts.topic(rt.Topic)
		}
		for range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &resp.Topics[len(resp.Topics)-1].Partitions[j]
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.RecordBatches = emptyRecords
			var p *partition
			if t != nil {
				_, p = s.parts.partition(t.name, rp.Partition)
			}
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if req.Version >= 13 && t == nil {
					sp.ErrorCode = kerr.UnknownTopicID.Code
				}
				continue
			}
			targets = append(targets, target{t, p, rp, sp})
		}
	}

	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = 1<<31 - 1
	}
	wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	deadline := time.Now().Add(wait)
	var wake chan struct{}
	var timer *time.Timer
	defer func() {
		if wake != nil {
			for _, tg := range targets {
				tg.p.unwatch(wake)
			}
		}
		if timer != nil {
			timer.Stop()
		}
	}()

	// Record bytes are read into one pooled arena per request, which the
	// response aliases until the connection has written it.
	// It is taken only once some partition has data (a parked long poll
	// holds none), sized for the whole response up to 8 MiB; size classes
	// keep reuse cheap.
	want := 0
	for _, tg := range targets {
		want += int(max(tg.rp.PartitionMaxBytes, 0))
	}
	want = min(want, maxBytes, 8<<20)
	var arena *[]byte
	for {
		total, anyErr := 0, false
		if arena == nil {
			for _, tg := range targets {
				if tg.rp.FetchOffset < tg.p.highWatermark() {
					arena = s.bufs.get(want)
					r.arenas = append(r.arenas, arena)
					break
				}
			}
		}
		if arena != nil {
			*arena = (*arena)[:0]
		}
		for _, tg := range targets {
			n, err := s.fetchPartition(req, tg.p, tg.rp, tg.sp, maxBytes-total, total == 0, arena)
			total += n
			if err != nil {
				anyErr = true
			}
		}
		if total >= int(req.MinBytes) || anyErr || len(targets) == 0 || !time.Now().Before(deadline) {
			return resp, nil
		}
		if wake == nil {
			// Register before the next read so no append is missed
			// between the read and the wait.
			wake = make(chan struct{}, 1)
			for _, tg := range targets {
				tg.p.watch(wake)
			}
			timer = time.NewTimer(time.Until(deadline))
			continue // re-read once with the watch in place
		}
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// fetchPartition fills sp from p and returns the bytes of records it added.
func (s *Server) fetchPartition(req *kmsg.FetchRequest, p *partition, rp *kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, budget int, first bool, arena *[]byte) (int, error) {
	sp.ErrorCode = 0
	// Never null: librdkafka rejects a null record set (MessageSetSize -1).
	sp.RecordBatches = emptyRecords
	if rp.CurrentLeaderEpoch >= 0 && req.Version >= 9 {
		if err := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.epoch()); err != nil {
			sp.ErrorCode = errCode(err)
			return 0, err
		}
	}
	hw := p.highWatermark()
	lso := min(p.log.LastStableOffset(), hw) // one hw for both: LSO <= HW in the answer
	sp.HighWatermark = hw
	sp.LastStableOffset = lso
	sp.LogStartOffset = p.log.StartOffset()
	upTo := hw
	if req.IsolationLevel == 1 {
		sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
		upTo = lso
	}
	limit := min(int(rp.PartitionMaxBytes), budget)
	if limit <= 0 && !first {
		return 0, nil
	}
	if rp.FetchOffset < sp.LogStartOffset {
		// Checked before the LSO shortcut below: under read_committed an
		// offset below the log start is out of range even when an open
		// transaction holds the LSO at the log start.
		sp.ErrorCode = kerr.OffsetOutOfRange.Code
		return 0, kerr.OffsetOutOfRange
	}
	if rp.FetchOffset == hw || (rp.FetchOffset >= upTo && rp.FetchOffset <= hw) {
		return 0, nil
	}
	var dst []byte
	used := 0
	if arena != nil {
		used = len(*arena)
		dst = (*arena)[used:]
	}
	b, err := p.log.Read(rp.FetchOffset, max(limit, 0), upTo, first, dst)
	if arena != nil && err == nil && len(b) > 0 && used+len(b) <= cap(*arena) && &(*arena)[:used+1][used] == &b[0] {
		*arena = (*arena)[:used+len(b)] // read in place: later partitions go after it
	}
	if err != nil {
		sp.ErrorCode = errCode(err)
		if !errors.Is(err, kerr.OffsetOutOfRange) {
			s.log.Warn("fetch read failed", "partition", partDirName(p.topic, p.index), "offset", rp.FetchOffset, "err", err)
		}
		return 0, err
	}
	if req.Version < 10 && hasZstd(b) {
		// KIP-110: a client on Fetch < v10 cannot read zstd; Kafka
		// answers UNSUPPORTED_COMPRESSION_TYPE rather than down-convert.
		sp.ErrorCode = kerr.UnsupportedCompressionType.Code
		return 0, kerr.UnsupportedCompressionType
	}
	if len(b) > 0 {
		sp.RecordBatches = b
		if req.IsolationLevel == 1 {
			if err := s.fetchAborted(p, rp.FetchOffset, b, sp); err != nil {
				sp.ErrorCode = errCode(err)
				sp.RecordBatches = emptyRecords
				return 0, err
			}
		}
	}
	return len(b), nil
}

// fetchAborted lists in sp the aborted transactions that overlap the
// batches b served from offset on (UnifiedLog.collectAbortedTransactions).
func (s *Server) fetchAborted(p *partition, offset int64, b []byte, sp *kmsg.FetchResponseTopicPartition) error {
	upper := offset
	for len(b) >= batch.HeaderSize {
		h, err := batch.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			break
		}
		upper = h.LastOffset() + 1
		b = b[h.Size():]
	}
	ab, err := p.log.AbortedTxns(offset, upper)
	if err != nil {
		return err
	}
	for _, a := range ab {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		sp.AbortedTransactions = append(sp.AbortedTransactions, at)
	}
	return nil
}

var emptyRecords = []byte{}

// hasZstd reports whether any batch in b is zstd-compressed (header reads only).
func hasZstd(b []byte) bool {
	for len(b) >= batch.HeaderSize {
		h, err := batch.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			return false
		}
		if h.Compression() == batch.CompressionZstd {
			return true
		}
		b = b[h.Size():]
	}
	return false
}

// checkLeaderEpoch compares a client's idea of the leader epoch with ours,
// answering as Kafka does: older is fenced, newer is unknown to us.
func checkLeaderEpoch(client, ours int32) error {
	switch {
	case client < ours:
		return kerr.FencedLeaderEpoch
	case client > ours:
		return kerr.UnknownLeaderEpoch
	}
	return nil
}
