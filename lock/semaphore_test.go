package lock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// Eight sessions loop on a semaphore of 3: never more than 3 inside at
// once, and everyone gets in.
func TestSemaphoreLimit(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	const sessions, limit, rounds = 8, 3, 4
	var o occupancy
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		s := newSession(t, srv.Client(t), lock.Config{Identity: fmt.Sprintf("p%d", i)})
		sem, err := s.Semaphore("batch/slots", limit)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cycle(t, sem.Acquire, rounds, 5*time.Millisecond, &o, errs)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("at most %d inside at once, %d acquisitions", o.max, len(o.tokens))
	if o.max > limit {
		t.Errorf("%d holders inside at once, limit %d", o.max, limit)
	}
	if len(o.tokens) != sessions*rounds {
		t.Errorf("%d acquisitions, want %d", len(o.tokens), sessions*rounds)
	}
}

// A semaphore interoperates with Consul's api.Semaphore on the same
// prefix: they count each other's holders; a limit conflict is a clear
// error; TryAcquire says ErrLocked when full.
func TestSemaphoreInteropWithAPISemaphore(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const prefix = "interop/sem"
	theirs, err := client.SemaphorePrefix(prefix, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := theirs.Acquire(nil); err != nil {
		t.Fatal(err)
	}
	a := newSession(t, client, lock.Config{Identity: "a"})
	b := newSession(t, client, lock.Config{Identity: "b"})
	semA, _ := a.Semaphore(prefix, 2)
	semB, _ := b.Semaphore(prefix, 2)
	la, err := semA.Acquire(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := semB.TryAcquire(ctxFor(t, 10*time.Second)); !errors.Is(err, lock.ErrLocked) {
		t.Errorf("TryAcquire on a full semaphore: %v, want ErrLocked", err)
	}
	wrong, _ := b.Semaphore(prefix, 3)
	if _, err := wrong.Acquire(ctxFor(t, 10*time.Second)); !errors.Is(err, lock.ErrLimitConflict) {
		t.Errorf("Acquire with another limit: %v, want ErrLimitConflict", err)
	}
	// api.Semaphore's holder releases: b gets the slot.
	got := make(chan *lock.Held, 1)
	go func() {
		l, err := semB.Acquire(ctxFor(t, 10*time.Second))
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	time.Sleep(100 * time.Millisecond)
	if err := theirs.Release(); err != nil {
		t.Fatal(err)
	}
	lb := <-got
	if lb == nil {
		t.FailNow()
	}
	if lb.Token() <= la.Token() {
		t.Errorf("token %d after %d", lb.Token(), la.Token())
	}
	// Full again (a and b): api.Semaphore waits, and gets in when a releases.
	theirs2, _ := client.SemaphorePrefix(prefix, 2)
	acquired := make(chan error, 1)
	go func() {
		ch, err := theirs2.Acquire(nil)
		if err == nil && ch == nil {
			err = errors.New("nil channel")
		}
		acquired <- err
	}()
	select {
	case err := <-acquired:
		t.Fatalf("api.Semaphore acquired a full semaphore: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := la.Unlock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-acquired; err != nil {
		t.Fatal(err)
	}
	_ = theirs2.Release()
	_ = lb.Unlock(context.Background())
	// Nothing left behind but the lock with no holders.
	pairs, _, _ := client.KV().List(prefix, nil)
	for _, p := range pairs {
		if p.Key != prefix+"/.lock" && p.Session != "" {
			t.Errorf("left behind: %s (session %s)", p.Key, p.Session)
		}
	}
}

// A holder whose session is gone keeps its slot for LockDelay after a
// contender saw it go: the contender does not prune it at once as
// api.Semaphore does.
func TestSemaphorePrunesOnlyAfterLockDelay(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const prefix = "prune/sem"
	cfg := lock.Config{LockDelay: 1500 * time.Millisecond, DemoteAfter: time.Second, ConfirmInterval: 250 * time.Millisecond}
	a := newSession(t, client, cfg)
	semA, _ := a.Semaphore(prefix, 1)
	la, err := semA.Acquire(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b := newSession(t, client, cfg)
	semB, _ := b.Semaphore(prefix, 1)
	got := make(chan *lock.Held, 1)
	go func() {
		l, err := semB.Acquire(ctxFor(t, 20*time.Second))
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	time.Sleep(200 * time.Millisecond) // b is queued
	// a's session is destroyed behind its back; a's contender key loses it.
	destroyed := time.Now()
	if _, err := client.Session().Destroy(la.Session(), nil); err != nil {
		t.Fatal(err)
	}
	<-la.Done()
	lb := <-got
	if lb == nil {
		t.FailNow()
	}
	wait := lb.Started().Sub(destroyed)
	t.Logf("a's slot pruned and taken %v after its session was destroyed (LockDelay %v); a's hold ended after %v",
		wait, cfg.LockDelay, la.Context().Err() != nil)
	if wait < cfg.LockDelay {
		t.Errorf("slot taken %v after the session went, before LockDelay %v", wait, cfg.LockDelay)
	}
	if !errors.Is(la.Reason(), consulelect.ErrLockLost) {
		t.Errorf("a's reason %v", la.Reason())
	}
	_ = la.Unlock(context.Background())
	_ = lb.Unlock(context.Background())
}
