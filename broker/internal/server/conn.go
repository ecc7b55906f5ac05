package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxInFlight bounds the requests a connection may have read but not yet
// answered; the reader stops reading (TCP backpressure) past it.
const maxInFlight = 64

// request is one decoded request. body owns the bytes that kreq may alias
// (requests are decoded with UnsafeReadFrom: produce records are not copied).
type request struct {
	key      int16
	version  int16
	corr     int32
	clientID string
	kreq     kmsg.Request
	c        *conn

	// body is the pooled buffer holding the request bytes, returned to the
	// pool once the response is written. Only produce and fetch requests,
	// whose decoded fields are not kept past the request, use the pool:
	// other requests may keep strings that alias their bytes.
	body *[]byte
	// arenas are pooled buffers the handler read record data into; the
	// response aliases them until it is written.
	arenas []*[]byte

	// badVersion marks an ApiVersions request of a version newer than ours.
	badVersion bool

	// For produce: the previous produce on this connection must have
	// appended before this one appends, so pipelined produces keep order.
	prevAppend <-chan struct{}
	appended   chan struct{}
}

// appendTurn waits until earlier produce requests on the connection have
// appended. It returns a function that marks this request's appends done.
func (r *request) appendTurn(ctx context.Context) (done func(), err error) {
	if r.prevAppend != nil {
		select {
		case <-r.prevAppend:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() { once.Do(func() { close(r.appended) }) }, nil
}

type slot struct {
	req  *request
	resp kmsg.Response
	err  error
	done chan struct{}
}

type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	// listener is the name of the listener the client connected to; the
	// broker advertises that listener's address to it.
	listener string
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	slots    chan *slot
	wg       sync.WaitGroup // handler goroutines and the writer
	// lastAppend is the appended channel of the newest produce request.
	lastAppend <-chan struct{}
}

// serve runs the connection until the client goes away, a request cannot be
// parsed, or the server stops. It returns after every goroutine it started
// has returned.
func (s *Server) serveConn(nc net.Conn, listener string) {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		s:        s,
		nc:       nc,
		remote:   nc.RemoteAddr().String(),
		listener: listener,
		ctx:      ctx,
		cancel:   cancel,
		slots:    make(chan *slot, maxInFlight),
	}
	c.log = s.log.With("client", c.remote)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()

	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.slots)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
		c.log.Warn("closing connection", "err", err)
	}
	c.wg.Wait()
	cancel()
	nc.Close()
}

func (c *conn) readLoop() error {
	var sizeBuf [4]byte
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.s.config().SocketRequestMaxBytes {
			return fmt.Errorf("request size %d outside [8, socket.request.max.bytes=%d]", size, c.s.config().SocketRequestMaxBytes)
		}
		bp := c.s.bufs.get(int(size))
		body := (*bp)[:size]
		if _, err := io.ReadFull(br, body); err != nil {
			return fmt.Errorf("reading %d-byte request: %w", size, err)
		}
		req, err := c.parse(body)
		if err != nil {
			return err
		}
		if req.key == 0 || req.key == 1 {
			req.body = bp
		}
		sl := &slot{req: req, done: make(chan struct{})}
		if req.key == 0 { // Produce
			req.prevAppend = c.lastAppend
			req.appended = make(chan struct{})
			c.lastAppend = req.appended
		}
		select {
		case c.slots <- sl:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer close(sl.done)
			defer func() {
				if req.appended != nil {
					select {
					case <-req.appended:
					default:
						close(req.appended)
					}
				}
			}()
			sl.resp, sl.err = c.s.safeHandle(c.ctx, req)
		}()
	}
}

// safeHandle runs the handler and turns a panic into an error that closes
// this connection only: a request must never take the broker down.
func (s *Server) safeHandle(ctx context.Context, r *request) (resp kmsg.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic; closing the connection", "api", kmsg.NameForKey(r.key), "version", r.version, "panic", p, "stack", string(debug.Stack()))
			resp, err = nil, fmt.Errorf("internal error handling %s", kmsg.NameForKey(r.key))
		}
	}()
	return s.handle(ctx, r)
}

// parse decodes the request header and body. An error closes the connection.
func (c *conn) parse(body []byte) (*request, error) {
	rd := kbin.Reader{Src: body}
	key := rd.Int16()
	version := rd.Int16()
	corr := rd.Int32()
	clientID := rd.NullableString()
	if rd.Complete() != nil {
		return nil, fmt.Errorf("truncated request header")
	}
	req := &request{key: key, version: version, corr: corr, c: c}
	if clientID != nil {
		req.clientID = *clientID
	}
	kreq := kmsg.RequestForKey(key)
	if kreq == nil {
		return nil, fmt.Errorf("unknown api key %d (correlation id %d)", key, corr)
	}
	vr, supported := apiVersions[key]
	if !supported || version < vr.min || version > vr.max {
		if key == 18 && version > vr.max {
			// KIP-511: answer ApiVersions of a newer version with v0 and
			// UNSUPPORTED_VERSION so that the client retries with ours.
			req.kreq = &kmsg.ApiVersionsRequest{Version: 0}
			req.version = 0
			req.badVersion = true
			return req, nil
		}
		if supported {
			return nil, fmt.Errorf("%s v%d is not supported (this broker supports v%d-v%d)", kmsg.NameForKey(key), version, vr.min, vr.max)
		}
		return nil, fmt.Errorf("%s (key %d) is not supported by this broker", kmsg.NameForKey(key), key)
	}
	kreq.SetVersion(version)
	if kreq.IsFlexible() {
		kmsg.SkipTags(&rd)
		if rd.Complete() != nil {
			return nil, fmt.Errorf("truncated request header tags")
		}
	}
	var err error
	if u, ok := kreq.(kmsg.UnsafeReadFrom); ok {
		err = u.UnsafeReadFrom(rd.Src)
	} else {
		err = kreq.ReadFrom(rd.Src)
	}
	if err != nil {
		return nil, fmt.Errorf("malformed %s v%d request: %w", kmsg.NameForKey(key), version, err)
	}
	req.kreq = kreq
	return req, nil
}

func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	failed := false
	for sl := range c.slots {
		<-sl.done
		if failed {
			c.release(sl.req)
			continue
		}
		if sl.err != nil {
			if !errors.Is(sl.err, context.Canceled) {
				c.log.Warn("closing connection", "api", kmsg.NameForKey(sl.req.key), "err", sl.err)
			}
			failed = true
			c.cancel()
			c.release(sl.req)
			continue
		}
		if sl.resp == nil { // acks=0 produce: no response
			c.release(sl.req)
			continue
		}
		bp := c.s.bufs.get(responseSizeHint(sl.resp))
		buf := encodeResponse(*bp, sl.req, sl.resp)
		_, err := bw.Write(buf)
		*bp = buf
		c.s.bufs.put(bp)
		c.release(sl.req)
		if err != nil {
			failed = true
			c.cancel()
			continue
		}
		if len(c.slots) == 0 {
			if err := bw.Flush(); err != nil {
				failed = true
				c.cancel()
			}
		}
	}
}

// release returns a request's pooled buffers once nothing refers to them.
func (c *conn) release(r *request) {
	c.s.bufs.put(r.body)
	for _, a := range r.arenas {
		c.s.bufs.put(a)
	}
	r.body, r.arenas = nil, nil
}

// responseSizeHint estimates the encoded size of a response so that the
// buffer is allocated once instead of grown by doubling (a fetch response
// is mostly its record bytes).
func responseSizeHint(resp kmsg.Response) int {
	fr, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 4 << 10
	}
	n := 256
	for i := range fr.Topics {
		n += 64 + len(fr.Topics[i].Topic)
		for j := range fr.Topics[i].Partitions {
			n += 96 + len(fr.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

func encodeResponse(dst []byte, req *request, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(req.corr))
	// ApiVersions responses always use header v0 (KIP-511), so a client
	// that sent a version we do not know can still read the answer.
	if resp.IsFlexible() && req.key != 18 {
		dst = append(dst, 0) // empty tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst, uint32(len(dst)-4))
	return dst
}

// errCode returns the Kafka error code for err: the kerr code it wraps, or
// UNKNOWN_SERVER_ERROR.
func errCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// errMessage is the error message a response carries beside errCode's
// code: nil when there is no error.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	msg := err.Error()
	return &msg
}
