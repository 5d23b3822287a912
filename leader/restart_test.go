package leader_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
)

// recoverAfterRestart crashes agent, keeps it down for down, and starts
// it again without its state (it forgets the electors' check). It then
// watches the electors through the agent's first anti-entropy sync (within
// 3s of its return), which removes the check from the catalog unless the
// heartbeat registered it again first, and through a lock-delay, and
// requires that at the end every elector leads, with no error in Status,
// and that no term granted after the agent returned was lost meanwhile (a
// session created against the catalog's stale copy of the check is
// invalidated at once). It returns how long after the agent's return some
// key was last without a leader.
func recoverAfterRestart(t *testing.T, agent *consultest.Agent, es []*leader.Elector, down time.Duration) time.Duration {
	t.Helper()
	return recoverAfter(t, es, func() {
		if down > 0 {
			agent.Kill(t)
			time.Sleep(down) // the outage's length
		}
		agent.RestartWithoutState(t)
	})
}

// recoverAfter is recoverAfterRestart with the restart done by restart.
func recoverAfter(t *testing.T, es []*leader.Elector, restart func()) time.Duration {
	t.Helper()
	restart()
	back := time.Now()
	cfg := es[0].Config()
	window := 3*time.Second + cfg.CheckTTL + cfg.LockDelay + 2*time.Second
	var lastGap time.Time
	granted := map[*leader.Term]bool{} // terms that started after back
	for time.Since(back) < window {
		all := true
		for _, e := range es {
			term := e.Term()
			if term == nil {
				all = false
				continue
			}
			if term.Started().After(back) {
				granted[term] = true
			}
		}
		if !all {
			lastGap = time.Now()
		}
		time.Sleep(10 * time.Millisecond) // sampling period
	}
	for _, e := range es {
		if !e.IsLeader() {
			t.Fatalf("%s does not lead %v after the agent returned", e.Status().Identity, window)
		}
		if err := e.Status().LastError; err != nil {
			t.Errorf("%s: error left in status: %v", e.Status().Identity, err)
		}
	}
	for term := range granted {
		if term.Context().Err() != nil {
			t.Errorf("a term granted %v after the agent returned was lost: %v", term.Started().Sub(back), term.Reason())
		}
	}
	if lastGap.IsZero() {
		return 0
	}
	return lastGap.Sub(back)
}

// A client agent that restarts without its state forgets the elector's
// check. The heartbeat, which alone owns the check's state, registers it
// again before any session is created; the elector leads again within
// seconds, every time: after a quick restart it usually keeps its term
// (the check is registered again before the agent's first sync), after
// one longer than DemoteAfter it leads with a new session once Consul's
// lock-delay has passed.
func TestAgentRestartWithoutState(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	agent := consultest.ClientAgent(t, srv, consultest.Options{Bind: "127.0.0.2"})
	e := startElector(t, agent.Client(t), cfgFor("svc/agent-restart", "on-agent"))
	waitFor(t, 10*time.Second, "e to lead", e.IsLeader)
	for trial, down := range []time.Duration{0, 3 * time.Second, 0} {
		term := e.Term()
		took := recoverAfterRestart(t, agent, []*leader.Elector{e}, down)
		t.Logf("trial %d (down %v): leading again %v after the agent returned; same term: %v",
			trial, down, took, e.Term() == term)
	}
}

// The same for a Group of 50 electors sharing one check.
func TestGroupAgentRestartWithoutState(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	agent := consultest.ClientAgent(t, srv, consultest.Options{Bind: "127.0.0.2"})
	client := agent.Client(t)
	g := startGroup(t, client)
	var es []*leader.Elector
	for i := 0; i < 50; i++ {
		es = append(es, startElector(t, client, cfgFor(fmt.Sprintf("svc/group-restart/%02d", i), name(i)), leader.WithGroup(g)))
	}
	waitFor(t, 20*time.Second, "all 50 to lead", func() bool {
		for _, e := range es {
			if !e.IsLeader() {
				return false
			}
		}
		return true
	})
	for trial, down := range []time.Duration{0, 3 * time.Second} {
		took := recoverAfterRestart(t, agent, es, down)
		t.Logf("trial %d (down %v): every key led again %v after the agent returned", trial, down, took)
	}
}

// Every way a client agent restarts (SIGTERM, which leaves the cluster and
// so invalidates the node's sessions, or SIGKILL; with its data directory
// or without it): a standalone elector, a Group's elector and a lock holder
// on that agent all lead or hold again within seconds after it returns,
// by themselves, with no error left in Status, and no term granted after
// its return is lost (recoverAfter).
func TestAgentRestartKinds(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	agent := consultest.ClientAgent(t, srv, consultest.Options{Bind: "127.0.0.2"})
	client := agent.Client(t)
	g := startGroup(t, client)
	es := []*leader.Elector{
		startElector(t, client, cfgFor("svc/restart-kinds/alone", "alone")),
		startElector(t, client, cfgFor("svc/restart-kinds/grouped", "grouped"), leader.WithGroup(g)),
	}
	waitFor(t, 15*time.Second, "both to lead", func() bool { return es[0].IsLeader() && es[1].IsLeader() })
	locks, err := lock.NewSession(client, lock.Config{Identity: "locker"})
	if err != nil {
		t.Fatal(err)
	}
	defer locks.Close(context.Background())
	mx, err := locks.Mutex("svc/restart-kinds/lock")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		name    string
		restart func()
	}{
		{"SIGTERM, with its state", func() { agent.Restart(t) }},
		{"SIGKILL, with its state", func() { agent.Kill(t); agent.Restart(t) }},
		{"SIGTERM, without its state", func() { agent.Stop(t); agent.RestartWithoutState(t) }},
		{"SIGKILL, without its state", func() { agent.RestartWithoutState(t) }},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		h, err := mx.Lock(ctx)
		if err != nil {
			cancel()
			t.Fatalf("%s: lock before the restart: %v", k.name, err)
		}
		took := recoverAfter(t, es, k.restart)
		_ = h.Unlock(ctx) // lost or not: cleaned up
		start := time.Now()
		h, err = mx.Lock(ctx)
		if err != nil {
			cancel()
			t.Fatalf("%s: lock after the restart: %v", k.name, err)
		}
		t.Logf("%s: every key led again %v after the agent returned; the lock held again %v later", k.name, took, time.Since(start))
		_ = h.Unlock(ctx)
		cancel()
	}
}
