package consultest

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/consul/api"
)

// Proxy is a TCP proxy for fault injection between a client and an agent:
// it can freeze traffic (a hung path, not a closed one) and drop all
// connections. It is closed in t.Cleanup, which stops and waits for all of
// its goroutines.
type Proxy struct {
	target   string
	ln       net.Listener
	wg       sync.WaitGroup
	accepted atomic.Int64 // connections accepted so far

	mu     sync.Mutex
	frozen bool
	thaw   chan struct{} // closed when the proxy is not frozen
	conns  map[*proxyConn]struct{}
	closed bool
}

// proxyConn is one proxied connection.
type proxyConn struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{} // closed by close
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		c.server.Close()
	})
}

// NewProxy starts a proxy that listens on 127.0.0.1 (a free port) and
// forwards every connection to target (host:port). Connections are dialed
// to target when accepted; if that fails the client connection is closed.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	return NewProxyOn(t, "127.0.0.1", target)
}

// NewProxyOn is NewProxy listening on the address host instead (a free
// port), for instance a network namespace net's RootIP, which processes
// in the net's namespaces reach.
func NewProxyOn(t testing.TB, host, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("consultest: proxy listen: %v", err)
	}
	thaw := make(chan struct{})
	close(thaw)
	p := &Proxy{target: target, ln: ln, thaw: thaw, conns: make(map[*proxyConn]struct{})}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

// Addr returns the host:port the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Config returns an api config that reaches agent a through the proxy: a's
// Config (token included) with Address p.Addr().
func (p *Proxy) Config(a *Agent) *api.Config {
	cfg := a.Config()
	cfg.Address = p.Addr()
	return cfg
}

// Freeze stalls the proxy: from now on no byte is forwarded in either
// direction on existing connections, and new connections are accepted but
// never answered. At most one read buffer per direction is read and held;
// the rest stays unread in the kernel buffers. Bytes the proxy had already
// read before Freeze may still be delivered. As on a real network path that
// recovers, bytes held while frozen are delivered after Unfreeze even if
// the client gave up meanwhile: a request that timed out on the client side
// may still reach and change the agent (until DropAll closes the
// connection).
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thaw = make(chan struct{})
	}
}

// Unfreeze resumes forwarding on existing and new connections, including
// the bytes held while frozen.
func (p *Proxy) Unfreeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thaw)
	}
}

// DropAll closes every open connection, both the client and the target
// side, now. New connections still work (and are frozen if the proxy is).
//
// Note that net/http retries an idempotent request (any GET, so also a
// blocking query) once on a new connection when a reused keep-alive
// connection is closed before the response arrives: such a request survives
// one DropAll. A request on a fresh connection, or one hit by a second
// DropAll after the retry connected, fails.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// close stops the listener and all connections and waits for every
// goroutine of the proxy.
func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.DropAll()
	p.wg.Wait()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(client)
	}
}

// serve dials the target for client and pumps bytes both ways until either
// side closes or the connection is dropped.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	c := &proxyConn{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()

	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.pump(c, server, client)
	}()
	p.pump(c, client, server)

	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pump copies src to dst, holding every chunk while the proxy is frozen.
// When either direction ends, the whole connection is closed.
func (p *Proxy) pump(c *proxyConn, src, dst net.Conn) {
	defer c.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitThawed(c) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitThawed waits until the proxy is not frozen; false if c was closed.
func (p *Proxy) waitThawed(c *proxyConn) bool {
	for {
		p.mu.Lock()
		frozen, thaw := p.frozen, p.thaw
		p.mu.Unlock()
		if !frozen {
			return true
		}
		select {
		case <-thaw:
		case <-c.done:
			return false
		}
	}
}
