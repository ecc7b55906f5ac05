package broker_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// TestBadFramesCloseOnlyThatConnection sends malformed, truncated and
// oversized requests on raw connections: each closes its connection, the
// broker keeps serving, and stored data is untouched.
func TestBadFramesCloseOnlyThatConnection(t *testing.T) {
	b := brokertest.Start(t, brokertest.Property("socket.request.max.bytes", "1048576"))
	cl := client(t, b.Addr())
	adm := kadm.NewClient(cl)
	createTopic(t, adm, "safe", 2, nil)
	want := produceN(t, cl, "safe", 200)

	goodHeader := func(key, version int16) []byte {
		var h []byte
		h = binary.BigEndian.AppendUint16(h, uint16(key))
		h = binary.BigEndian.AppendUint16(h, uint16(version))
		h = binary.BigEndian.AppendUint32(h, 1)
		h = binary.BigEndian.AppendUint16(h, 0xffff) // null client id
		return h
	}
	withSize := func(body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	cases := map[string][]byte{
		"garbage":            withSize([]byte("this is not a kafka request at all")),
		"negative size":      {0xff, 0xff, 0xff, 0xf0, 1, 2, 3},
		"oversized":          binary.BigEndian.AppendUint32(nil, 200<<20),
		"unknown api key":    withSize(goodHeader(9999, 0)),
		"truncated produce":  withSize(append(goodHeader(0, 9), 0, 0, 0xff)),
		"truncated header":   withSize([]byte{0, 3, 0}),
		"metadata bad array": withSize(append(goodHeader(3, 4), 0x7f, 0xff, 0xff, 0xff)),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(payload)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c)
			if err != nil {
				t.Fatalf("connection not closed by the broker: read %d bytes, %v", n, err)
			}
		})
	}

	// ApiVersions of a version newer than ours is answered (v0, UNSUPPORTED_VERSION).
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(withSize(goodHeader(18, 99)))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("no answer to ApiVersions v99: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	var av kmsg.ApiVersionsResponse
	if err := av.ReadFrom(body[4:]); err != nil || av.ErrorCode != 35 || len(av.ApiKeys) == 0 {
		t.Fatalf("ApiVersions v99 answer: err %v, code %d, %d keys", err, av.ErrorCode, len(av.ApiKeys))
	}

	// The broker still serves and the data is intact.
	samePerPartition(t, want, consumeAll(t, b.Addr(), "safe", 200))
}
