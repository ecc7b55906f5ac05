package broker_test

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a TCP proxy on 127.0.0.1 that forwards bytes both ways
// between clients and one broker address and cuts connections on a
// seeded random schedule, to show what a client's retries do to the log.
//
// Each accepted connection gets a budget of request bytes (client to
// broker) drawn from [minBudget, maxBudget). When the budget runs out the
// proxy does one of two things, chosen at random:
//
//   - cut mid-request: it forwards only the bytes up to the budget and
//     resets both connections, so the broker sees a torn frame and appends
//     nothing of that request;
//   - drop the response: it forwards the whole chunk, stops reading from
//     the client, and resets both connections as soon as the broker answers
//     (or after a short wait), so a request that was appended is never
//     acknowledged. This is the case that makes a producer retry a batch
//     the broker already has, and only sequence-number dedupe keeps that
//     retry from being appended twice.
//
// Resets use SO_LINGER 0, so the peers see an abrupt RST, not a clean FIN.
type faultProxy struct {
	t         testing.TB
	ln        net.Listener
	target    string
	minBudget int
	maxBudget int

	mu    sync.Mutex
	rng   *rand.Rand
	conns map[*proxyConn]struct{}
	done  bool

	wg           sync.WaitGroup
	tornRequests atomic.Int64 // cuts in the middle of a request
	lostReplies  atomic.Int64 // cuts after a request, before its response
}

// newFaultProxy listens on a free loopback port; call start with the
// broker address once it is known (the broker must advertise the proxy's
// address, so the proxy has to exist first). It is closed when the test
// ends.
func newFaultProxy(t testing.TB, seed uint64, minBudget, maxBudget int) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{
		t: t, ln: ln, minBudget: minBudget, maxBudget: maxBudget,
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		conns: map[*proxyConn]struct{}{},
	}
	t.Cleanup(p.close)
	return p
}

// Addr is the address clients dial (and the broker advertises).
func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// start begins accepting connections and forwarding them to target.
func (p *faultProxy) start(target string) {
	p.target = target
	p.wg.Add(1)
	go p.accept()
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			resetClose(c)
			continue
		}
		p.mu.Lock()
		if p.done {
			p.mu.Unlock()
			resetClose(c)
			resetClose(u)
			return
		}
		pc := &proxyConn{
			p: p, client: c, upstream: u,
			budget:       p.minBudget + p.rng.IntN(p.maxBudget-p.minBudget),
			dropResponse: p.rng.IntN(2) == 0,
			armed:        make(chan struct{}),
			gone:         make(chan struct{}),
		}
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go pc.requests()
		go pc.responses()
	}
}

// close stops accepting, resets every open connection and waits for all
// of the proxy's goroutines.
func (p *faultProxy) close() {
	p.mu.Lock()
	p.done = true
	conns := make([]*proxyConn, 0, len(p.conns))
	for pc := range p.conns {
		conns = append(conns, pc)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, pc := range conns {
		pc.cut()
	}
	p.wg.Wait()
}

// proxyConn is one client connection and its upstream connection.
type proxyConn struct {
	p                *faultProxy
	client, upstream net.Conn
	budget           int           // request bytes to forward before the fault
	dropResponse     bool          // fault kind: drop the response rather than tear the request
	armed            chan struct{} // closed when responses must be dropped
	gone             chan struct{} // closed by cut
	cutOnce          sync.Once
}

// cut resets both connections; the copy loops then end on their errors.
func (pc *proxyConn) cut() {
	pc.cutOnce.Do(func() {
		close(pc.gone)
		resetClose(pc.client)
		resetClose(pc.upstream)
		pc.p.mu.Lock()
		delete(pc.p.conns, pc)
		pc.p.mu.Unlock()
	})
}

// requests copies client bytes to the broker until the budget is spent.
func (pc *proxyConn) requests() {
	defer pc.p.wg.Done()
	buf := make([]byte, 16<<10)
	sent := 0
	for {
		n, err := pc.client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			over := sent+n >= pc.budget
			if over && !pc.dropResponse {
				chunk = buf[:pc.budget-sent]
			}
			if _, werr := pc.upstream.Write(chunk); werr != nil {
				pc.cut()
				return
			}
			sent += len(chunk)
			if over {
				if !pc.dropResponse {
					pc.p.tornRequests.Add(1)
					pc.cut()
					return
				}
				// The request is with the broker; its answer must not reach
				// the client. If no answer comes (the chunk ended inside a
				// request), cut anyway after a moment.
				close(pc.armed)
				select {
				case <-pc.gone:
				case <-time.After(200 * time.Millisecond):
					pc.cut()
				}
				return
			}
		}
		if err != nil {
			pc.cut()
			return
		}
	}
}

// responses copies broker bytes to the client, unless the fault is armed.
func (pc *proxyConn) responses() {
	defer pc.p.wg.Done()
	buf := make([]byte, 16<<10)
	for {
		n, err := pc.upstream.Read(buf)
		if n > 0 {
			select {
			case <-pc.armed:
				pc.p.lostReplies.Add(1)
				pc.cut()
				return
			default:
			}
			if _, werr := pc.client.Write(buf[:n]); werr != nil {
				pc.cut()
				return
			}
		}
		if err != nil {
			pc.cut()
			return
		}
	}
}

// resetClose closes c with SO_LINGER 0 so the peer gets a RST.
func resetClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
