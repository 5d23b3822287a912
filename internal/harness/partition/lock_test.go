package partition_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/netns"
	"github.com/consulelect/consulelect/lock"
)

// TestLockUnderPartition cuts the mutex holder's host from every server
// (the other host still reaches it, so only the session's TTL frees the
// lock): the holder's context must end within DemoteAfter of the cut, the
// waiter on the other host must get the lock only after that, with a
// greater token, and within 2*SessionTTL + LockDelay (+ slack); after the
// heal the cut-off session must lock again.
func TestLockUnderPartition(t *testing.T) {
	w := newWorld(t)
	w.awaitWhole(t)
	var sessions []*lock.Session
	for _, a := range w.hosts {
		s, err := lock.NewSession(a.Client(t), lock.Config{Identity: a.Name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_ = s.Close(ctx)
		})
		sessions = append(sessions, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m0, err := sessions[0].Mutex("svc/partition-lock")
	if err != nil {
		t.Fatal(err)
	}
	m1, err := sessions[1].Mutex("svc/partition-lock")
	if err != nil {
		t.Fatal(err)
	}
	held, err := m0.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		h   *lock.Held
		err error
		at  time.Time
	}
	got := make(chan result, 1)
	go func() {
		h, err := m1.Lock(ctx)
		got <- result{h, err, time.Now()}
	}()
	time.Sleep(time.Second) // the waiter queues behind the holder
	cutAt := time.Now()
	w.net.Partition([]*netns.Host{w.hosts[0].Host}, w.serverHosts())
	var lostAt time.Time
	select {
	case <-held.Done():
		lostAt = time.Now()
	case <-time.After(lock.DefaultDemoteAfter + demoteSlack):
		t.Fatalf("the cut-off holder's context did not end within DemoteAfter (%v) of the cut", lock.DefaultDemoteAfter)
	}
	t.Logf("holder's context ended %v after the cut: %v", lostAt.Sub(cutAt).Round(time.Millisecond), held.Reason())
	if !errors.Is(held.Reason(), consulelect.ErrLockLost) && !errors.Is(held.Reason(), consulelect.ErrConsulUnreachable) {
		t.Errorf("reason %v, want a loss", held.Reason())
	}
	var r result
	select {
	case r = <-got:
	case <-time.After(2*lock.DefaultSessionTTL + lock.DefaultLockDelay + retrySlack):
		t.Fatalf("the waiter did not get the lock within 2*SessionTTL + LockDelay + %v of the cut", retrySlack)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("waiter on %s locked %v after the cut (token %d after %d)", w.hosts[1].Name, r.at.Sub(cutAt).Round(time.Millisecond), r.h.Token(), held.Token())
	if bound := 2*lock.DefaultSessionTTL + lock.DefaultLockDelay + retrySlack; r.at.Sub(cutAt) > bound {
		t.Errorf("the waiter locked %v after the cut, over 2*SessionTTL + LockDelay + %v = %v", r.at.Sub(cutAt), retrySlack, bound)
	}
	if !r.at.After(lostAt) || r.h.Token() <= held.Token() {
		t.Errorf("waiter locked at %v with token %d; holder lost at %v with token %d", r.at, r.h.Token(), lostAt, held.Token())
	}
	_ = held.Unlock(ctx)
	w.net.Heal()
	if err := r.h.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	again, err := m0.Lock(ctx)
	if err != nil {
		t.Fatalf("the healed session could not lock again: %v", err)
	}
	t.Logf("the healed host locked again %v after the heal (token %d)", time.Since(healed).Round(time.Millisecond), again.Token())
	if err := again.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
