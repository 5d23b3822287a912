package leader_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// When the leader process is SIGKILLed, its service check goes critical
// CheckTTL after the last pass, Consul invalidates the session, and a
// follower acquires once the lock-delay has passed: failover lies between
// LockDelay (Consul must make the successor wait) and CheckTTL + LockDelay
// plus the agent's sync of the check (bounded here by one second). The
// kill comes right after a check pass: the worst moment.
func TestCrashFailover(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/crash"
	led := newLedger()
	follower := startElector(t, client, cfgFor(key, "survivor"), leader.WithLeaderFunc(led.work("survivor")))
	cfg := follower.Config()
	var times []time.Duration
	waitFor(t, 10*time.Second, "the follower to lead", follower.IsLeader)
	for trial := 0; trial < 3; trial++ {
		// The victim campaigns; the follower resigns until it has won.
		// Through a fault proxy, only to see its check passes: the kill
		// comes right after one, the worst moment (the check then expires a
		// full CheckTTL later).
		proxy := consultest.NewFaultProxy(t, srv.HTTPAddr)
		victim := startCandidate(t, proxy.Addr(), "-key", key, "-id", fmt.Sprintf("victim-%d", trial))
		for won := false; !won; {
			if follower.IsLeader() {
				if err := follower.Resign(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			won = victim.tryLine("elected", cfg.ResignPause)
		}
		waitFor(t, 5*time.Second, "the follower to see the victim", func() bool {
			st := follower.Status()
			return st.Leader != nil && st.Leader.ID == fmt.Sprintf("victim-%d", trial)
		})
		passes := consultest.Match{Method: "PUT", Path: "/v1/agent/check/update/"}
		n := proxy.Count(passes)
		waitFor(t, cfg.CheckTTL, "a check pass of the victim", func() bool { return proxy.Count(passes) > n })
		killedAt := time.Now()
		victim.kill(t)
		waitFor(t, cfg.CheckTTL+cfg.LockDelay+10*time.Second, "the follower to lead", follower.IsLeader)
		failover := follower.Term().Started().Sub(killedAt)
		times = append(times, failover)
		t.Logf("trial %d: crash failover %v", trial, failover)
		if failover < cfg.LockDelay {
			t.Errorf("failover %v shorter than LockDelay %v: Consul's lock-delay was not in force", failover, cfg.LockDelay)
		}
		if max := cfg.CheckTTL + cfg.LockDelay + time.Second; failover > max {
			t.Errorf("failover %v exceeds CheckTTL+LockDelay+1s = %v", failover, max)
		}
	}
	slices.Sort(times)
	t.Logf("crash failover median %v (defaults: CheckTTL %v, LockDelay %v)", times[len(times)/2], cfg.CheckTTL, cfg.LockDelay)
}

// A leader whose Consul agent hangs (SIGSTOP: requests are accepted by
// the kernel and never answered) ends its term DemoteAfter after its last
// confirmation, before any other candidate acquires. A dev server's gossip
// declares the frozen node failed within about half a second, so Consul
// invalidates the session as early as it ever would: the strictest case.
func TestHungAgentDemotesBeforeSuccessor(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	agent := consultest.ClientAgent(t, srv, consultest.Options{Bind: "127.0.0.2"})
	const key = "svc/hung-agent"
	led := newLedger()
	e1 := startElector(t, agent.Client(t), cfgFor(key, "on-agent"), leader.WithLeaderFunc(led.work("on-agent")))
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, srv.Client(t), cfgFor(key, "on-server"), leader.WithLeaderFunc(led.work("on-server")))
	term := e1.Term()
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })

	agent.Pause(t)
	pausedAt := time.Now()
	checkDemotedInTime(t, term, e1.Config())
	waitFor(t, 60*time.Second, "e2 to lead", e2.IsLeader)
	t.Logf("paused→demoted %v, paused→successor %v", term.Ended().Sub(pausedAt), e2.Term().Started().Sub(pausedAt))
	if !e2.Term().Started().After(term.Ended()) {
		t.Fatalf("successor started %v before the old leader's term ended", term.Ended().Sub(e2.Term().Started()))
	}
	agent.Resume(t)
	waitFor(t, 30*time.Second, "e1 to follow e2", func() bool {
		st := e1.Status()
		return st.Role == leader.RoleFollower && st.Leader != nil && st.Leader.ID == "on-server"
	})
	led.checkNoOverlap(t)
}

// The same through a TCP path that freezes between the leader and its
// agent: the agent is healthy but hears no more check passes, so the
// session is invalidated CheckTTL later; the leader has demoted by then.
func TestHungPathDemotesBeforeSuccessor(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	proxy := consultest.NewProxy(t, srv.HTTPAddr)
	viaProxy, err := api.NewClient(proxy.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	const key = "svc/hung-path"
	led := newLedger()
	e1 := startElector(t, viaProxy, cfgFor(key, "behind-proxy"), leader.WithLeaderFunc(led.work("behind-proxy")))
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, srv.Client(t), cfgFor(key, "direct"), leader.WithLeaderFunc(led.work("direct")))
	term := e1.Term()
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })

	proxy.Freeze()
	frozenAt := time.Now()
	checkDemotedInTime(t, term, e1.Config())
	waitFor(t, 30*time.Second, "e2 to lead", e2.IsLeader)
	t.Logf("frozen→demoted %v, frozen→successor %v", term.Ended().Sub(frozenAt), e2.Term().Started().Sub(frozenAt))
	if !e2.Term().Started().After(term.Ended()) {
		t.Fatalf("successor started %v before the old leader's term ended", term.Ended().Sub(e2.Term().Started()))
	}
	proxy.Unfreeze()
	waitFor(t, 30*time.Second, "e1 to follow e2", func() bool {
		st := e1.Status()
		return st.Role == leader.RoleFollower && st.Leader != nil && st.Leader.ID == "direct"
	})
	led.checkNoOverlap(t)
}

// checkDemotedInTime waits for term to end for ErrConsulUnreachable and
// checks the derivation's bound: it ended at its last confirmation's send
// time plus DemoteAfter (the timer may fire a little late, never early).
func checkDemotedInTime(t *testing.T, term *leader.Term, cfg leader.Config) {
	t.Helper()
	select {
	case <-term.Done():
	case <-time.After(cfg.DemoteAfter + cfg.ConfirmInterval + time.Second):
		t.Fatalf("term did not end within DemoteAfter of the hang")
	}
	if !errors.Is(term.Reason(), consulelect.ErrConsulUnreachable) {
		t.Fatalf("term ended for %v, want ErrConsulUnreachable", term.Reason())
	}
	late := term.Ended().Sub(confirmed(term).Add(cfg.DemoteAfter))
	t.Logf("demoted %v after the deadline (last confirmation sent %v before the end)", late, term.Ended().Sub(confirmed(term)))
	if late < 0 {
		t.Errorf("demoted %v before the deadline", -late)
	}
	// Whatever lateness the runtime adds eats into the safety margin.
	if margin := cfg.LockDelay - cfg.DemoteAfter; late > margin/2 {
		t.Errorf("demoted %v after the deadline, more than half the safety margin %v", late, margin)
	}
}
