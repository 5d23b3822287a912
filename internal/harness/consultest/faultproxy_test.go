package consultest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	renew := arrival{method: "PUT", path: "/v1/session/renew/abc", query: "dc=dc1"}
	blocking := arrival{method: "GET", path: "/v1/kv/lock", query: "index=42&wait=5000ms"}
	tests := []struct {
		name  string
		match Match
		req   arrival
		want  bool
	}{
		{name: "zero matches all", match: Match{}, req: renew, want: true},
		{name: "method", match: Match{Method: "PUT"}, req: renew, want: true},
		{name: "other method", match: Match{Method: "GET"}, req: renew, want: false},
		{name: "method is exact", match: Match{Method: "put"}, req: renew, want: false},
		{name: "path prefix", match: Match{Path: "/v1/session/"}, req: renew, want: true},
		{name: "path not a prefix", match: Match{Path: "/session/renew"}, req: renew, want: false},
		{name: "query substring", match: Match{Query: "index="}, req: blocking, want: true},
		{name: "query missing", match: Match{Query: "index="}, req: renew, want: false},
		{name: "all fields", match: Match{Method: "GET", Path: "/v1/kv/", Query: "wait="}, req: blocking, want: true},
		{name: "one field off", match: Match{Method: "GET", Path: "/v1/kv/", Query: "cas="}, req: blocking, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.match.matches(tt.req); got != tt.want {
				t.Fatalf("%+v matches %+v: %v, want %v", tt.match, tt.req, got, tt.want)
			}
		})
	}
}

// TestFaultProxy runs against an ACL dev server, so that a request that
// passes shows that X-Consul-Token went through.
func TestFaultProxy(t *testing.T) {
	t.Parallel()
	s := DevServer(t, Options{ACL: true, Bind: "127.0.0.33"})
	direct := s.Client(t).KV()
	t.Run("Pass", func(t *testing.T) {
		t.Parallel()
		testFaultProxyPass(t, s, direct)
	})
	t.Run("FailNext", func(t *testing.T) {
		t.Parallel()
		testFaultProxyFailNext(t, s, direct)
	})
	t.Run("HangNext", func(t *testing.T) {
		t.Parallel()
		testFaultProxyHangNext(t, s)
	})
	t.Run("Outage", func(t *testing.T) {
		t.Parallel()
		testFaultProxyOutage(t, s, direct)
	})
	t.Run("Count", func(t *testing.T) {
		t.Parallel()
		testFaultProxyCount(t, s)
	})
	t.Run("LateNext", func(t *testing.T) {
		t.Parallel()
		testFaultProxyLateNext(t, s, direct)
	})
	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		testFaultProxyClose(t, s, direct)
	})
}

// testFaultProxyPass: headers pass both ways and a blocking query returns
// through the proxy as soon as the key changes.
func testFaultProxyPass(t *testing.T, s *Agent, direct *api.KV) {
	p := NewFaultProxy(t, s.HTTPAddr)
	kv := newClient(t, p.Config(s)).KV()
	if _, err := kv.Put(&api.KVPair{Key: "pass/k", Value: []byte("v0")}, nil); err != nil {
		t.Fatalf("put through the proxy (token passed?): %v", err)
	}
	_, meta, err := kv.Get("pass/k", nil)
	if err != nil || meta.LastIndex == 0 {
		t.Fatalf("get through the proxy: index %d, %v", meta.LastIndex, err)
	}
	errc := goGet(kv, "pass/k", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 30 * time.Second})
	WaitFor(t, 5*time.Second, "blocking query at the proxy", func() bool {
		return p.Count(Match{Path: "/v1/kv/pass/k", Query: "index="}) == 1
	})
	if _, err := direct.Put(&api.KVPair{Key: "pass/k", Value: []byte("v1")}, nil); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	select {
	case r := <-errc:
		if r.err != nil || r.pair == nil || string(r.pair.Value) != "v1" {
			t.Fatalf("blocking query through the proxy: %+v %v", r.pair, r.err)
		}
		t.Logf("blocking query through the proxy returned %v after the change", time.Since(changed).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		t.Fatal("blocking query through the proxy did not return 2s after the change")
	}
}

// testFaultProxyFailNext: exactly n matching requests fail with the code
// without reaching the agent; the next one and other requests pass.
func testFaultProxyFailNext(t *testing.T, s *Agent, direct *api.KV) {
	tests := []struct {
		name string
		code int
		n    int
	}{
		{name: "one 500", code: 500, n: 1},
		{name: "two 503", code: 503, n: 2},
		{name: "three 429", code: 429, n: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewFaultProxy(t, s.HTTPAddr)
			kv := newClient(t, p.Config(s)).KV()
			key := "fail/" + strings.ReplaceAll(tt.name, " ", "-")
			match := Match{Method: "PUT", Path: "/v1/kv/" + key}
			p.FailNext(match, tt.code, tt.n)
			if _, _, err := kv.Get(key, nil); err != nil {
				t.Fatalf("GET with a PUT fault armed: %v", err)
			}
			for i := 0; i < tt.n; i++ {
				_, err := kv.Put(&api.KVPair{Key: key, Value: []byte("failed")}, nil)
				var se api.StatusError
				if !errors.As(err, &se) || se.Code != tt.code || se.Body != "consultest: injected fault" {
					t.Fatalf("put %d: err %v, want status %d", i+1, err, tt.code)
				}
			}
			if p, _, err := direct.Get(key, nil); err != nil || p != nil {
				t.Fatalf("a failed put reached the agent: %+v %v", p, err)
			}
			if _, err := kv.Put(&api.KVPair{Key: key, Value: []byte("ok")}, nil); err != nil {
				t.Fatalf("put %d, after the faults: %v", tt.n+1, err)
			}
			if p, _, err := direct.Get(key, nil); err != nil || p == nil || string(p.Value) != "ok" {
				t.Fatalf("put after the faults: agent has %+v %v", p, err)
			}
			if got := p.Count(match); got != tt.n+1 {
				t.Fatalf("Count = %d, want %d", got, tt.n+1)
			}
		})
	}
}

// testFaultProxyHangNext: hung requests (a GET, and a PUT with a body) last
// until their clients give up, while a concurrent request and the next
// matching ones pass.
func testFaultProxyHangNext(t *testing.T, s *Agent) {
	p := NewFaultProxy(t, s.HTTPAddr)
	kv := newClient(t, p.Config(s)).KV()
	get, put := Match{Method: "GET", Path: "/v1/kv/hang/a"}, Match{Method: "PUT", Path: "/v1/kv/hang/a"}
	p.HangNext(get, 1)
	p.HangNext(put, 1)
	const giveUp = 500 * time.Millisecond
	start := time.Now()
	hungGet := goGet(kv, "hang/a", withTimeout(t, giveUp))
	hungPut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), giveUp)
		defer cancel()
		_, err := kv.Put(&api.KVPair{Key: "hang/a", Value: []byte("hung")}, (&api.WriteOptions{}).WithContext(ctx))
		hungPut <- err
	}()
	WaitFor(t, 5*time.Second, "hung requests at the proxy", func() bool {
		return p.Count(get) == 1 && p.Count(put) == 1
	})
	if _, _, err := kv.Get("hang/b", withTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("request concurrent with hung ones: %v", err)
	}
	if r := recv(t, hungGet, "hung get"); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("hung get: %+v %v, want deadline exceeded", r.pair, r.err)
	}
	if err := recv(t, hungPut, "hung put"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung put: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d < giveUp {
		t.Fatalf("hung requests ended after %v, before their clients gave up", d)
	}
	WaitFor(t, 5*time.Second, "hung handlers to end after their clients gave up", func() bool {
		return p.serving.Load() == 0
	})
	if _, err := kv.Put(&api.KVPair{Key: "hang/a", Value: []byte("ok")}, nil); err != nil {
		t.Fatalf("put after the hung one: %v", err)
	}
	if r := <-goGet(kv, "hang/a", withTimeout(t, 5*time.Second)); r.err != nil || r.pair == nil || string(r.pair.Value) != "ok" {
		t.Fatalf("get after the hung one: %+v %v", r.pair, r.err)
	}
}

// testFaultProxyOutage: an outage holds the request that begins it, later
// requests and the answer of a blocking query sent before it; EndOutage
// fails them all with 502, and later requests pass.
func testFaultProxyOutage(t *testing.T, s *Agent, direct *api.KV) {
	p := NewFaultProxy(t, s.HTTPAddr)
	kv := newClient(t, p.Config(s)).KV()
	if _, err := direct.Put(&api.KVPair{Key: "outage/k", Value: []byte("v0")}, nil); err != nil {
		t.Fatal(err)
	}
	_, meta, err := direct.Get("outage/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	blocking := goGet(kv, "outage/k", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 30 * time.Second})
	WaitFor(t, 5*time.Second, "blocking query at the proxy", func() bool { return p.Count(Match{Query: "index="}) == 1 })

	started := p.OutageOnNext(Match{Method: "PUT", Path: "/v1/kv/outage/"})
	if _, _, err := kv.Get("outage/other", withTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("request before the outage began: %v", err)
	}
	sent := time.Now()
	put := goPut(kv, &api.KVPair{Key: "outage/k", Value: []byte("lost")})
	select {
	case <-started:
		t.Logf("outage began %v after the matching request was sent", time.Since(sent).Round(time.Microsecond))
	case <-time.After(5 * time.Second):
		t.Fatal("outage did not begin")
	}
	later := goGet(kv, "outage/other", nil)
	abandoned := goGet(kv, "outage/other", withTimeout(t, 300*time.Millisecond))
	// The blocking query's answer comes back during the outage.
	if _, err := direct.Put(&api.KVPair{Key: "outage/k", Value: []byte("v1")}, nil); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, abandoned, "abandoned get"); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("held request whose client gave up: %+v %v, want deadline exceeded", r.pair, r.err)
	}
	WaitFor(t, 5*time.Second, "three requests held", func() bool { return p.serving.Load() == 3 })
	select {
	case err := <-put:
		t.Fatalf("request that began the outage returned during it: %v", err)
	case r := <-later:
		t.Fatalf("request during the outage returned during it: %+v %v", r.pair, r.err)
	case r := <-blocking:
		t.Fatalf("blocking query returned during the outage: %+v %v", r.pair, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	if pair, _, err := direct.Get("outage/k", nil); err != nil || pair == nil || string(pair.Value) != "v1" {
		t.Fatalf("agent has %+v %v: the held put was forwarded", pair, err)
	}

	p.EndOutage()
	want502 := func(what string, err error, body string) {
		t.Helper()
		var se api.StatusError
		if !errors.As(err, &se) || se.Code != 502 || !strings.Contains(se.Body, body) {
			t.Fatalf("%s after EndOutage: %v, want 502 %q", what, err, body)
		}
	}
	want502("request that began the outage", recv(t, put, "put"), "held in an outage")
	want502("request during the outage", recv(t, later, "get").err, "held in an outage")
	want502("blocking query", recv(t, blocking, "blocking query").err, "answer lost in an outage")
	if pair, _, err := direct.Get("outage/k", nil); err != nil || pair == nil || string(pair.Value) != "v1" {
		t.Fatalf("agent has %+v %v after EndOutage: the held put was forwarded", pair, err)
	}
	if _, err := kv.Put(&api.KVPair{Key: "outage/k", Value: []byte("after")}, nil); err != nil {
		t.Fatalf("put after EndOutage: %v", err)
	}
	if _, _, err := kv.Get("outage/k", withTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("get after EndOutage: %v", err)
	}
}

// testFaultProxyCount: Count counts arrivals by method, path prefix and
// query.
func testFaultProxyCount(t *testing.T, s *Agent) {
	p := NewFaultProxy(t, s.HTTPAddr)
	kv := newClient(t, p.Config(s)).KV()
	p.FailNext(Match{Path: "/v1/kv/count/failed"}, 500, 1)
	for _, key := range []string{"count/a", "count/a", "count/b", "count/failed"} {
		_, _, _ = kv.Get(key, nil)
	}
	if _, err := kv.Put(&api.KVPair{Key: "count/a"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Get("count/a", &api.QueryOptions{WaitIndex: 1, WaitTime: time.Second}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		match Match
		want  int
	}{
		{name: "all", match: Match{}, want: 6},
		{name: "GET", match: Match{Method: "GET"}, want: 5},
		{name: "PUT", match: Match{Method: "PUT"}, want: 1},
		{name: "path prefix", match: Match{Path: "/v1/kv/count/a"}, want: 4},
		{name: "failed ones count too", match: Match{Path: "/v1/kv/count/failed"}, want: 1},
		{name: "blocking", match: Match{Method: "GET", Query: "index="}, want: 1},
		{name: "none", match: Match{Path: "/v1/session/"}, want: 0},
	}
	for _, tt := range tests {
		if got := p.Count(tt.match); got != tt.want {
			t.Errorf("%s: Count(%+v) = %d, want %d", tt.name, tt.match, got, tt.want)
		}
	}
}

// testFaultProxyClose: closing the proxy ends hung, held and forwarded
// requests promptly (their connections close) and waits for them.
func testFaultProxyClose(t *testing.T, s *Agent, direct *api.KV) {
	p := NewFaultProxy(t, s.HTTPAddr)
	kv := newClient(t, p.Config(s)).KV()
	// The key exists so that the blocking query waits on the key's own
	// ModifyIndex: a missing key answers with the whole KV table's index,
	// which the parallel subtests' writes move, ending the wait early.
	if _, err := direct.Put(&api.KVPair{Key: "close/k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	pair, _, err := direct.Get("close/k", nil)
	if err != nil || pair == nil {
		t.Fatalf("get close/k: %v, %v", pair, err)
	}
	p.HangNext(Match{Path: "/v1/kv/close/hung"}, 1)
	forwarded := goGet(kv, "close/k", &api.QueryOptions{WaitIndex: pair.ModifyIndex, WaitTime: 30 * time.Second})
	hung := goGet(kv, "close/hung", nil)
	WaitFor(t, 5*time.Second, "two requests at the proxy", func() bool { return p.Count(Match{}) == 2 })
	started := p.OutageOnNext(Match{})
	held := goGet(kv, "close/held", nil)
	recv(t, started, "outage begin")
	WaitFor(t, 5*time.Second, "three requests in flight", func() bool { return p.serving.Load() == 3 })

	start := time.Now()
	p.close()
	t.Logf("close took %v", time.Since(start).Round(time.Millisecond))
	if n := p.serving.Load(); n != 0 {
		t.Fatalf("%d requests still being handled after close", n)
	}
	for what, c := range map[string]<-chan getResult{"forwarded": forwarded, "hung": hung, "held": held} {
		if r := recv(t, c, what+" request"); r.err == nil {
			t.Fatalf("%s request succeeded through a closed proxy: %+v", what, r.pair)
		}
	}
}

// testFaultProxyLateNext: a late request is applied after its client gave
// up, and after the client's second try; one whose client still waits is
// answered.
func testFaultProxyLateNext(t *testing.T, s *Agent, direct *api.KV) {
	p := NewFaultProxy(t, s.HTTPAddr)
	kv := newClient(t, p.Config(s)).KV()
	delivered := p.LateNext(Match{Method: "PUT", Path: "/v1/kv/late/k"}, time.Second, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := kv.Put(&api.KVPair{Key: "late/k", Value: []byte("first")}, (&api.WriteOptions{}).WithContext(ctx))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("late put whose client gave up: %v, want deadline exceeded", err)
	}
	if _, err := kv.Put(&api.KVPair{Key: "late/k", Value: []byte("second")}, withWrite(t, 5*time.Second)); err != nil {
		t.Fatalf("retry, past the fault: %v", err)
	}
	recv(t, delivered, "late request delivered")
	pair, _, err := direct.Get("late/k", nil)
	if err != nil || pair == nil || string(pair.Value) != "first" {
		t.Fatalf("after the late request: %+v %v, want the late value \"first\" written over the retry's", pair, err)
	}

	waited := p.LateNext(Match{Method: "PUT", Path: "/v1/kv/late/other"}, 300*time.Millisecond, 1)
	start := time.Now()
	if _, err := kv.Put(&api.KVPair{Key: "late/other", Value: []byte("v")}, withWrite(t, 5*time.Second)); err != nil {
		t.Fatalf("late put whose client waits: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("late put answered after %v, before its delay", d)
	}
	recv(t, waited, "waited-for late request delivered")
}

// withWrite returns write options whose context ends after d (or at the
// end of the test).
func withWrite(t *testing.T, d time.Duration) *api.WriteOptions {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return (&api.WriteOptions{}).WithContext(ctx)
}

// getResult is the result of a KV get.
type getResult struct {
	pair *api.KVPair
	err  error
}

// goGet runs kv.Get(key, q) in a goroutine; the channel receives the result.
func goGet(kv *api.KV, key string, q *api.QueryOptions) <-chan getResult {
	c := make(chan getResult, 1)
	go func() {
		pair, _, err := kv.Get(key, q)
		c <- getResult{pair, err}
	}()
	return c
}

// goPut runs kv.Put(pair) in a goroutine; the channel receives its error.
func goPut(kv *api.KV, pair *api.KVPair) <-chan error {
	c := make(chan error, 1)
	go func() {
		_, err := kv.Put(pair, nil)
		c <- err
	}()
	return c
}

// recv receives from c, failing t if nothing comes within 5s.
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing after 5s", what)
		panic("unreachable")
	}
}

// withTimeout returns query options whose context ends after d (or at the
// end of the test).
func withTimeout(t *testing.T, d time.Duration) *api.QueryOptions {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return (&api.QueryOptions{}).WithContext(ctx)
}
