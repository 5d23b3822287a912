package leader_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
	"github.com/hashicorp/consul/api"
)

// A graceful stop cancels the term, waits for leader work to return, and
// only then releases the key: the successor starts after the old work
// ended, and within milliseconds of it (no lock-delay).
func TestStopWaitsForWorkThenReleases(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/stop"
	var workEnded atomic.Pointer[time.Time]
	slowWork := func(ctx context.Context, _ *leader.Term) error {
		<-ctx.Done()
		time.Sleep(300 * time.Millisecond) // flushing, say
		now := time.Now()
		workEnded.Store(&now)
		return nil
	}
	e1 := startElector(t, client, cfgFor(key, "e1"), leader.WithLeaderFunc(slowWork))
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, client, cfgFor(key, "e2"))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e1.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitFor(t, e2.Config().LockDelay, "e2 to lead", e2.IsLeader)
	ended := *workEnded.Load()
	if gap := e2.Term().Started().Sub(ended); gap < 0 || gap >= e2.Config().LockDelay {
		t.Fatalf("successor started %v after the old leader work ended; want in [0, LockDelay)", gap)
	} else {
		t.Logf("successor started %v after the old leader work returned", gap)
	}
	if st := e1.Status(); st.Role != leader.RoleStopped {
		t.Errorf("stopped elector reports role %v", st.Role)
	}
}

// Leader work that ignores its context past the stop deadline keeps the
// key: Stop returns ErrLeaderWorkRunning, the key is not released, and a
// successor waits out the lock-delay of the destroyed session.
func TestStopDoesNotReleaseUnderRunningWork(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/straggler"
	unblock := make(chan struct{})
	t.Cleanup(func() { close(unblock) })
	stubborn := func(ctx context.Context, _ *leader.Term) error { <-unblock; return nil }
	e1 := startElector(t, client, cfgFor(key, "e1"), leader.WithLeaderFunc(stubborn))
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, client, cfgFor(key, "e2"))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := e1.Stop(ctx)
	stopped := time.Now()
	if !errors.Is(err, leader.ErrLeaderWorkRunning) {
		t.Fatalf("Stop returned %v, want ErrLeaderWorkRunning", err)
	}
	if st := e1.Status(); len(st.Stragglers) == 0 {
		t.Errorf("status names no straggler")
	}
	lockDelay := e2.Config().LockDelay
	waitFor(t, lockDelay+5*time.Second, "e2 to lead", e2.IsLeader)
	// The session was destroyed just before Stop returned; Consul holds the
	// key back for LockDelay from then (some ms of slack for the order).
	if wait := e2.Term().Started().Sub(stopped); wait < lockDelay-100*time.Millisecond {
		t.Fatalf("successor led %v after Stop; the key was released under running work", wait)
	}
}

// Stopping a follower parked on a 5-minute blocking query returns at
// once: every request carries the elector's context.
func TestStopInterruptsBlockingQuery(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/blocking"
	e1 := startElector(t, client, cfgFor(key, "e1"))
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, client, cfgFor(key, "e2"))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })
	time.Sleep(50 * time.Millisecond) // parked on the blocking query
	start := time.Now()
	if err := e2.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("Stop took %v (FollowerWait %v)", took, e2.Config().FollowerWait)
	if took >= time.Second {
		t.Fatalf("Stop took %v: it waited on the blocking query", took)
	}
}

// Resign releases the key (a follower leads within milliseconds), then
// campaigns again after ResignPause; leader work that fails resigns too.
func TestResignAndFailingWork(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/resign"
	led := newLedger()
	e1 := startElector(t, client, cfgFor(key, "e1"), leader.WithLeaderFunc(led.work("e1")))
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	var fail atomic.Bool
	var failed atomic.Pointer[leader.Term]
	e2 := startElector(t, client, cfgFor(key, "e2"), leader.WithLeaderFunc(func(ctx context.Context, term *leader.Term) error {
		if fail.Load() {
			failed.Store(term)
			panic("leader work blew up")
		}
		return led.work("e2")(ctx, term)
	}))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })

	if err := e2.Resign(context.Background()); !errors.Is(err, leader.ErrNotLeader) {
		t.Errorf("Resign by a follower: %v, want ErrNotLeader", err)
	}
	old := e1.Term()
	resigned := time.Now()
	if err := e1.Resign(context.Background()); err != nil {
		t.Fatalf("Resign: %v", err)
	}
	if !errors.Is(old.Reason(), leader.ErrResigned) {
		t.Errorf("reason %v, want ErrResigned", old.Reason())
	}
	waitFor(t, e1.Config().ResignPause, "e2 to lead", e2.IsLeader)
	t.Logf("handoff on resign: %v", e2.Term().Started().Sub(resigned))
	waitFor(t, e1.Config().ResignPause+2*time.Second, "e1 to follow again", func() bool {
		st := e1.Status()
		return st.Role == leader.RoleFollower && st.Leader != nil && st.Leader.ID == "e2"
	})

	// Now e2's work fails (a panic, recovered): e2 gives the term up.
	fail.Store(true)
	if err := e2.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "e1 to lead again", e1.IsLeader)
	if err := e1.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "e2's failing term", func() bool { return failed.Load() != nil })
	term := failed.Load()
	<-term.Done()
	if !errors.Is(term.Reason(), leader.ErrLeaderWorkFailed) {
		t.Fatalf("reason %v, want ErrLeaderWorkFailed", term.Reason())
	}
	waitFor(t, 5*time.Second, "e1 to lead once more", e1.IsLeader)
	led.checkNoOverlap(t)
}

// Stop is bounded by its ctx even when the local agent hangs: the
// cleanup steps that need the agent (destroying the session, deregistering
// the check) get no time beyond ctx (they used to get a RequestTimeout
// each, about 10s more). The key is freed all the same: the check, no
// longer passed, goes critical and Consul invalidates the session; a
// successor leads after the lock-delay.
func TestStopWithHungAgentIsBoundedByCtx(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	p := consultest.NewProxy(t, srv.HTTPAddr)
	hung, err := api.NewClient(p.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	const key = "svc/stop-hung"
	e1, err := leader.New(hung, cfgFor(key, "e1"), leader.WithLogger(testLogger(t, "e1")))
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, client, cfgFor(key, "e2"))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })
	p.Freeze() // e1's agent answers nothing from now on
	const bound = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	err = e1.Stop(ctx)
	took := time.Since(start)
	t.Logf("Stop with a hung agent: %v after %v", err, took)
	if took > bound+2*250*time.Millisecond+200*time.Millisecond { // two cleanup steps of stopGrace
		t.Errorf("Stop returned %v after it was called, its ctx ended after %v", took, bound)
	}
	if e1.IsLeader() {
		t.Error("e1 still leads after Stop")
	}
	waitFor(t, 20*time.Second, "e2 to lead once e1's session is invalidated", e2.IsLeader)
	t.Logf("e2 leads %v after the stop began", time.Since(start))
	p.Unfreeze()
}
