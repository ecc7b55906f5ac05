package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"iter"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

// MaxDecompressedSize is the default cap on the decompressed records of one
// batch in [Records]. A produced batch is at most max.message.bytes (1 MiB by
// default) compressed; 64 MiB leaves room for very compressible data while a
// decompression bomb cannot take the broker's memory.
const MaxDecompressedSize = 64 << 20

// Record is one decoded record of a batch.
type Record struct {
	Attributes int8
	// Offset is the absolute offset: the batch's base offset plus the
	// record's offset delta.
	Offset int64
	// Timestamp is absolute: FirstTimestamp plus the delta, or the batch's
	// MaxTimestamp when the batch is LogAppendTime.
	Timestamp int64
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value (a tombstone)
	Headers   []RecordHeader
}

// RecordHeader is one record header; Value is nil for a null value.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Records decodes the records of one batch (the first in b), decompressing
// them with a [MaxDecompressedSize] cap. See [RecordsLimit].
func Records(b []byte) iter.Seq2[Record, error] {
	return RecordsLimit(b, MaxDecompressedSize)
}

// RecordsLimit decodes the records of the first batch in b, after checking it
// with [Verify]. It refuses to decompress more than limit bytes. Key, Value
// and header values alias the batch (uncompressed) or one decompressed
// buffer; they stay valid after the iteration. On a malformed batch the
// iterator yields the error once and stops. This is per-record work: keep it
// off the produce and fetch paths.
func RecordsLimit(b []byte, limit int) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		h, one, err := Verify(b)
		if err != nil {
			yield(Record{}, err)
			return
		}
		data := one[HeaderSize:]
		if c := h.Compression(); c != CompressionNone {
			data, err = Decompress(c, data, limit)
			if err != nil {
				yield(Record{}, err)
				return
			}
		}
		for i := int32(0); i < h.NumRecords; i++ {
			var r Record
			r, data, err = decodeRecord(&h, data)
			if err != nil {
				yield(Record{}, fmt.Errorf("record %d: %w", i, err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if len(data) != 0 {
			yield(Record{}, fmt.Errorf("%w: %d bytes after the last of %d records", kerr.CorruptMessage, len(data), h.NumRecords))
		}
	}
}

// recordReader decodes Kafka's zig-zag varints (which encoding/binary's
// Varint implements) and length-prefixed byte strings; the first error
// sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) varlong() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad varint", kerr.CorruptMessage)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint() int32 {
	v := r.varlong()
	if v != int64(int32(v)) {
		r.fail("varint out of range")
		return 0
	}
	return int32(v)
}

func (r *recordReader) fail(msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", kerr.CorruptMessage, msg)
	}
}

// bytes reads a varint length (-1 = null) and that many bytes.
func (r *recordReader) bytes() []byte {
	n := r.varint()
	if r.err != nil {
		return nil
	}
	if n < 0 {
		if n != -1 {
			r.fail("negative length")
		}
		return nil
	}
	if int(n) > len(r.b) {
		r.fail("length past the end of the record")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func decodeRecord(h *Header, data []byte) (Record, []byte, error) {
	r := recordReader{b: data}
	n := r.varint()
	if r.err != nil {
		return Record{}, nil, r.err
	}
	if n < 1 || int(n) > len(r.b) {
		return Record{}, nil, fmt.Errorf("%w: record length %d with %d bytes left", kerr.CorruptMessage, n, len(r.b))
	}
	rest := r.b[n:]
	r.b = r.b[:n]
	var rec Record
	rec.Attributes = int8(r.b[0])
	r.b = r.b[1:]
	tsDelta := r.varlong()
	offDelta := r.varint()
	rec.Key = r.bytes()
	rec.Value = r.bytes()
	nh := r.varint()
	if r.err == nil && (nh < 0 || int(nh) > len(r.b)/2) {
		r.fail("bad header count")
	}
	if r.err == nil && nh > 0 {
		rec.Headers = make([]RecordHeader, 0, nh)
		for j := int32(0); j < nh && r.err == nil; j++ {
			k := r.bytes()
			v := r.bytes()
			rec.Headers = append(rec.Headers, RecordHeader{Key: string(k), Value: v})
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("bytes left inside the record")
	}
	if r.err != nil {
		return Record{}, nil, r.err
	}
	rec.Offset = h.BaseOffset + int64(offDelta)
	if h.TimestampType() == LogAppendTime {
		rec.Timestamp = h.MaxTimestamp
	} else {
		rec.Timestamp = h.FirstTimestamp + tsDelta
	}
	return rec, rest, nil
}

// xerialHeader starts snappy data framed the way snappy-java's
// SnappyOutputStream writes it, which the Java producer uses: the magic,
// then two big-endian int32 versions, then blocks each prefixed by a
// big-endian int32 length.
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// Decompress decompresses a batch's records section with the given codec,
// refusing output larger than limit. Errors wrap kerr.CorruptMessage.
func Decompress(codec int, src []byte, limit int) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch codec {
	case CompressionNone:
		if len(src) > limit {
			return nil, fmt.Errorf("%w: %d bytes exceed the %d-byte limit", kerr.CorruptMessage, len(src), limit)
		}
		return src, nil
	case CompressionGzip:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(src)); err == nil {
			out, err = readLimited(zr, limit)
		}
	case CompressionSnappy:
		out, err = unsnappy(src, limit)
	case CompressionLZ4:
		out, err = readLimited(lz4.NewReader(bytes.NewReader(src)), limit)
	case CompressionZstd:
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(bytes.NewReader(src), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(limit)+1))
		if err == nil {
			out, err = readLimited(zr, limit)
			zr.Close()
		}
	default:
		return nil, fmt.Errorf("%w: unknown compression codec %d", kerr.InvalidRecord, codec)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decompressing codec %d: %w", kerr.CorruptMessage, codec, err)
	}
	return out, nil
}

// errTooBig is returned when decompressed data passes the caller's limit.
type errTooBig int

func (e errTooBig) Error() string { return fmt.Sprintf("decompressed data exceeds %d bytes", int(e)) }

func readLimited(r io.Reader, limit int) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, errTooBig(limit)
	}
	return out, nil
}

func unsnappy(src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialHeader) {
		n, err := snappy.DecodedLen(src)
		if err != nil {
			return nil, err
		}
		if n > limit {
			return nil, errTooBig(limit)
		}
		return snappy.Decode(make([]byte, n), src)
	}
	const blocksAt = 16 // magic + version + compatible version
	if len(src) < blocksAt {
		return nil, fmt.Errorf("xerial header of %d bytes", len(src))
	}
	var out []byte
	for p := src[blocksAt:]; len(p) > 0; {
		if len(p) < 4 {
			return nil, fmt.Errorf("torn xerial block length")
		}
		n := binary.BigEndian.Uint32(p)
		p = p[4:]
		if uint64(n) > uint64(len(p)) {
			return nil, fmt.Errorf("xerial block of %d bytes, %d left", n, len(p))
		}
		blk := p[:n]
		p = p[n:]
		dn, err := snappy.DecodedLen(blk)
		if err != nil {
			return nil, err
		}
		if dn > limit-len(out) {
			return nil, errTooBig(limit)
		}
		out = append(out, make([]byte, dn)...)
		if _, err := snappy.Decode(out[len(out)-dn:], blk); err != nil {
			return nil, err
		}
	}
	return out, nil
}
