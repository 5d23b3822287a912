package consultest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// FaultProxy is an HTTP reverse proxy in front of an agent's HTTP API that
// injects faults into chosen requests: an error answer ([FaultProxy.FailNext]),
// a request never answered ([FaultProxy.HangNext]) and an outage of the whole
// path ([FaultProxy.OutageOnNext]). Where [Proxy] works on bytes, FaultProxy
// works on requests: it can fail the third lock acquisition and let every
// other request through.
//
// Requests that take no fault are forwarded unchanged, headers included
// (X-Consul-Token, and X-Consul-Index etc. on the way back). Answers are
// streamed back without buffering and nothing times out, so blocking
// queries work through the proxy as they do directly.
//
// Faults are used in the order they were armed: an arriving request takes
// the first armed fault it matches, if any. The proxy is closed in
// t.Cleanup, which ends every request still in it (their connections are
// closed without an answer) and waits for all of its goroutines.
type FaultProxy struct {
	srv     *httptest.Server
	rp      *httputil.ReverseProxy
	tr      *http.Transport    // to the agent
	cancel  context.CancelFunc // cancels the context of every request
	base    context.Context    // the requests' base context (LateNext forwards under it)
	target  *url.URL           // the agent
	serving atomic.Int64       // requests being handled (for tests)

	mu      sync.Mutex
	arrived []arrival // every request so far, in order of arrival
	armed   []*fault  // faults not used up yet, in the order armed
	outage  *outage   // the outage in progress, nil if none
	spare   []Match   // requests that pass through outages (Spare)
}

// errLostInOutage fails a forwarded request whose answer came back from the
// agent during an outage.
var errLostInOutage = errors.New("answer lost in an outage")

// NewFaultProxy starts a fault proxy that listens on 127.0.0.1 (a free
// port) and forwards requests to the HTTP API at target (host:port).
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse("http://" + target)
	if err != nil || u.Host != target || u.Path != "" {
		t.Fatalf("consultest: NewFaultProxy: target %q is not host:port", target)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &FaultProxy{
		cancel: cancel,
		base:   ctx,
		target: u,
		// No timeouts and no proxy from the environment. DisableCompression
		// keeps the client's Accept-Encoding as it is.
		tr: &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 32},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport:      p.tr,
		FlushInterval:  -1, // flush every write: stream answers as they come
		ModifyResponse: p.holdAnswer,
		ErrorHandler:   proxyError,
		// Body copies fail whenever a test kills the agent or abandons a
		// request; the client sees that, the log need not.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	p.srv.Start()
	t.Cleanup(p.close)
	return p
}

// Addr returns the host:port the proxy listens on.
func (p *FaultProxy) Addr() string { return p.srv.Listener.Addr().String() }

// Config returns an api config that reaches agent a through the proxy: a's
// Config (token included) with Address p.Addr().
func (p *FaultProxy) Config(a *Agent) *api.Config {
	cfg := a.Config()
	cfg.Address = p.Addr()
	return cfg
}

// Client returns an api client that reaches agent a through the proxy
// (see Config). Its idle connections are closed in t.Cleanup.
func (p *FaultProxy) Client(t testing.TB, a *Agent) *api.Client {
	t.Helper()
	return newClient(t, p.Config(a))
}

// close ends every request still in the proxy, closes it and waits for all
// of its goroutines. Cancelling the base context of the requests releases
// hung and held requests and cancels those being forwarded, so that the
// server's Close, which waits for active requests, returns.
func (p *FaultProxy) close() {
	p.cancel()
	p.srv.Close()
	p.tr.CloseIdleConnections()
}

// serve handles one request: it passes, fails, hangs or is held.
func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.serving.Add(1)
	defer p.serving.Add(-1)
	act := p.arrive(r)
	switch act.kind {
	case actPass:
		p.rp.ServeHTTP(w, r)
	case actDelay:
		p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), delayKey{}, act.delay)))
	case actFail:
		http.Error(w, "consultest: injected fault", act.code)
	case actLate:
		p.late(w, r, act)
	case actHang:
		drainBody(r)
		<-r.Context().Done()
		abort()
	case actHold:
		drainBody(r)
		select {
		case <-act.outage.ended:
			http.Error(w, "consultest: fault proxy: request held in an outage, not forwarded", http.StatusBadGateway)
		case <-r.Context().Done():
			abort()
		}
	}
}

// late forwards r act.delay after it arrived, whether or not its client
// still waits, and answers the client if it does (see LateNext).
func (p *FaultProxy) late(w http.ResponseWriter, r *http.Request, act action) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		abort()
	}
	select {
	case <-time.After(act.delay):
	case <-p.base.Done():
		abort()
	}
	out := r.Clone(p.base) // not the client's context: it may have given up
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host, out.Host = p.target.Scheme, p.target.Host, p.target.Host
	out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp, err := p.tr.RoundTrip(out)
	act.delivered <- struct{}{} // buffered for every request of the fault
	if err != nil {
		proxyError(w, r, err)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body) // the client may be gone
}

// delayKey marks a request whose answer DelayNext holds.
type delayKey struct{}

// holdAnswer (the ReverseProxy's ModifyResponse) holds a delayed answer
// (DelayNext) for its delay, and holds an answer that
// comes back from the agent during an outage until the outage ends, then
// fails the request: on a real broken path, the answer of a request sent
// before the outage (a blocking query) is lost too.
func (p *FaultProxy) holdAnswer(resp *http.Response) error {
	r := resp.Request
	if d, ok := r.Context().Value(delayKey{}).(time.Duration); ok {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return r.Context().Err()
		}
	}
	p.mu.Lock()
	o := p.outage
	spared := p.spared(arrival{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery})
	p.mu.Unlock()
	if o == nil || spared {
		return nil
	}
	ctx := resp.Request.Context()
	select {
	case <-o.ended:
		return errLostInOutage
	case <-ctx.Done():
		return ctx.Err()
	}
}

// proxyError answers a request that could not be forwarded (the agent is
// down, or its answer was lost in an outage) with 502 Bad Gateway.
func proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		abort() // the client gave up or the proxy is closing
	}
	http.Error(w, "consultest: fault proxy: "+err.Error(), http.StatusBadGateway)
}

// drainBody reads the request body to its end: net/http notices that the
// client gave up (and cancels the request's context) only once the body
// has been read.
func drainBody(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
}

// abort ends the request by closing its connection without an answer, as
// net/http documents for http.ErrAbortHandler (which it does not log). An
// answer would be wrong: the client gave up, or the proxy is closing, which
// to a client looks like a closed connection.
func abort() {
	panic(http.ErrAbortHandler)
}
