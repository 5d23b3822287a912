package leader_test

import (
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// Killing the Consul raft leader of a 3-server cluster does not demote a
// healthy leader whose deadline has not passed: its requests fail or wait
// while the servers elect a new leader, and the first answer after that
// confirms the same term (api.Lock demotes here: consul #1162).
func TestConsulLeaderElectionKeepsLeader(t *testing.T) {
	servers := consultest.Cluster(t, 3, consultest.Options{})
	raftLeader := consultest.RaftLeader(t, servers)
	var others []*consultest.Agent
	for _, s := range servers {
		if s != raftLeader {
			others = append(others, s)
		}
	}
	const key = "svc/raft"
	// A deadline that leaves room for the election (about 1-3s with
	// raft_multiplier 1): the bound is only meaningful if it outlasts it.
	cfg := leader.Config{Key: key, Identity: "steady", LockDelay: 12 * time.Second,
		DemoteAfter: 9 * time.Second, ConfirmInterval: time.Second}
	led := newLedger()
	e1 := startElector(t, others[0].Client(t), cfg, leader.WithLeaderFunc(led.work("steady")))
	waitFor(t, 15*time.Second, "e1 to lead", e1.IsLeader)
	cfg.Identity = "waiting"
	e2 := startElector(t, others[1].Client(t), cfg, leader.WithLeaderFunc(led.work("waiting")))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })
	term := e1.Term()

	killedAt := time.Now()
	raftLeader.Kill(t)
	newLeader := consultest.RaftLeader(t, others)
	elected := time.Since(killedAt)
	t.Logf("new raft leader %s after %v", newLeader.Name, elected)
	if elected >= cfg.DemoteAfter {
		t.Fatalf("the raft election took %v, longer than DemoteAfter %v: nothing to test", elected, cfg.DemoteAfter)
	}
	waitFor(t, cfg.DemoteAfter, "a confirmation from the new raft leader", func() bool {
		return confirmed(term).After(killedAt.Add(elected))
	})
	if term.Context().Err() != nil {
		t.Fatalf("term ended during the raft election: %v", term.Reason())
	}
	if e2.IsLeader() || e1.Term() != term {
		t.Fatalf("leadership changed hands during the raft election")
	}
	t.Logf("term confirmed %v after the kill; deadline never closer than it", confirmed(term).Sub(killedAt))
	led.checkNoOverlap(t)
}

// A leader cut off from the Consul leader past its deadline (the raft
// leader lost its quorum: two of three servers stopped) ends its term, and
// releases the key as soon as Consul answers again rather than leaving it
// to its session's destruction, which would make the successor wait out
// the lock-delay. The lock-delay here is long (15s) so that the two are
// told apart whatever the raft election takes, and the outage outlasts
// RequestTimeout so that a single release attempt cannot succeed.
func TestUnreachableLeaderReleasesOnReturn(t *testing.T) {
	servers := consultest.Cluster(t, 3, consultest.Options{})
	raftLeader := consultest.RaftLeader(t, servers)
	const key = "svc/quorum"
	cfg := leader.Config{Key: key, Identity: "cut-off", LockDelay: 15 * time.Second, RequestTimeout: time.Second}
	led := newLedger()
	e1 := startElector(t, raftLeader.Client(t), cfg, leader.WithLeaderFunc(led.work("cut-off")))
	waitFor(t, 15*time.Second, "e1 to lead", e1.IsLeader)
	cfg.Identity = "successor"
	e2 := startElector(t, raftLeader.Client(t), cfg, leader.WithLeaderFunc(led.work("successor")))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })
	term := e1.Term()

	var paused []*consultest.Agent
	for _, s := range servers {
		if s != raftLeader {
			s.Pause(t)
			paused = append(paused, s)
		}
	}
	checkDemotedInTime(t, term, e1.Config())
	if e2.IsLeader() {
		t.Fatal("e2 leads while Consul has no quorum")
	}
	// Longer than a request waits: a release sent at the demotion has
	// failed by now, and only a retry can succeed.
	time.Sleep(2 * cfg.RequestTimeout)
	resumedAt := time.Now()
	for _, s := range paused {
		s.Resume(t)
	}
	waitFor(t, cfg.LockDelay+30*time.Second, "e2 to lead", e2.IsLeader)
	took := e2.Term().Started().Sub(resumedAt)
	t.Logf("term ended %v after its last confirmation; successor led %v after the quorum came back", term.Ended().Sub(confirmed(term)), took)
	if took >= cfg.LockDelay {
		t.Errorf("successor led %v after Consul came back, not before the lock-delay %v: the key was not released", took, cfg.LockDelay)
	}
	led.checkNoOverlap(t)
}
