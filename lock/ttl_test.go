package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// The session carries the default TTL and is renewed: a lock held for
// longer than 2*SessionTTL (when Consul expires an unrenewed session) is
// still held, by a session that Consul still knows with that TTL.
func TestSessionTTLIsRenewed(t *testing.T) {
	t.Parallel()
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	s, err := lock.NewSession(client, lock.Config{Identity: "ttl"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	m, err := s.Mutex("svc/ttl")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	held, err := m.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	se, _, err := client.Session().Info(held.Session(), nil)
	if err != nil || se == nil || se.TTL != lock.DefaultSessionTTL.String() {
		t.Fatalf("session %+v (%v), want TTL %v", se, err, lock.DefaultSessionTTL)
	}
	select {
	case <-held.Done():
		t.Fatalf("lost the lock while idle: %v", held.Reason())
	case <-time.After(2*lock.DefaultSessionTTL + 2*time.Second):
	}
	if se, _, err := client.Session().Info(held.Session(), nil); err != nil || se == nil {
		t.Fatalf("session gone after 2*SessionTTL: %v", err)
	}
	if err := held.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// A Session that holds nothing is renewed every 1.5*SessionTTL, one that
// holds a lock every SessionTTL/2: over 2*SessionTTL + 3s a waiter keeps
// its session with one or two renewals while the holder's renews four
// times or more, and once the waiter holds, its session is renewed at once
// (its last renewal is older than SessionTTL/2).
func TestWaitingSessionIsRenewedLessOften(t *testing.T) {
	t.Parallel()
	srv := consultest.DevServer(t, consultest.Options{})
	hp, wp := consultest.NewFaultProxy(t, srv.HTTPAddr), consultest.NewFaultProxy(t, srv.HTTPAddr)
	session := func(p *consultest.FaultProxy, id string) *lock.Session {
		return newSession(t, p.Client(t, srv), lock.Config{Identity: id})
	}
	renewals := func(p *consultest.FaultProxy) int {
		return p.Count(consultest.Match{Method: "PUT", Path: "/v1/session/renew/"})
	}
	holder, err := mustMutex(t, session(hp, "holder"), "svc/ttl-wait").Lock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := waitHeld(t, mustMutex(t, session(wp, "waiter"), "svc/ttl-wait").Lock, time.Minute)
	consultest.WaitFor(t, 10*time.Second, "the waiter in the queue", func() bool {
		return wp.Count(consultest.Match{Method: "PUT", Path: "/v1/kv/svc/ttl-wait/.queue/"}) > 0
	})
	h0, w0 := renewals(hp), renewals(wp)
	window := 2*lock.DefaultSessionTTL + 3*time.Second
	time.Sleep(window)
	hr, wr := renewals(hp)-h0, renewals(wp)-w0
	t.Logf("in %v: holder %d renewals, waiter %d", window, hr, wr)
	if wr < 1 || wr > 2 {
		t.Errorf("waiter renewed %d times in %v, want 1 or 2 (every 1.5*SessionTTL)", wr, window)
	}
	if hr < 4 {
		t.Errorf("holder renewed %d times in %v, want at least 4 (every SessionTTL/2)", hr, window)
	}
	before := renewals(wp)
	if err := holder.Unlock(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	var w *lock.Held
	select {
	case w = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not take the lock")
	}
	if w == nil {
		t.Fatal("the waiter's Lock failed")
	}
	defer func() { _ = w.Unlock(context.Background()) }()
	consultest.WaitFor(t, 2*time.Second, "the new holder's session renewed", func() bool { return renewals(wp) > before })
}

// A negative SessionTTL creates sessions without a TTL.
func TestNegativeSessionTTLMeansNone(t *testing.T) {
	t.Parallel()
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	s, err := lock.NewSession(client, lock.Config{Identity: "nottl", SessionTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	m, _ := s.Mutex("svc/nottl")
	held, err := m.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	se, _, err := client.Session().Info(held.Session(), nil)
	if err != nil || se == nil || se.TTL != "" {
		t.Fatalf("session %+v (%v), want no TTL", se, err)
	}
	_ = held.Unlock(context.Background())
	if _, err := lock.NewSession(client, lock.Config{SessionTTL: 5 * time.Second}); err == nil {
		t.Fatal("SessionTTL 5s accepted; Consul's minimum is 10s")
	}
}
