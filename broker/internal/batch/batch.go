// Package batch reads, checks and patches Kafka RecordBatches (magic v2) as
// raw bytes.
//
// The broker stores batches exactly as producers send them, so the produce
// and fetch paths only ever touch the 61-byte header: [Validate] checks a
// batch the way Kafka's produce path does, [SetBaseOffset] and
// [SetPartitionLeaderEpoch] patch the two header fields outside the CRC, and
// [SetLogAppendTime] rewrites the timestamp and recomputes the CRC. [Split]
// walks concatenated batches for recovery and fetch trimming. Decoding
// individual records ([Records]) costs decompression and is meant for the
// rare callers that need it: ListOffsets by timestamp and compaction.
//
// Errors wrap franz-go's kerr codes, so a handler maps them with
// errors.As(err, new(*kerr.Error)).
package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Byte offsets of the RecordBatch v2 header fields (DefaultRecordBatch.java).
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57
)

const (
	// HeaderSize is the size of a v2 batch header; records follow it.
	HeaderSize = 61
	// LogOverhead is the part of the header that the Length field does not
	// count: the base offset and the length itself.
	LogOverhead = 12
	// Magic is the only batch format this package accepts.
	Magic = 2

	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

// Compression codecs as stored in the low three attribute bits.
const (
	CompressionNone   = 0
	CompressionGzip   = 1
	CompressionSnappy = 2
	CompressionLZ4    = 3
	CompressionZstd   = 4
)

// Timestamp types, the value of [Header.TimestampType].
const (
	CreateTime    = 0
	LogAppendTime = 1
)

// castagnoli is the CRC-32C table Kafka uses for v2 batches. It is never
// written after initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrTruncated marks a batch whose bytes end before its Length says it does:
// a torn write at the tail of a segment, or a short produce payload. It is
// always wrapped together with kerr.CorruptMessage.
var ErrTruncated = errors.New("batch: truncated")

// Header is the decoded 61-byte header of a v2 RecordBatch.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field: total size - 12
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Compression returns the codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
// (5–7 are unknown and rejected by [Validate]).
func (h *Header) Compression() int { return int(h.Attributes & attrCompressionMask) }

// IsTransactional reports whether the batch belongs to a transaction.
func (h *Header) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds a control record (a transaction
// marker), which clients may not produce.
func (h *Header) IsControl() bool { return h.Attributes&attrControl != 0 }

// TimestampType returns [CreateTime] or [LogAppendTime].
func (h *Header) TimestampType() int {
	if h.Attributes&attrTimestampType != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// LastOffset is the offset of the last record the batch covers.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the total size of the batch in bytes, Length plus the 12 bytes of
// base offset and length.
func (h *Header) Size() int { return int(h.Length) + LogOverhead }

// HasProducerID reports whether the batch was written by an idempotent or
// transactional producer.
func (h *Header) HasProducerID() bool { return h.ProducerID >= 0 }

// ParseHeader decodes the header at the start of b. It checks only that b
// holds a full header; see [Validate] and [Verify] for the checks on content.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %w: %d bytes, a batch header needs %d", kerr.CorruptMessage, ErrTruncated, len(b), HeaderSize)
	}
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}, nil
}

// Verify checks what a stored batch must satisfy to be trusted after a
// crash: a full header, a Length that fits in b, magic 2 and a correct
// CRC-32C. It returns the header and the batch's bytes (b may hold more
// after it). Errors wrap kerr.CorruptMessage, and [ErrTruncated] when b ends
// early, which is how recovery tells a torn tail from a bad one.
//
// The size and CRC rules follow DefaultRecordBatch.ensureValid and
// ByteBufferLogInputStream.nextBatch in Apache Kafka.
func Verify(b []byte) (Header, []byte, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, nil, err
	}
	if h.Length < HeaderSize-LogOverhead {
		return h, nil, fmt.Errorf("%w: batch length %d is smaller than the %d-byte header", kerr.CorruptMessage, h.Length, HeaderSize-LogOverhead)
	}
	size := h.Size()
	if size > len(b) {
		return h, nil, fmt.Errorf("%w: %w: batch of %d bytes, only %d present", kerr.CorruptMessage, ErrTruncated, size, len(b))
	}
	if h.Magic != Magic {
		// ProduceRequest.validateRecords answers INVALID_RECORD for a
		// produce batch of another magic.
		return h, nil, fmt.Errorf("%w: batch magic %d, only magic 2 is supported", kerr.InvalidRecord, h.Magic)
	}
	if got := crc32.Checksum(b[offAttributes:size], castagnoli); got != h.CRC {
		return h, nil, fmt.Errorf("%w: crc mismatch: stored %#08x, computed %#08x", kerr.CorruptMessage, h.CRC, got)
	}
	return h, b[:size], nil
}

// Validate checks a batch that a client produced, with the rules of Apache
// Kafka's produce path (checked against ProduceRequest.validateRecords,
// UnifiedLog.analyzeAndValidateRecords and LogValidator.validateBatch):
//
//   - b holds exactly one batch: a short buffer or a bad Length is
//     CORRUPT_MESSAGE, trailing bytes after the batch INVALID_RECORD
//     ("exactly one record batch per partition");
//   - magic is 2 (INVALID_RECORD) and the CRC-32C over attributes..end
//     matches (CORRUPT_MESSAGE);
//   - baseOffset is 0, NumRecords > 0 and LastOffsetDelta == NumRecords-1
//     (INVALID_RECORD);
//   - no control batch, and a batch with a producer id has a base sequence
//     >= 0 (INVALID_RECORD);
//   - the compression codec is one of 0–4. Kafka throws an
//     IllegalArgumentException there (an unknown server error); this package
//     answers INVALID_RECORD since retrying cannot help.
//
// Size (max.message.bytes) and timestamp bounds depend on topic config and
// are checked by the caller.
func Validate(b []byte) (Header, error) {
	h, one, err := Verify(b)
	if err != nil {
		return h, err
	}
	if len(one) != len(b) {
		return h, fmt.Errorf("%w: %d bytes after the batch: produce requests may contain exactly one record batch per partition", kerr.InvalidRecord, len(b)-len(one))
	}
	if h.BaseOffset != 0 {
		return h, fmt.Errorf("%w: the base offset of a produced batch should be 0, but it is %d", kerr.InvalidRecord, h.BaseOffset)
	}
	if h.NumRecords <= 0 {
		return h, fmt.Errorf("%w: invalid reported count for record batch: %d", kerr.InvalidRecord, h.NumRecords)
	}
	if int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) {
		return h, fmt.Errorf("%w: inconsistent batch offset range [0, %d] and count of records %d", kerr.InvalidRecord, h.LastOffsetDelta, h.NumRecords)
	}
	if h.IsControl() {
		return h, fmt.Errorf("%w: clients are not allowed to write control records", kerr.InvalidRecord)
	}
	if h.HasProducerID() && h.BaseSequence < 0 {
		return h, fmt.Errorf("%w: invalid sequence number %d in record batch with producer id %d", kerr.InvalidRecord, h.BaseSequence, h.ProducerID)
	}
	if c := h.Compression(); c > CompressionZstd {
		return h, fmt.Errorf("%w: unknown compression codec %d", kerr.InvalidRecord, c)
	}
	return h, nil
}

// Next splits the first batch off b by its Length field alone (no CRC
// check): batch is that batch's bytes, rest what follows. An error (wrapping
// kerr.CorruptMessage, plus [ErrTruncated] for a short tail) means b does not
// start with a complete batch.
func Next(b []byte) (batch, rest []byte, err error) {
	if len(b) < HeaderSize {
		return nil, b, fmt.Errorf("%w: %w: %d bytes, a batch header needs %d", kerr.CorruptMessage, ErrTruncated, len(b), HeaderSize)
	}
	n := int32(binary.BigEndian.Uint32(b[offLength:]))
	if n < HeaderSize-LogOverhead {
		return nil, b, fmt.Errorf("%w: batch length %d is smaller than the header", kerr.CorruptMessage, n)
	}
	size := int(n) + LogOverhead
	if size > len(b) {
		return nil, b, fmt.Errorf("%w: %w: batch of %d bytes, only %d present", kerr.CorruptMessage, ErrTruncated, size, len(b))
	}
	return b[:size], b[size:], nil
}

// Split walks concatenated batches, yielding each complete batch's bytes
// (split by Length, no CRC check). If the bytes end in something that is not
// a complete batch, the last pair yielded carries the remaining bytes and the
// error from [Next].
func Split(b []byte) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for len(b) > 0 {
			one, rest, err := Next(b)
			if err != nil {
				yield(b, err)
				return
			}
			if !yield(one, nil) {
				return
			}
			b = rest
		}
	}
}

// SetBaseOffset patches the base offset. It lies outside the CRC, so the
// batch stays valid.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch patches the partition leader epoch, also outside
// the CRC.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime with ts as its max
// timestamp, as Kafka's DefaultRecordBatch.setMaxTimestamp does, and
// recomputes the CRC over the batch. Records keep their deltas; readers
// take every record's timestamp from MaxTimestamp for such batches.
func SetLogAppendTime(b []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(b[offAttributes:]) | attrTimestampType
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	size := int(int32(be.Uint32(b[offLength:]))) + LogOverhead
	if size > len(b) || size < HeaderSize {
		size = len(b)
	}
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:size], castagnoli))
}

// fixCRC recomputes the CRC of a complete batch; used by the encoder.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}
