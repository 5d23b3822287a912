package leader_test

import (
	"errors"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// rollServers restarts the servers one at a time, as an upgrade does: each
// stopped (SIGTERM), down for down, started again with its state, and the
// cluster given a raft leader before the next.
func rollServers(t *testing.T, servers []*consultest.Agent, down time.Duration) {
	t.Helper()
	for _, s := range servers {
		start := time.Now()
		s.Stop(t)
		time.Sleep(down)
		s.Restart(t)
		consultest.RaftLeader(t, servers)
		t.Logf("server %s rolled in %v", s.Name, time.Since(start))
	}
}

// A rolling restart of the three Consul servers, each down for 3s, raft
// leader included: with a DemoteAfter above the cluster's election time
// (and LockDelay above it by the margin), the leader keeps its one term
// through the whole roll; with the defaults, terms may end (each raft
// election can outlast a 2s deadline) but two never overlap. Candidates
// run on client agents, which stay up.
func TestRollingServerRestart(t *testing.T) {
	servers := consultest.Cluster(t, 3, consultest.Options{})
	a1 := consultest.ClientAgent(t, servers[0], consultest.Options{Bind: "127.0.0.2"})
	a2 := consultest.ClientAgent(t, servers[1], consultest.Options{Bind: "127.0.0.3"})
	for _, tc := range []struct {
		name     string
		cfg      leader.Config
		keepTerm bool
	}{
		{"DemoteAfter above the election time", leader.Config{LockDelay: 12 * time.Second, DemoteAfter: 9 * time.Second,
			ConfirmInterval: time.Second}, true},
		{"defaults", leader.Config{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "svc/roll/" + map[bool]string{true: "long", false: "defaults"}[tc.keepTerm]
			led := newLedger()
			cfg := tc.cfg
			cfg.Key, cfg.Identity = key, "first"
			e1 := startElector(t, a1.Client(t), cfg, leader.WithLeaderFunc(led.work("first")))
			waitFor(t, 15*time.Second, "first to lead", e1.IsLeader)
			cfg.Identity = "second"
			e2 := startElector(t, a2.Client(t), cfg, leader.WithLeaderFunc(led.work("second")))
			waitFor(t, 10*time.Second, "second to follow", func() bool { return e2.Status().Leader != nil })
			term := e1.Term()
			rollServers(t, servers, 3*time.Second)
			waitFor(t, 30*time.Second, "a leader after the roll", func() bool { return e1.IsLeader() || e2.IsLeader() })
			ended := 0
			for _, r := range led.ended() {
				if !errors.Is(r.reason, leader.ErrStopped) {
					ended++
					t.Logf("a term of %s ended during the roll: %v", r.who, r.reason)
				}
			}
			t.Logf("%s: %d terms ended during the roll; the first term lasts: %v", tc.name, ended, e1.Term() == term)
			if tc.keepTerm && (e1.Term() != term || ended != 0) {
				t.Errorf("the leader's term did not last through the roll: %d terms ended, first term active %v", ended, term.Context().Err() == nil)
			}
			led.checkNoOverlap(t)
		})
	}
}
