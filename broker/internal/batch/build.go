package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// AppendBatch encodes records as one v2 batch appended to dst, for the
// broker's own writers (coordinators, compaction) and for tests. From h it
// takes BaseOffset, PartitionLeaderEpoch, Attributes (codec, transactional,
// control, timestamp type), ProducerID, ProducerEpoch and BaseSequence; it
// computes Length, Magic, CRC, LastOffsetDelta, NumRecords and the
// timestamps. Each record's offset delta is its Offset minus h.BaseOffset,
// and timestamps are taken relative to the first record's. Snappy is written
// as one raw block, which Kafka's readers accept.
func AppendBatch(dst []byte, h Header, records []Record) ([]byte, error) {
	if len(records) == 0 {
		return dst, fmt.Errorf("batch: no records to encode")
	}
	first := records[0].Timestamp
	maxTS := first
	var body []byte
	for i := range records {
		r := &records[i]
		maxTS = max(maxTS, r.Timestamp)
		body = AppendRecord(body, r, r.Offset-h.BaseOffset, r.Timestamp-first)
	}
	var err error
	if body, err = Compress(h.Compression(), body); err != nil {
		return dst, err
	}
	nh := h
	nh.LastOffsetDelta = int32(records[len(records)-1].Offset - h.BaseOffset)
	nh.FirstTimestamp = first
	nh.MaxTimestamp = maxTS
	if h.TimestampType() == LogAppendTime && h.MaxTimestamp != 0 {
		nh.MaxTimestamp = h.MaxTimestamp
	}
	nh.NumRecords = int32(len(records))
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = append(dst, body...)
	PutHeader(dst[start:], &nh)
	return dst, nil
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(v))), v...)
}

// PutHeader writes h as the v2 header of the batch b (header and records):
// every field from h except Length, Magic and CRC, which it computes; the
// records must already follow the header in b.
func PutHeader(b []byte, h *Header) {
	be := binary.BigEndian
	be.PutUint64(b[offBaseOffset:], uint64(h.BaseOffset))
	be.PutUint32(b[offLength:], uint32(len(b)-LogOverhead))
	be.PutUint32(b[offLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	b[offMagic] = Magic
	be.PutUint16(b[offAttributes:], uint16(h.Attributes))
	be.PutUint32(b[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
	be.PutUint64(b[offFirstTimestamp:], uint64(h.FirstTimestamp))
	be.PutUint64(b[offMaxTimestamp:], uint64(h.MaxTimestamp))
	be.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	be.PutUint32(b[offNumRecords:], uint32(h.NumRecords))
	fixCRC(b)
}

// AppendRecord appends r encoded as a v2 record with the given offset and
// timestamp deltas (relative to its batch's base offset and timestamp).
func AppendRecord(dst []byte, r *Record, offDelta, tsDelta int64) []byte {
	body := []byte{byte(r.Attributes)}
	body = binary.AppendVarint(body, tsDelta)
	body = binary.AppendVarint(body, offDelta)
	body = appendBytes(body, r.Key)
	body = appendBytes(body, r.Value)
	body = binary.AppendVarint(body, int64(len(r.Headers)))
	for _, hd := range r.Headers {
		body = appendBytes(body, []byte(hd.Key))
		body = appendBytes(body, hd.Value)
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

// Compress compresses a batch's encoded records with codec (the
// Compression* ids). Snappy is written as one raw block, which Kafka's
// readers accept.
func Compress(codec int, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch codec {
	case CompressionNone:
		return body, nil
	case CompressionGzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(body); err != nil {
			return nil, fmt.Errorf("batch: gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("batch: gzip: %w", err)
		}
	case CompressionSnappy:
		return snappy.Encode(nil, body), nil
	case CompressionLZ4:
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(body); err != nil {
			return nil, fmt.Errorf("batch: lz4: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("batch: lz4: %w", err)
		}
	case CompressionZstd:
		w, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("batch: zstd: %w", err)
		}
		out := w.EncodeAll(body, nil)
		w.Close()
		return out, nil
	default:
		return nil, fmt.Errorf("batch: unknown compression codec %d", codec)
	}
	return buf.Bytes(), nil
}
