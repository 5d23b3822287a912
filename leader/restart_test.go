package leader_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/consultest"
	"github.com/consulelect/consulelect/leader"
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
	if down > 0 {
		agent.Kill(t)
		time.Sleep(down) // the outage's length
	}
	agent.RestartWithoutState(t)
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
