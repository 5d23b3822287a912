package lock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// Five sessions (as five processes would) with two goroutines each loop
// lock → work → unlock: never two inside at once, and the fencing tokens
// of successive holders strictly increase.
func TestMutexExclusion(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	sessions, goroutines, rounds := 5, 2, 6
	if testing.Short() {
		sessions, goroutines, rounds = 2, 1, 2
	}
	var o occupancy
	var wg sync.WaitGroup
	errs := make(chan error, sessions*goroutines)
	for i := range sessions {
		s := newSession(t, srv.Client(t), lock.Config{Identity: fmt.Sprintf("p%d", i)})
		m := mustMutex(t, s, "shop/checkout")
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cycle(t, m.Lock, rounds, 2*time.Millisecond, &o, errs)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if o.max != 1 {
		t.Errorf("%d holders inside at once", o.max)
	}
	if n := len(o.tokens); n != sessions*goroutines*rounds {
		t.Errorf("%d cycles, want %d", n, sessions*goroutines*rounds)
	}
	for i := 1; i < len(o.tokens); i++ {
		if o.tokens[i] <= o.tokens[i-1] {
			t.Fatalf("token %d after %d: not increasing", o.tokens[i], o.tokens[i-1])
		}
	}
}

// TryLock fails at once with ErrLocked while another holds the key; a
// Lock whose ctx ends returns the ctx's error (never a nil lock without
// one); unlocking twice returns ErrNotHeld.
func TestMutexMisuse(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	a := newSession(t, srv.Client(t), lock.Config{Identity: "a"})
	b := newSession(t, srv.Client(t), lock.Config{Identity: "b"})
	l, err := mustMutex(t, a, "jobs/x").Lock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	mb := mustMutex(t, b, "jobs/x")
	start := time.Now()
	if got, err := mb.TryLock(ctxFor(t, 10*time.Second)); !errors.Is(err, lock.ErrLocked) || got != nil {
		t.Errorf("TryLock on a held key: %v, %v; want ErrLocked", got, err)
	}
	t.Logf("TryLock answered in %v", time.Since(start))
	// Another goroutine of the same process: also ErrLocked, not a
	// re-entrant acquire by the shared session.
	if _, err := mustMutex(t, a, "jobs/x").TryLock(ctxFor(t, 10*time.Second)); !errors.Is(err, lock.ErrLocked) {
		t.Errorf("TryLock from the holder's own session: %v, want ErrLocked", err)
	}
	got, err := mb.Lock(ctxFor(t, 300*time.Millisecond))
	if got != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock with an ending ctx: %v, %v; want DeadlineExceeded", got, err)
	}
	// A plain PUT on the held key (an operator, a script) does not end the
	// hold, and the next holder's token is above the PUT's index.
	if _, err := srv.Client(t).KV().Put(&api.KVPair{Key: "jobs/x", Value: []byte("overwritten")}, nil); err != nil {
		t.Fatal(err)
	}
	put, _, err := srv.Client(t).KV().Get("jobs/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if l.Context().Err() != nil {
		t.Errorf("a plain PUT ended the hold: %v", l.Reason())
	}
	if err := l.Unlock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(context.Background()); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("second Unlock: %v, want ErrNotHeld", err)
	}
	if !errors.Is(context.Cause(l.Context()), lock.ErrUnlocked) || !errors.Is(l.Reason(), lock.ErrUnlocked) {
		t.Errorf("cause %v, reason %v; want ErrUnlocked", context.Cause(l.Context()), l.Reason())
	}
	// The key is free now: b takes it at once, with a larger token.
	l2, err := mb.TryLock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if l2.Token() <= put.ModifyIndex {
		t.Errorf("token %d, not above the plain PUT's index %d", l2.Token(), put.ModifyIndex)
	}
	_ = l2.Unlock(context.Background())
}

// Every way the lock can be lost cancels the held context within one
// round trip, with the reason; Unlock after a loss returns ErrNotHeld
// wrapping it, and the next Lock works.
func TestMutexLossDetection(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	s := newSession(t, client, lock.Config{Identity: "holder"})
	tests := []struct {
		name   string
		reason error
		inject func(t *testing.T, key string, l *lock.Held)
	}{
		{"session destroyed", consulelect.ErrSessionInvalidated, func(t *testing.T, key string, l *lock.Held) {
			if _, err := client.Session().Destroy(l.Session(), nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"key deleted", consulelect.ErrKeyDeleted, func(t *testing.T, key string, l *lock.Held) {
			if _, err := client.KV().Delete(key, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"key released by operator", consulelect.ErrKeyReleased, func(t *testing.T, key string, l *lock.Held) {
			if ok, _, err := client.KV().Release(&api.KVPair{Key: key, Session: l.Session()}, nil); err != nil || !ok {
				t.Fatalf("release: %v %v", ok, err)
			}
		}},
		{"key taken by another session", consulelect.ErrKeyTaken, func(t *testing.T, key string, l *lock.Held) {
			other, _, err := client.Session().Create(&api.SessionEntry{Name: "intruder", LockDelay: time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Session().Destroy(other, nil) })
			ok, _, _, err := client.Txn().Txn(api.TxnOps{
				{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: key}},
				{KV: &api.KVTxnOp{Verb: api.KVLock, Key: key, Session: other}},
			}, nil)
			if err != nil || !ok {
				t.Fatalf("take over: %v %v", ok, err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("jobs/loss-%d", i)
			l, err := mustMutex(t, s, key).Lock(ctxFor(t, 20*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			at := time.Now()
			tt.inject(t, key, l)
			select {
			case <-l.Done():
			case <-time.After(time.Second):
				t.Fatal("held context not cancelled within 1s")
			}
			t.Logf("cancelled %v after the fault", time.Since(at))
			if !errors.Is(context.Cause(l.Context()), consulelect.ErrLockLost) && !errors.Is(context.Cause(l.Context()), tt.reason) {
				t.Errorf("cause %v", context.Cause(l.Context()))
			}
			if r := l.Reason(); !errors.Is(r, tt.reason) || !errors.Is(r, consulelect.ErrLockLost) {
				t.Errorf("reason %v, want %v (an ErrLockLost)", r, tt.reason)
			}
			err = l.Unlock(context.Background())
			if !errors.Is(err, lock.ErrNotHeld) || !errors.Is(err, tt.reason) {
				t.Errorf("Unlock after loss: %v, want ErrNotHeld and %v", err, tt.reason)
			}
			if tt.reason == consulelect.ErrKeyTaken { // the intruder goes
				pair, _, _ := client.KV().Get(key, nil)
				client.Session().Destroy(pair.Session, nil)
			}
			l2, err := mustMutex(t, s, key).Lock(ctxFor(t, 20*time.Second))
			if err != nil {
				t.Fatalf("Lock after the loss: %v", err)
			}
			if l2.Token() <= l.Token() {
				t.Errorf("token %d after %d", l2.Token(), l.Token())
			}
			_ = l2.Unlock(context.Background())
		})
	}
}
