package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// nullBroker is the yardstick for the client's own cost: a Kafka-protocol
// endpoint that acknowledges every produce request at once and keeps
// nothing. It serves just what a producer needs (ApiVersions, Metadata,
// CreateTopics, DeleteTopics, InitProducerId, Produce), decodes each
// request with kmsg as a real broker must, and counts offsets so the
// client sees a plausible log. Whatever throughput the client reaches
// against it is the most any broker can show in this process on this
// machine: a ratio against kfake above ceiling/kfake is out of reach for
// every broker, however fast.
//
// It is a measuring instrument, not a broker: it stores and validates
// nothing and serves no reads.
type nullBroker struct {
	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	topics   map[string]*nullTopic
	byID     map[[16]byte]*nullTopic
	nextID   int64  // next producer id
	topicSeq uint64 // ids of created topics
	closed   bool
}

// nullTopic is a topic of the null broker: its id and the next offset of
// each partition.
type nullTopic struct {
	id   [16]byte
	next []int64
}

// nullDefaultPartitions is what a topic created by a Metadata request gets.
const nullDefaultPartitions = 6

// nullMaxFrame bounds one request; larger frames close the connection.
const nullMaxFrame = 256 << 20

// errNullFrame marks a request the null broker cannot parse.
var errNullFrame = errors.New("null broker: bad request frame")

// startNullBroker listens on a free loopback port and serves until stop.
func startNullBroker() (*running, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%w: null broker: %w", errStart, err)
	}
	nb := &nullBroker{ln: ln, conns: map[net.Conn]struct{}{}, topics: map[string]*nullTopic{}, byID: map[[16]byte]*nullTopic{}, nextID: 1}
	nb.wg.Add(1)
	go nb.accept()
	return &running{addr: ln.Addr().String(), stop: nb.stop}, nil
}

func (nb *nullBroker) accept() {
	defer nb.wg.Done()
	for {
		c, err := nb.ln.Accept()
		if err != nil {
			return
		}
		nb.mu.Lock()
		if nb.closed {
			nb.mu.Unlock()
			c.Close()
			return
		}
		nb.conns[c] = struct{}{}
		nb.wg.Add(1)
		nb.mu.Unlock()
		go nb.serve(c)
	}
}

// stop closes the listener and every connection and waits for their
// goroutines.
func (nb *nullBroker) stop() error {
	nb.mu.Lock()
	nb.closed = true
	err := nb.ln.Close()
	for c := range nb.conns {
		c.Close()
	}
	nb.mu.Unlock()
	nb.wg.Wait()
	return err
}

// serve answers one connection's requests in order until it closes.
func (nb *nullBroker) serve(c net.Conn) {
	defer nb.wg.Done()
	defer func() {
		nb.mu.Lock()
		delete(nb.conns, c)
		nb.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 1<<20)
	w := bufio.NewWriterSize(c, 64<<10)
	var frame, out []byte
	for {
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(size[:])
		if n < 8 || n > nullMaxFrame {
			return
		}
		if cap(frame) < int(n) {
			frame = make([]byte, n)
		}
		frame = frame[:n]
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		var err error
		out, err = nb.handle(frame, out[:0])
		if err != nil {
			return
		}
		if out == nil { // acks=0 produce: no response
			continue
		}
		if _, err := w.Write(out); err != nil {
			return
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// handle decodes one request frame (without its size prefix) and appends
// the whole response frame to out. It returns nil, nil when the request
// takes no response.
func (nb *nullBroker) handle(frame, out []byte) ([]byte, error) {
	key := int16(binary.BigEndian.Uint16(frame[0:]))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	corr := binary.BigEndian.Uint32(frame[4:])
	body := frame[8:]
	// Client id: a nullable string with an int16 length.
	if len(body) < 2 {
		return nil, errNullFrame
	}
	idLen := int(int16(binary.BigEndian.Uint16(body)))
	body = body[2:]
	if idLen > 0 {
		if len(body) < idLen {
			return nil, errNullFrame
		}
		body = body[idLen:]
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, fmt.Errorf("%w: api key %d", errNullFrame, key)
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, err
		}
	}
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%w: %w", errNullFrame, err)
	}
	resp := nb.respond(req)
	if resp == nil {
		return nil, nil
	}
	resp.SetVersion(version)
	out = append(out, 0, 0, 0, 0)
	out = binary.BigEndian.AppendUint32(out, corr)
	// Flexible responses carry an empty tag section in their header,
	// except ApiVersions, whose response header is always version 0.
	if resp.IsFlexible() && key != kmsg.ApiVersions.Int16() {
		out = append(out, 0)
	}
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, nil
}

// skipTags drops a tagged-field section from the front of b.
func skipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 || n > uint64(len(b)) {
		return nil, errNullFrame
	}
	b = b[l:]
	for range n {
		if _, l = binary.Uvarint(b); l <= 0 {
			return nil, errNullFrame
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || size > uint64(len(b)-l) {
			return nil, errNullFrame
		}
		b = b[l+int(size):]
	}
	return b, nil
}

// respond builds the answer to req, or nil for an acks=0 produce.
func (nb *nullBroker) respond(req kmsg.Request) kmsg.Response {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		for _, k := range []kmsg.Key{kmsg.Produce, kmsg.Metadata, kmsg.ApiVersions, kmsg.CreateTopics, kmsg.DeleteTopics, kmsg.InitProducerID} {
			max := kmsg.RequestForKey(k.Int16()).MaxVersion()
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k.Int16(), MaxVersion: max})
		}
		return resp
	case *kmsg.MetadataRequest:
		return nb.metadata(req)
	case *kmsg.CreateTopicsRequest:
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic = t.Topic
			switch {
			case nb.topics[t.Topic] != nil:
				rt.ErrorCode = kerr.TopicAlreadyExists.Code
			default:
				p := t.NumPartitions
				if p <= 0 {
					p = nullDefaultPartitions
				}
				rt.TopicID = nb.create(t.Topic, p).id
				rt.NumPartitions, rt.ReplicationFactor = p, 1
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.DeleteTopicsRequest:
		resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
		names := req.TopicNames
		for _, t := range req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			}
		}
		for _, name := range names {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic = &name
			if nb.topics[name] == nil {
				rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			if t := nb.topics[name]; t != nil {
				delete(nb.byID, t.id)
			}
			delete(nb.topics, name)
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.InitProducerIDRequest:
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID = nb.nextID
		nb.nextID++
		return resp
	case *kmsg.ProduceRequest:
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			// Produce v13+ names topics by id (KIP-516); the answer
			// must name them the way the request did.
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			nt := nb.topics[t.Topic]
			if t.Topic == "" {
				nt = nb.byID[t.TopicID]
			}
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				switch {
				case nt == nil || p.Partition < 0 || int(p.Partition) >= len(nt.next):
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				default:
					rp.BaseOffset = nt.next[p.Partition]
					nt.next[p.Partition] += batchRecords(p.Records)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		if req.Acks == 0 {
			return nil
		}
		return resp
	}
	return nil
}

// metadata answers with this endpoint as the only broker, leading every
// partition, creating unknown topics the request names.
func (nb *nullBroker) metadata(req *kmsg.MetadataRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	host, portStr, _ := net.SplitHostPort(nb.ln.Addr().String())
	port, _ := strconv.Atoi(portStr)
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: host, Port: int32(port)}}
	resp.ControllerID = 0
	cluster := "null"
	resp.ClusterID = &cluster
	var names []string
	if req.Topics == nil {
		for name := range nb.topics {
			names = append(names, name)
		}
	}
	for _, t := range req.Topics {
		if t.Topic != nil {
			names = append(names, *t.Topic)
		}
	}
	for _, name := range names {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = &name
		nt := nb.topics[name]
		if nt == nil {
			nt = nb.create(name, nullDefaultPartitions)
		}
		rt.TopicID = nt.id
		for i := range nt.next {
			rp := kmsg.NewMetadataResponseTopicPartition()
			rp.Partition = int32(i)
			rp.Leader, rp.Replicas, rp.ISR = 0, []int32{0}, []int32{0}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// create adds a topic with partitions empty partitions and a fresh id;
// the caller holds mu.
func (nb *nullBroker) create(name string, partitions int32) *nullTopic {
	nb.topicSeq++
	t := &nullTopic{next: make([]int64, partitions)}
	binary.BigEndian.PutUint64(t.id[8:], nb.topicSeq)
	nb.topics[name] = t
	nb.byID[t.id] = t
	return t
}

// batchRecords counts the records of the v2 record batches in b from their
// headers (the int32 record count at byte 57 of each batch), without
// decoding them.
func batchRecords(b []byte) int64 {
	var n int64
	for len(b) >= 61 {
		size := int(binary.BigEndian.Uint32(b[8:])) + 12
		n += int64(int32(binary.BigEndian.Uint32(b[57:])))
		if size > len(b) || size < 61 {
			break
		}
		b = b[size:]
	}
	return n
}
