package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kerr"
)

var codecs = []int{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd}

func testRecords(n int) []Record {
	rs := make([]Record, n)
	for i := range rs {
		rs[i] = Record{
			Offset:    int64(i),
			Timestamp: 1_700_000_000_000 + int64(i*3),
			Key:       fmt.Appendf(nil, "key-%d", i),
			Value:     bytes.Repeat([]byte{byte(i)}, 100+i),
			Headers:   []RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "null"}},
		}
	}
	rs[0].Key = nil
	return rs
}

func mustBuild(t testing.TB, codec int, rs []Record) []byte {
	t.Helper()
	b, err := AppendBatch(nil, Header{Attributes: int16(codec), ProducerID: -1, BaseSequence: -1}, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func isCode(err error, code *kerr.Error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && ke == code
}

func TestRoundTripEveryCodec(t *testing.T) {
	rs := testRecords(20)
	for _, c := range codecs {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			b := mustBuild(t, c, rs)
			h, err := Validate(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.Compression() != c || h.NumRecords != 20 || h.LastOffsetDelta != 19 || h.MaxTimestamp != rs[19].Timestamp {
				t.Fatalf("header %+v", h)
			}
			SetBaseOffset(b, 1000)
			SetPartitionLeaderEpoch(b, 7)
			got := collect(t, b)
			if len(got) != len(rs) {
				t.Fatalf("%d records, want %d", len(got), len(rs))
			}
			for i, r := range got {
				w := rs[i]
				if r.Offset != 1000+int64(i) || r.Timestamp != w.Timestamp || !bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) ||
					!bytes.Equal(r.Value, w.Value) || len(r.Headers) != 2 || r.Headers[0].Key != "h" || r.Headers[1].Value != nil {
					t.Fatalf("record %d = %+v, want %+v", i, r, w)
				}
			}
		})
	}
}

func collect(t testing.TB, b []byte) []Record {
	t.Helper()
	var out []Record
	for r, err := range Records(b) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestSnappyXerial checks the framing the Java producer writes.
func TestSnappyXerial(t *testing.T) {
	rs := testRecords(5)
	raw := mustBuild(t, CompressionNone, rs)
	body := raw[HeaderSize:]
	framed := append([]byte{}, xerialHeader...)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	for len(body) > 0 { // several blocks, as snappy-java writes 32 KiB each
		n := min(len(body), 100)
		blk := snappy.Encode(nil, body[:n])
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(blk)))
		framed = append(framed, blk...)
		body = body[n:]
	}
	b := append(append([]byte{}, raw[:HeaderSize]...), framed...)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-LogOverhead))
	binary.BigEndian.PutUint16(b[offAttributes:], CompressionSnappy)
	fixCRC(b)
	got := collect(t, b)
	if len(got) != 5 || !bytes.Equal(got[4].Value, rs[4].Value) {
		t.Fatalf("got %d records", len(got))
	}
}

func TestDecompressionBomb(t *testing.T) {
	rs := []Record{{Value: make([]byte, 1<<20)}}
	for _, c := range codecs[1:] {
		b := mustBuild(t, c, rs)
		if len(b) > 1<<16 {
			t.Fatalf("codec %d: %d bytes, expected it to compress", c, len(b))
		}
		var err error
		for _, e := range RecordsLimit(b, 1<<19) {
			err = e
		}
		if !isCode(err, kerr.CorruptMessage) {
			t.Fatalf("codec %d: err = %v, want a corrupt-message limit error", c, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	good := mustBuild(t, CompressionNone, testRecords(3))
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); fixCRC(b); return b }
	}
	cases := []struct {
		name string
		b    []byte
		code *kerr.Error
	}{
		{"short", good[:40], kerr.CorruptMessage},
		{"torn", good[:len(good)-1], kerr.CorruptMessage},
		{"crc", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), kerr.CorruptMessage},
		{"length too small", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offLength:], 10); return b }), kerr.CorruptMessage},
		{"magic", mod(func(b []byte) []byte { b[offMagic] = 1; return b }), kerr.InvalidRecord},
		{"two batches", append(append([]byte{}, good...), good...), kerr.InvalidRecord},
		{"base offset", mod(func(b []byte) []byte { SetBaseOffset(b, 5); return b }), kerr.InvalidRecord},
		{"count", mod(put32(offNumRecords, 2)), kerr.InvalidRecord},
		{"zero count", mod(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offNumRecords:], 0)
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0xffffffff)
			fixCRC(b)
			return b
		}), kerr.InvalidRecord},
		{"control", mod(func(b []byte) []byte { b[offAttributes+1] |= attrControl; fixCRC(b); return b }), kerr.InvalidRecord},
		{"codec", mod(func(b []byte) []byte { b[offAttributes+1] |= 7; fixCRC(b); return b }), kerr.InvalidRecord},
		{"sequence", mod(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[offProducerID:], 9)
			fixCRC(b)
			return b
		}), kerr.InvalidRecord},
	}
	for _, c := range cases {
		if _, err := Validate(c.b); !isCode(err, c.code) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.code)
		}
	}
	if _, err := Validate(good[:len(good)-1]); !errors.Is(err, ErrTruncated) {
		t.Errorf("torn batch: %v does not wrap ErrTruncated", err)
	}
}

func TestSplit(t *testing.T) {
	a := mustBuild(t, CompressionNone, testRecords(2))
	b := mustBuild(t, CompressionLZ4, testRecords(3))
	all := append(append(append([]byte{}, a...), b...), b[:30]...)
	var n int
	var tailErr error
	for one, err := range Split(all) {
		if err != nil {
			tailErr = err
			break
		}
		if _, err := Validate(one); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 || !errors.Is(tailErr, ErrTruncated) {
		t.Fatalf("n=%d tail=%v", n, tailErr)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	b := mustBuild(t, CompressionZstd, testRecords(4))
	SetLogAppendTime(b, 42)
	h, err := Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.TimestampType() != LogAppendTime || h.MaxTimestamp != 42 {
		t.Fatalf("%+v", h)
	}
	for _, r := range collect(t, b) {
		if r.Timestamp != 42 {
			t.Fatalf("record timestamp %d, want 42", r.Timestamp)
		}
	}
}

func FuzzValidate(f *testing.F) {
	for _, c := range codecs {
		f.Add(mustBuild(f, c, testRecords(3)))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Validate(b)
		if err != nil {
			if !isCode(err, kerr.CorruptMessage) && !isCode(err, kerr.InvalidRecord) {
				t.Fatalf("error without a kerr code: %v", err)
			}
			return
		}
		if h.Size() != len(b) {
			t.Fatalf("accepted %d bytes, header says %d", len(b), h.Size())
		}
		SetBaseOffset(b, 77)
		SetPartitionLeaderEpoch(b, 3)
		SetLogAppendTime(b, 1234)
		h2, _, err := Verify(b)
		if err != nil {
			t.Fatalf("patched batch no longer verifies: %v", err)
		}
		if h2.BaseOffset != 77 || h2.PartitionLeaderEpoch != 3 || h2.MaxTimestamp != 1234 || h2.TimestampType() != LogAppendTime {
			t.Fatalf("patched header %+v", h2)
		}
		for r, err := range RecordsLimit(b, 1<<20) {
			if err == nil && r.Timestamp != 1234 {
				t.Fatalf("record timestamp %d in a LogAppendTime batch", r.Timestamp)
			}
		}
	})
}

func FuzzRecords(f *testing.F) {
	for _, c := range codecs {
		f.Add(mustBuild(f, c, testRecords(3)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Fix up the CRC and length so the fuzzer reaches the record decoder.
		if len(b) >= HeaderSize {
			binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-LogOverhead))
			b[offMagic] = Magic
			fixCRC(b)
		}
		h, _ := ParseHeader(b)
		n := 0
		for r, err := range RecordsLimit(b, 1<<20) {
			if err != nil {
				return
			}
			n++
			if r.Offset < h.BaseOffset-(1<<31) || r.Offset > h.BaseOffset+(1<<31) {
				t.Fatalf("offset %d out of range for base %d", r.Offset, h.BaseOffset)
			}
		}
		if n != int(h.NumRecords) && h.NumRecords > 0 {
			t.Fatalf("decoded %d records without error, header says %d", n, h.NumRecords)
		}
	})
}
