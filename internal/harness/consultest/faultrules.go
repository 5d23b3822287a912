package consultest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Match selects the requests a fault applies to, or that Count counts.
// Empty fields match anything; the zero Match matches every request.
type Match struct {
	// Method is the exact HTTP method, such as "PUT".
	Method string
	// Path is a prefix of the URL path, such as "/v1/session/renew/".
	Path string
	// Query is a substring of the raw (encoded) URL query, such as
	// "index=" for blocking queries.
	Query string
}

// matches reports whether m selects the request a.
func (m Match) matches(a arrival) bool {
	return (m.Method == "" || m.Method == a.method) &&
		strings.HasPrefix(a.path, m.Path) &&
		strings.Contains(a.query, m.Query)
}

// arrival is what the proxy records of each request.
type arrival struct {
	method, path, query string
}

// actionKind is what the proxy does with a request.
type actionKind int

const (
	actPass  actionKind = iota // forward it
	actFail                    // answer it with an error
	actHang                    // never answer it
	actHold                    // hold it in an outage
	actDelay                   // forward it, and hold its answer for a while
	actLate                    // hold it for a while, then forward it even if its client gave up
)

// action is what the proxy does with a request.
type action struct {
	kind   actionKind
	code   int           // actFail: the status code
	outage *outage       // actHold: the outage; for an armed fault, the one it begins
	delay  time.Duration // actDelay: how long the answer is held; actLate: the request
	// actLate: receives a value when a request has been forwarded late
	// (and the agent answered or failed); buffered for all of them.
	delivered chan struct{}
}

// fault is an armed fault: the next left requests that match get act.
type fault struct {
	match Match
	left  int
	act   action
}

// outage is one outage of OutageOnNext.
type outage struct {
	started chan struct{} // closed when the outage begins
	ended   chan struct{} // closed by EndOutage
}

// FailNext arms a fault for the next n requests that match: each is
// answered with status code (200 to 599) and the body "consultest:
// injected fault" and never reaches the agent. The api client returns an
// api.StatusError for it. n <= 0 arms nothing.
func (p *FaultProxy) FailNext(match Match, code, n int) {
	if code < 200 || code > 599 {
		panic(fmt.Sprintf("consultest: FailNext: status code %d is not in [200, 599]", code))
	}
	p.arm(match, n, action{kind: actFail, code: code})
}

// HangNext arms a fault for the next n requests that match: each is never
// forwarded nor answered, like a request on a connection that died
// silently; other requests still pass. A hung request ends when the client
// gives up (its context ends or its connection closes) or the proxy
// closes, and its connection is then closed without an answer. n <= 0
// arms nothing.
func (p *FaultProxy) HangNext(match Match, n int) {
	p.arm(match, n, action{kind: actHang})
}

// DelayNext arms a fault for the next n requests that match: each is
// forwarded (so the agent acts on it), and its answer is held for d
// before it reaches the client: a slow or briefly frozen path, on which an
// answer arrives long after the server decided. n <= 0 arms nothing.
func (p *FaultProxy) DelayNext(match Match, d time.Duration, n int) {
	p.arm(match, n, action{kind: actDelay, delay: d})
}

// LateNext arms a fault for the next n requests that match: each is held
// for d and then forwarded to the agent, whether or not its client still
// waits (the client's answer comes through if it does). That is a request
// stuck in a queue on the way, such as a write whose client timed out
// and tried again, which the servers still apply long after: the second
// try may already have succeeded. The returned channel receives a value
// when each of the n requests has been forwarded and answered. n <= 0
// arms nothing.
func (p *FaultProxy) LateNext(match Match, d time.Duration, n int) <-chan struct{} {
	delivered := make(chan struct{}, max(n, 0))
	p.arm(match, n, action{kind: actLate, delay: d, delivered: delivered})
	return delivered
}

// OutageOnNext arms an outage of the whole path to the agent, which begins
// when the next request that matches arrives; the returned channel is
// closed then. From then on that request and every later one, matching or
// not, are held without being forwarded. Answers that come back from the
// agent during the outage, to requests forwarded before it began (such as
// a blocking query), are held too. EndOutage ends the outage: every held
// request and answer is then failed with 502 Bad Gateway (an answer lost
// on the way), and later requests pass again. A held request whose client
// gives up meanwhile ends with its connection closed. Requests held in an
// outage use up no other armed fault.
func (p *FaultProxy) OutageOnNext(match Match) <-chan struct{} {
	o := &outage{started: make(chan struct{}), ended: make(chan struct{})}
	p.arm(match, 1, action{kind: actHold, outage: o})
	return o.started
}

// EndOutage ends the outage in progress, if any (see OutageOnNext). An
// outage that is armed but has not begun stays armed.
func (p *FaultProxy) EndOutage() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outage != nil {
		close(p.outage.ended)
		p.outage = nil
	}
}

// Count returns how many requests that match have arrived at the proxy so
// far, whatever happened to them. The proxy keeps the method, path and
// query of every request for it, about a hundred bytes each.
func (p *FaultProxy) Count(match Match) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.arrived {
		if match.matches(a) {
			n++
		}
	}
	return n
}

// Spare makes requests that match pass through every outage, with their
// answers: for instance Match{Path: "/v1/agent/"}, the agent's own
// endpoints, to model servers cut off from an agent that still answers.
func (p *FaultProxy) Spare(match Match) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spare = append(p.spare, match)
}

// spared reports whether a is spared by outages; p.mu must be held.
func (p *FaultProxy) spared(a arrival) bool {
	return slices.ContainsFunc(p.spare, func(m Match) bool { return m.matches(a) })
}

// arm adds a fault for the next n (at least 1) requests that match.
func (p *FaultProxy) arm(match Match, n int, act action) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = append(p.armed, &fault{match: match, left: n, act: act})
}

// arrive records r and returns what to do with it: hold it if an outage
// is in progress, else use the first armed fault it matches, else pass it.
func (p *FaultProxy) arrive(r *http.Request) action {
	a := arrival{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.arrived = append(p.arrived, a)
	if p.outage != nil && !p.spared(a) {
		return action{kind: actHold, outage: p.outage}
	}
	i := slices.IndexFunc(p.armed, func(f *fault) bool { return f.match.matches(a) })
	if i < 0 {
		return action{kind: actPass}
	}
	f := p.armed[i]
	if f.left--; f.left == 0 {
		p.armed = slices.Delete(p.armed, i, i+1)
	}
	if f.act.kind == actHold {
		p.outage = f.act.outage
		close(p.outage.started)
	}
	return f.act
}
