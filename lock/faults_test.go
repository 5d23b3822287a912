package lock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// acquirer is a mutex or a semaphore, for tests that run on both.
type acquirer func(ctx context.Context) (*lock.Held, error)

func mutexOn(t *testing.T, s *lock.Session, key string) acquirer {
	return mustMutex(t, s, key).Lock
}

func semaphoreOn(t *testing.T, s *lock.Session, prefix string, n int) acquirer {
	sem, err := s.Semaphore(prefix, n)
	if err != nil {
		t.Fatal(err)
	}
	return sem.Acquire
}

// waitHeld starts acq in the background and returns the channel of its
// result.
func waitHeld(t *testing.T, acq acquirer, d time.Duration) <-chan *lock.Held {
	got := make(chan *lock.Held, 1)
	go func() {
		l, err := acq(ctxFor(t, d))
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	return got
}

// checkEndedInTime checks that l ended for ErrConsulUnreachable at its
// deadline (its last confirmation's send time plus DemoteAfter).
func checkEndedInTime(t *testing.T, l *lock.Held) time.Time {
	t.Helper()
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("held context not cancelled within 10s of the fault")
	}
	ended := time.Now()
	if !errors.Is(l.Reason(), consulelect.ErrConsulUnreachable) {
		t.Errorf("reason %v, want ErrConsulUnreachable", l.Reason())
	}
	if late := ended.Sub(l.Deadline()); late < 0 || late > 100*time.Millisecond {
		t.Errorf("ended %v after its deadline, want within [0, 100ms]", late)
	}
	return ended
}

// A holder whose Consul agent hangs (SIGSTOP) or whose path to it freezes
// has its context cancelled at its deadline, before another holder can
// start; for the semaphore (limit 1 here, the strictest), its slot is
// pruned only after that.
func TestHungHolderEndsBeforeSuccessor(t *testing.T) {
	for _, kind := range []string{"mutex", "semaphore"} {
		for _, fault := range []string{"agent frozen", "path frozen"} {
			t.Run(kind+"/"+fault, func(t *testing.T) {
				srv := consultest.DevServer(t, consultest.Options{})
				agent := consultest.ClientAgent(t, srv, consultest.Options{Bind: "127.0.0.2"})
				var holderClient *api.Client
				var freeze, thaw func()
				if fault == "agent frozen" {
					holderClient = agent.Client(t)
					freeze, thaw = func() { agent.Pause(t) }, func() { agent.Resume(t) }
				} else {
					p := consultest.NewProxy(t, agent.HTTPAddr)
					c, err := api.NewClient(p.Config(agent))
					if err != nil {
						t.Fatal(err)
					}
					holderClient, freeze, thaw = c, p.Freeze, p.Unfreeze
				}
				a := newSession(t, holderClient, lock.Config{Identity: "a"})
				b := newSession(t, srv.Client(t), lock.Config{Identity: "b"})
				acqA, acqB := mutexOn(t, a, "hung/"+kind), mutexOn(t, b, "hung/"+kind)
				if kind == "semaphore" {
					acqA, acqB = semaphoreOn(t, a, "hung/"+kind, 1), semaphoreOn(t, b, "hung/"+kind, 1)
				}
				la, err := acqA(ctxFor(t, 10*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				got := waitHeld(t, acqB, 60*time.Second)
				time.Sleep(200 * time.Millisecond) // b waits
				freeze()
				frozen := time.Now()
				ended := checkEndedInTime(t, la)
				lb := <-got
				thaw()
				if lb == nil {
					t.FailNow()
				}
				t.Logf("frozen→a ended %v, frozen→b held %v (margin %v)",
					ended.Sub(frozen), lb.Started().Sub(frozen), lb.Started().Sub(ended))
				if !lb.Started().After(ended) {
					t.Errorf("b held %v before a's hold ended", ended.Sub(lb.Started()))
				}
				_ = la.Unlock(ctxFor(t, 10*time.Second))
				_ = lb.Unlock(ctxFor(t, 10*time.Second))
			})
		}
	}
}

// With K waiters queued one after another, they hold in arrival order.
func TestMutexFairness(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key, waiters = "fair/key", 6
	first := newSession(t, client, lock.Config{Identity: "first"})
	l, err := mustMutex(t, first, key).Lock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan int, waiters)
	for i := range waiters {
		s := newSession(t, client, lock.Config{Identity: fmt.Sprintf("w%d", i)})
		m := mustMutex(t, s, key)
		go func() {
			l, err := m.Lock(ctxFor(t, 60*time.Second))
			if err != nil {
				t.Error(err)
				order <- -1
				return
			}
			order <- i
			time.Sleep(20 * time.Millisecond)
			_ = l.Unlock(context.Background())
		}()
		// The next arrives only once this one is queued.
		waitFor(t, 10*time.Second, "queued", func() bool {
			keys, _, _ := client.KV().Keys(key+"/.queue/", "", nil)
			return len(keys) == i+1
		})
	}
	_ = l.Unlock(context.Background())
	for want := range waiters {
		if got := <-order; got != want {
			t.Fatalf("holder %d was waiter %d, want arrival order", want, got)
		}
	}
}

// A mutex interoperates with api.Lock on the same key (api.LockFlagValue):
// each excludes the other; a key used by a semaphore is refused.
func TestMutexInteropWithAPILock(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "interop/lock"
	theirs, err := client.LockOpts(&api.LockOptions{Key: key, SessionTTL: "10s", LockDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := theirs.Lock(nil); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, client, lock.Config{Identity: "ours"})
	m := mustMutex(t, s, key)
	if _, err := m.TryLock(ctxFor(t, 5*time.Second)); !errors.Is(err, lock.ErrLocked) {
		t.Errorf("TryLock on api.Lock's key: %v, want ErrLocked", err)
	}
	got := waitHeld(t, m.Lock, 20*time.Second)
	time.Sleep(100 * time.Millisecond)
	if err := theirs.Unlock(); err != nil {
		t.Fatal(err)
	}
	ours := <-got
	if ours == nil {
		t.FailNow()
	}
	stop := make(chan struct{})
	time.AfterFunc(500*time.Millisecond, func() { close(stop) })
	theirs2, _ := client.LockOpts(&api.LockOptions{Key: key, SessionTTL: "10s", LockWaitTime: 300 * time.Millisecond})
	if ch, err := theirs2.Lock(stop); ch != nil || err != nil {
		t.Errorf("api.Lock took a key we hold: %v %v", ch, err)
	}
	_ = ours.Unlock(context.Background())

	// A semaphore's .lock key has foreign flags: never clobbered.
	sem, _ := client.SemaphorePrefix("interop/sem", 1)
	if _, err := sem.Acquire(nil); err != nil {
		t.Fatal(err)
	}
	defer sem.Release()
	if _, err := mustMutex(t, s, "interop/sem/.lock").Lock(ctxFor(t, 5*time.Second)); !errors.Is(err, consulelect.ErrForeignKey) {
		t.Errorf("Lock on a semaphore's key: %v, want ErrForeignKey", err)
	}
}

// A semaphore of 2 with one holder frozen (its agent SIGSTOPped) and two
// more contenders: by the holders' own times, never more than 2 hold at
// once; the frozen holder's slot goes to a waiter only after its hold
// ended.
func TestSemaphoreFrozenHolderNeverExceedsLimit(t *testing.T) {
	srv := devServer(t)
	agent := consultest.ClientAgent(t, srv, consultest.Options{Bind: "127.0.0.2"})
	const prefix, limit = "frozen/sem", 2
	var o occupancy
	frozen := newSession(t, agent.Client(t), lock.Config{Identity: "frozen"})
	lf, err := semaphoreOn(t, frozen, prefix, limit)(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	for i := range 3 {
		s := newSession(t, srv.Client(t), lock.Config{Identity: fmt.Sprintf("s%d", i)})
		acq := semaphoreOn(t, s, prefix, limit)
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				l, err := acq(ctxFor(t, 30*time.Second))
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(30 * time.Millisecond)
				if l.Context().Err() != nil {
					t.Errorf("s%d lost its slot: %v", i, l.Reason())
				}
				o.record(fmt.Sprint(i), l.Started(), time.Now())
				_ = l.Unlock(context.Background())
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	agent.Pause(t)
	o.record("frozen", lf.Started(), checkEndedInTime(t, lf))
	time.Sleep(3 * time.Second) // its slot is pruned and cycles on
	close(stop)
	for range 3 {
		<-done
	}
	agent.Resume(t)
	o.checkNoOverlap(t, limit)
	t.Logf("%d holds recorded", len(o.holds))
}

// An acquire whose answer arrives after its deadline (held on the path
// past DemoteAfter) proves nothing: the Lock does not return it, not even
// for a moment, but acquires again and returns a hold dated by that.
func TestLateAcquireAnswerIsNotAHold(t *testing.T) {
	for _, kind := range []string{"mutex", "semaphore"} {
		t.Run(kind, func(t *testing.T) {
			srv := devServer(t)
			p := consultest.NewFaultProxy(t, srv.HTTPAddr)
			c := p.Client(t, srv)
			cfg := lock.Config{Identity: "late", DemoteAfter: time.Second, LockDelay: 1500 * time.Millisecond, ConfirmInterval: 250 * time.Millisecond}
			s := newSession(t, c, cfg)
			acq := mutexOn(t, s, "late/"+kind)
			if kind == "semaphore" {
				acq = semaphoreOn(t, s, "late/"+kind, 1)
			}
			p.DelayNext(consultest.Match{Path: "/v1/txn"}, cfg.DemoteAfter+300*time.Millisecond, 1)
			// Another contender arrives while the late answer is on its way
			// (it must not hold up our own, already applied, acquire).
			other := newSession(t, srv.Client(t), cfg)
			otherAcq := mutexOn(t, other, "late/"+kind)
			if kind == "semaphore" {
				otherAcq = semaphoreOn(t, other, "late/"+kind, 1)
			}
			var got <-chan *lock.Held
			start := time.Now()
			ready := make(chan struct{})
			go func() {
				time.Sleep(300 * time.Millisecond)
				got = waitHeld(t, otherAcq, 20*time.Second)
				close(ready)
			}()
			l, err := acq(ctxFor(t, 20*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			<-ready
			select {
			case lo := <-got:
				t.Fatalf("the other contender held (token %d) while we did", lo.Token())
			default:
			}
			defer func() {
				_ = l.Unlock(context.Background())
				if lo := <-got; lo != nil {
					_ = lo.Unlock(context.Background())
				}
			}()
			if delay := cfg.DemoteAfter + 300*time.Millisecond; !l.Deadline().After(start.Add(delay)) {
				t.Errorf("the hold's deadline %v after the Lock call: dated by the late answer's request, not a fresh one",
					l.Deadline().Sub(start))
			}
			if l.Context().Err() != nil || !l.Deadline().After(time.Now()) {
				t.Errorf("returned a hold past its deadline: %v, deadline in %v", l.Reason(), time.Until(l.Deadline()))
			}
			t.Logf("held %v after the Lock call (the first answer was held %v)", l.Started().Sub(start), cfg.DemoteAfter+300*time.Millisecond)
		})
	}
}

// A join whose answer came too late is made again, and Consul does not
// rewrite a key whose value is unchanged: when another holder joined in
// between (the holders already list us both), the second join must still
// give a token of its own, not the other holder's. (Found by make chaos:
// two semaphore holders with token 35.)
func TestSemaphoreRejoinGetsAFreshToken(t *testing.T) {
	srv := devServer(t)
	p := consultest.NewFaultProxy(t, srv.HTTPAddr)
	c, err := api.NewClient(p.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	cfg := lock.Config{Identity: "late", DemoteAfter: time.Second, LockDelay: 1500 * time.Millisecond, ConfirmInterval: 250 * time.Millisecond}
	a := semaphoreOn(t, newSession(t, c, cfg), "rejoin", 2)
	b := semaphoreOn(t, newSession(t, srv.Client(t), cfg), "rejoin", 2)
	p.DelayNext(consultest.Match{Path: "/v1/txn"}, cfg.DemoteAfter+300*time.Millisecond, 1)
	var lb *lock.Held
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(300 * time.Millisecond) // a's join is applied, its answer held back
		var err error
		if lb, err = b(ctxFor(t, 10*time.Second)); err != nil {
			t.Error(err)
		}
	}()
	la, err := a(ctxFor(t, 20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if lb == nil {
		t.FailNow()
	}
	defer la.Unlock(context.Background())
	defer lb.Unlock(context.Background())
	t.Logf("tokens: late joiner %d, the other %d", la.Token(), lb.Token())
	if la.Token() == lb.Token() {
		t.Errorf("two holders share token %d", la.Token())
	}
}

// A release whose client gave up may still be applied, late, after the
// release retried in the background has succeeded and the same Session
// holds the lock again. It must not free the later hold: a waiter would
// take the lock at once (a release imposes no lock-delay) while the later
// holder still acts. (Found by make chaos-long: a mutex freed without
// lock-delay during a hold, two holders for 48ms.)
func TestLateReleaseCannotFreeALaterHold(t *testing.T) {
	for _, kind := range []string{"mutex", "semaphore"} {
		t.Run(kind, func(t *testing.T) {
			srv := devServer(t)
			p := consultest.NewFaultProxy(t, srv.HTTPAddr)
			c := p.Client(t, srv)
			cfg := lock.Config{Identity: "late-release"}
			on := func(s *lock.Session) acquirer {
				if kind == "semaphore" {
					return semaphoreOn(t, s, "late-release/"+kind, 1)
				}
				return mutexOn(t, s, "late-release/"+kind)
			}
			acq := on(newSession(t, c, cfg))
			first, err := acq(ctxFor(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			// The release is a transaction; hold the first one 2s and
			// forward it then, after its client has given up.
			delivered := p.LateNext(consultest.Match{Method: "PUT", Path: "/v1/txn"}, 2*time.Second, 1)
			if err := first.Unlock(ctxFor(t, 300*time.Millisecond)); err == nil {
				t.Fatal("Unlock returned nil although its release was held back")
			}
			second, err := acq(ctxFor(t, 10*time.Second)) // after the background retry released it
			if err != nil {
				t.Fatal(err)
			}
			octx, cancel := context.WithCancel(context.Background())
			otherHeld := make(chan *lock.Held, 1)
			go func() {
				l, _ := on(newSession(t, srv.Client(t), cfg))(octx)
				otherHeld <- l
			}()
			defer func() {
				cancel()
				if l := <-otherHeld; l != nil {
					_ = l.Unlock(context.Background())
				}
			}()
			select {
			case <-delivered:
			case <-time.After(10 * time.Second):
				t.Fatal("the held-back release was not forwarded")
			}
			select {
			case l := <-otherHeld:
				otherHeld <- l
				t.Fatalf("the other session took the lock (token %d) after the late release, while hold %d was active: %v",
					l.Token(), second.Token(), second.Context().Err())
			case <-time.After(time.Second):
			}
			if err := second.Context().Err(); err != nil {
				t.Fatalf("the late release ended the later hold: %v", second.Reason())
			}
			if err := second.Unlock(ctxFor(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			select {
			case l := <-otherHeld:
				otherHeld <- l
				if l == nil {
					t.Fatal("the other session's wait failed")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the other session did not take the lock after the unlock")
			}
		})
	}
}

// A late copy of a waiter's dequeue (its client gave up; the background
// retry deleted the entry, and the Session waits again with a new entry)
// does not delete the new entry.
func TestLateDequeueKeepsALaterEntry(t *testing.T) {
	srv := devServer(t)
	p := consultest.NewFaultProxy(t, srv.HTTPAddr)
	c := p.Client(t, srv)
	const key = "late-dequeue/k"
	holder, err := mustMutex(t, newSession(t, srv.Client(t), lock.Config{Identity: "holder"}), key).Lock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Unlock(context.Background()) }()
	ws := newSession(t, c, lock.Config{Identity: "waiter", RequestTimeout: time.Second})
	m := mustMutex(t, ws, key)
	delivered := p.LateNext(consultest.Match{Method: "DELETE", Path: "/v1/kv/" + key + "/.queue/"}, 2500*time.Millisecond, 1)
	if _, err := m.Lock(ctxFor(t, time.Second)); err == nil {
		t.Fatal("Lock returned while the key was held")
	}
	// The second wait queues once the first one's entry is gone (the
	// retried delete); then the late first delete arrives.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second := make(chan error, 1)
	go func() {
		l, err := m.Lock(ctx)
		if l != nil {
			_ = l.Unlock(context.Background())
		}
		second <- err
	}()
	select {
	case <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("the late delete was not forwarded")
	}
	entries, _, err := srv.Client(t).KV().Keys(key+"/.queue/", "", &api.QueryOptions{RequireConsistent: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("queue entries after the late delete: %v, want the second wait's one", entries)
	}
	cancel()
	<-second
}

// lateSession is a Session through the fault proxy whose Consul session
// exists already (a lock taken and released on another key), so that a
// short Lock spends its time on the request the test holds back.
func lateSession(t *testing.T, p *consultest.FaultProxy, srv *consultest.Agent) *lock.Session {
	t.Helper()
	s := newSession(t, p.Client(t, srv), lock.Config{Identity: "late"})
	l, err := mustMutex(t, s, "warm-up").Lock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	return s
}

// lateDelay is how long the tests below hold a request back: its wait
// gives up after 500ms, and the sweep's first two rounds come about 1s
// and 3s after that, so the late copy lands between them.
const lateDelay = 2500 * time.Millisecond

// An acquire whose answer never came, applied by the servers after its
// wait gave up, leaves the Session holding the lock with nobody of ours
// waiting for it; the Session's sweep gives it up, so another session
// takes the lock while this one stays open.
func TestLateAcquireIsSwept(t *testing.T) {
	for _, kind := range []string{"mutex", "semaphore"} {
		t.Run(kind, func(t *testing.T) {
			srv := devServer(t)
			p := consultest.NewFaultProxy(t, srv.HTTPAddr)
			name := "late-acquire/" + kind
			on := func(s *lock.Session) acquirer {
				if kind == "semaphore" {
					return semaphoreOn(t, s, name, 1)
				}
				return mutexOn(t, s, name)
			}
			// ours holds the lock in Consul: the key's session, or a
			// holder in the semaphore's lock.
			ours := func() bool {
				if kind == "mutex" {
					pair, _, err := srv.Client(t).KV().Get(name, nil)
					return err == nil && pair != nil && pair.Session != ""
				}
				pair, _, err := srv.Client(t).KV().Get(name+"/.lock", nil)
				var v struct{ Holders map[string]bool }
				return err == nil && pair != nil && json.Unmarshal(pair.Value, &v) == nil && len(v.Holders) > 0
			}
			late := lateSession(t, p, srv)
			// The acquire is a transaction: hold it back, forward it later.
			delivered := p.LateNext(consultest.Match{Method: "PUT", Path: "/v1/txn"}, lateDelay, 1)
			if l, err := on(late)(ctxFor(t, 500*time.Millisecond)); err == nil {
				t.Fatalf("the acquire returned (token %d) although its request was held back", l.Token())
			}
			select {
			case <-delivered:
			case <-time.After(10 * time.Second):
				t.Fatal("the held-back acquire was not forwarded")
			}
			if !ours() {
				t.Fatal("the late acquire was not applied: the test proves nothing")
			}
			other := newSession(t, srv.Client(t), lock.Config{Identity: "other"})
			l, err := on(other)(ctxFor(t, 20*time.Second))
			if err != nil {
				t.Fatalf("another session could not take the lock that a late acquire left held: %v", err)
			}
			if err := l.Unlock(ctxFor(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A queue entry written after its wait gave up holds up the queue while
// the Session lives: the next waiter queues behind it and waits for it to
// leave. The sweep deletes it (and would release the key, had a holder
// handed it to the entry's session), so the next waiter takes the key.
func TestLateEnqueueIsSwept(t *testing.T) {
	srv := devServer(t)
	p := consultest.NewFaultProxy(t, srv.HTTPAddr)
	const key = "late-enqueue/k"
	holder, err := mustMutex(t, newSession(t, srv.Client(t), lock.Config{Identity: "holder"}), key).Lock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	late := mustMutex(t, lateSession(t, p, srv), key)
	delivered := p.LateNext(consultest.Match{Method: "PUT", Path: "/v1/kv/" + key + "/.queue/"}, lateDelay, 1)
	if _, err := late.Lock(ctxFor(t, 500*time.Millisecond)); err == nil {
		t.Fatal("Lock returned while the key was held")
	}
	select {
	case <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("the held-back queue entry was not forwarded")
	}
	entries, _, err := srv.Client(t).KV().List(key+"/.queue/", nil)
	if err != nil || len(entries) != 1 || entries[0].Session == "" {
		t.Fatalf("the late queue entry was not applied (entries %v, %v): the test proves nothing", entries, err)
	}
	next := mustMutex(t, newSession(t, srv.Client(t), lock.Config{Identity: "next"}), key)
	nextErr := make(chan error, 1)
	go func() {
		l, err := next.Lock(ctxFor(t, 20*time.Second))
		if err == nil {
			err = l.Unlock(ctxFor(t, 5*time.Second))
		}
		nextErr <- err
	}()
	if err := holder.Unlock(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := <-nextErr; err != nil {
		t.Fatalf("the next waiter did not take the key after the holder's release: %v", err)
	}
}
