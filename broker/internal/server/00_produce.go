// Produce: versions 3-11 (record batches of magic 2 only, as Kafka since
// 3.0 requires for v3+). Each partition's batch is validated and stored as
// the producer sent it, with only its base offset and leader epoch set
// (and its timestamp when the topic uses LogAppendTime). Per-partition
// errors are reported per partition; with acks=0 an error closes the
// connection, as Kafka does, since the client reads no response.
//
// Idempotent producers (producer id >= 0): the partition log checks each
// batch against the producer's state under the same lock as the append,
// so a retried batch is answered with its first offsets and no second
// copy, a sequence gap with OUT_OF_ORDER_SEQUENCE_NUMBER and an old epoch
// with INVALID_PRODUCER_EPOCH. Requests on one connection append in order
// (appendTurn), which an idempotent producer with several requests in
// flight relies on.
//
// Transactional batches (attribute bit set) need a producer id and an
// epoch the partition's producer state allows; the first opens the
// producer's transaction in the partition, which holds the last stable
// offset until the coordinator's marker (27_write_txn_markers.go). The
// coordinator may verify each such batch first (SetTxnProduceVerifier,
// KIP-890). Control batches from clients are INVALID_RECORD.

package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

func (s *Server) handleProduce(ctx context.Context, r *request, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.SetVersion(req.Version)

	done, err := r.appendTurn(ctx)
	if err != nil {
		return nil, err
	}
	defer done()

	var reqErr error
	switch {
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		reqErr = fmt.Errorf("%w: acks must be -1, 0 or 1, not %d", kerr.InvalidRequiredAcks, req.Acks)
	}

	var firstErr error
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			err := reqErr
			if err == nil {
				err = s.produceTo(rt.Topic, rp, &sp, req.Acks, req.Version)
			}
			if err != nil {
				sp.ErrorCode = errCode(err)
				if req.Version >= 8 {
					sp.ErrorMessage = errMessage(err)
				}
				if firstErr == nil {
					firstErr = fmt.Errorf("produce to %s[%d]: %w", rt.Topic, rp.Partition, err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	done()
	if req.Acks == 0 {
		if firstErr != nil {
			return nil, firstErr // the client learns of it only by the closed connection
		}
		return nil, nil
	}
	return resp, nil
}

func (s *Server) produceTo(topic string, rp *kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, acks, version int16) error {
	t, p := s.parts.partition(topic, rp.Partition)
	if p == nil {
		if t == nil && validateTopicName(topic) != nil {
			return kerr.InvalidTopicException
		}
		return kerr.UnknownTopicOrPartition
	}
	if len(rp.Records) == 0 {
		return fmt.Errorf("%w: no record batch", kerr.InvalidRecord)
	}
	// One header parse for the checks below; a batch whose header does
	// not parse is left to Append to reject with the precise error.
	h, herr := batch.ParseHeader(rp.Records)
	if version < 7 && herr == nil && h.Compression() == batch.CompressionZstd {
		// zstd needs Produce v7+ (KIP-110): older clients could not read it back.
		return fmt.Errorf("%w: zstd needs Produce v7 or later", kerr.UnsupportedCompressionType)
	}
	cfg := t.config()
	if acks == -1 && len(p.isr) < cfg.MinInsyncReplicas {
		return fmt.Errorf("%w: %d in-sync replicas, min.insync.replicas is %d", kerr.NotEnoughReplicas, len(p.isr), cfg.MinInsyncReplicas)
	}
	if slices.Contains(cfg.CleanupPolicy, "compact") {
		if err := checkKeys(topic, rp.Partition, rp.Records, sp); err != nil {
			return err
		}
	}
	if v := s.txnVerify.Load(); v != nil && herr == nil && h.IsTransactional() && !h.IsControl() {
		if err := (*v)(topic, rp.Partition, h.ProducerID, h.ProducerEpoch); err != nil {
			// A fenced producer's batch gets INVALID_PRODUCER_EPOCH, as
			// from Kafka's produce verification: producers handle that
			// code here (PRODUCER_FENCED is unknown to kafkajs and to
			// clients older than KIP-588).
			if errors.Is(err, kerr.ProducerFenced) {
				return fmt.Errorf("%w: %w", kerr.InvalidProducerEpoch, err)
			}
			return err
		}
	}
	res, err := p.log.Append(rp.Records, p.epoch())
	if err != nil {
		sp.LogStartOffset = p.log.StartOffset()
		return err
	}
	if !res.Duplicate {
		p.notify()
	}
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	return nil
}

// recordErrors is LogValidator's RecordValidationException: INVALID_RECORD
// with the per-record errors, whose message Produce v8+ returns as is.
type recordErrors struct{ msg string }

func (e *recordErrors) Error() string { return e.msg }
func (e *recordErrors) Unwrap() error { return kerr.InvalidRecord }

// checkKeys rejects a batch for a compacted topic that holds a record
// without a key, as Kafka's LogValidator.validateKey does: INVALID_RECORD
// on every Produce version, each such record listed in the response's
// record errors (v8+) and the message summing up the first three. A batch
// that does not decode is left to Append to reject.
func checkKeys(topic string, partition int32, b []byte, sp *kmsg.ProduceResponseTopicPartition) error {
	var errs []string
	i := int32(0)
	for r, err := range batch.Records(b) {
		if err != nil {
			return nil
		}
		if r.Key == nil {
			msg := fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s-%d", topic, partition)
			er := kmsg.NewProduceResponseTopicPartitionErrorRecord()
			er.RelativeOffset, er.ErrorMessage = i, &msg
			sp.ErrorRecords = append(sp.ErrorRecords, er)
			errs = append(errs, fmt.Sprintf("RecordError(batchIndex=%d, message='%s')", i, msg))
		}
		i++
	}
	if len(errs) == 0 {
		return nil
	}
	return &recordErrors{msg: fmt.Sprintf("One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: [%s]",
		len(errs), strings.Join(errs[:min(3, len(errs))], ", "))}
}
