package leader_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// strategyCfg is a config with the strategy windows short enough for a test.
func strategyCfg(key, id string, priority int) leader.Config {
	return leader.Config{Key: key, Identity: id, Priority: priority,
		StabilityWindow: time.Second, YieldInterval: time.Second}
}

// leaderOf waits until exactly one of electors leads and is named want.
func waitLeaderNamed(t *testing.T, timeout time.Duration, want string, es map[string]*leader.Elector) {
	t.Helper()
	waitFor(t, timeout, want+" to lead", func() bool {
		n, ok := 0, false
		for id, e := range es {
			if e.IsLeader() {
				n++
				ok = id == want
			}
		}
		if n > 1 {
			t.Fatalf("%d electors lead at once", n)
		}
		return n == 1 && ok
	})
}

// waitEnded waits until the ledger has recorded n ended terms (leader work
// records its term after the term ended, so a beat after the next began).
func (l *ledger) waitEnded(t *testing.T, n int) []record {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%d ended terms", n), func() bool { return len(l.ended()) >= n })
	return l.ended()
}

// gapBefore is the time between the end of the latest ended term and
// the start of e's current term: the handoff's leaderless gap.
func gapBefore(terms []record, e *leader.Elector) (time.Duration, record) {
	cur := e.Term()
	if cur == nil || len(terms) == 0 {
		return 0, record{}
	}
	prev := terms[len(terms)-1]
	return cur.Started().Sub(prev.ended), prev
}

// Priorities 1, 2, 3 started in the worst order: each newcomer ranks
// higher, so the leader hands over to it once it has been live for the
// stability window, by a graceful release (a gap of milliseconds, not a
// lock-delay). The priority-3 candidate cut off from Consul (a crash, for
// Consul): 2 leads after a crash failover; 3 back: it leads again after the
// window. No two terms ever overlap and tokens increase.
func TestPriorityLeads(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/priority"
	l := newLedger()
	es := map[string]*leader.Elector{}
	// A candidate with a negative priority never leads, even alone.
	never := startElector(t, client, strategyCfg(key, "never", -1), leader.WithLeaderFunc(l.work("never")))
	waitFor(t, 10*time.Second, "never in its own line", func() bool { return len(never.Status().Candidates) == 1 })
	time.Sleep(500 * time.Millisecond)
	if never.IsLeader() || never.Status().Role != leader.RoleFollower {
		t.Fatalf("a negative priority led: %v", never.Status().Role)
	}
	var proxy3 *consultest.Proxy
	for p := 1; p <= 3; p++ {
		id := fmt.Sprintf("p%d", p)
		c := client
		if p == 3 {
			proxy3 = consultest.NewProxy(t, srv.HTTPAddr)
			var err error
			if c, err = api.NewClient(proxy3.Config(srv)); err != nil {
				t.Fatal(err)
			}
		}
		es[id] = startElector(t, c, strategyCfg(key, id, p), leader.WithLeaderFunc(l.work(id)))
		waitLeaderNamed(t, 15*time.Second, id, es)
		if p > 1 {
			gap, prev := gapBefore(l.waitEnded(t, p-1), es[id])
			if !errors.Is(prev.reason, leader.ErrHandedOff) {
				t.Errorf("%s's term ended with %v, want ErrHandedOff", prev.who, prev.reason)
			}
			if gap > leader.DefaultLockDelay/2 {
				t.Errorf("handoff to %s left no leader for %v: not a graceful release", id, gap)
			}
			t.Logf("handoff %s -> %s: %v without a leader (%v)", prev.who, id, gap, prev.reason)
		}
	}
	// A follower learns of the new leader from its watch, a round trip
	// after the leader itself: wait for p1's view rather than read it once.
	var st leader.Status
	consultest.WaitFor(t, 10*time.Second, "p1 to see p3 lead, handed over by p2", func() bool {
		st = es["p1"].Status()
		return len(st.Candidates) == 4 && st.Leader != nil && st.Leader.Why == "handed over by p2 (priority)"
	})

	proxy3.Freeze() // p3 is cut off: its check lapses, its session goes
	cut := time.Now()
	waitLeaderNamed(t, 15*time.Second, "p2", es)
	t.Logf("p3 cut off: p2 leads after %v", time.Since(cut))
	for _, r := range l.ended() {
		if r.who == "p1" && r.started.After(cut) {
			t.Errorf("p1 acquired the freed key before p2, which ranks higher")
		}
	}
	if err := es["p2"].HandOff(context.Background(), "never"); !errors.Is(err, leader.ErrNoCandidate) {
		t.Errorf("HandOff to a negative priority: %v, want ErrNoCandidate", err)
	}
	proxy3.Unfreeze()
	back := time.Now()
	waitLeaderNamed(t, 20*time.Second, "p3", es)
	if took := time.Since(back); took < time.Second {
		t.Errorf("p3 led %v after it came back, before its stability window (1s)", took)
	}
	gap, prev := gapBefore(l.waitEnded(t, 4), es["p3"])
	t.Logf("p3 back: leads after %v; handoff p2 -> p3 left no leader for %v (%v)", time.Since(back), gap, prev.reason)
	if !errors.Is(prev.reason, leader.ErrHandedOff) || gap > leader.DefaultLockDelay/2 {
		t.Errorf("p2 -> p3: reason %v, gap %v; want a graceful handoff", prev.reason, gap)
	}
	l.checkNoOverlap(t)
}

// A high-priority candidate that comes and goes cannot pull leadership
// more often than once per YieldInterval: each term lasts at least that
// long before it yields.
func TestFlappingCandidateIsRateLimited(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/flap"
	l := newLedger()
	cfg := func(id string, p int) leader.Config {
		return leader.Config{Key: key, Identity: id, Priority: p, StabilityWindow: 200 * time.Millisecond,
			YieldInterval: 4 * time.Second, ResignPause: 100 * time.Millisecond}
	}
	base := startElector(t, client, cfg("base", 1), leader.WithLeaderFunc(l.work("base")))
	waitLeader(t, 10*time.Second, base)
	flap, err := leader.New(client, cfg("flap", 5), leader.WithLeaderFunc(l.work("flap")),
		leader.WithLogger(testLogger(t, "flap")))
	if err != nil {
		t.Fatal(err)
	}
	const run = 12 * time.Second
	start, flaps := time.Now(), 0
	for ; time.Since(start) < run; flaps++ {
		if err := flap.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := flap.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		time.Sleep(300 * time.Millisecond)
	}
	handoffs := 0
	for _, r := range l.ended() {
		if errors.Is(r.reason, leader.ErrHandedOff) {
			handoffs++
		}
	}
	limit := int(time.Since(start)/(4*time.Second)) + 1
	t.Logf("%d flaps in %v: %d handoffs (limit %d)", flaps, time.Since(start), handoffs, limit)
	if handoffs == 0 || handoffs > limit {
		t.Errorf("%d handoffs to the flapping candidate; want 1..%d", handoffs, limit)
	}
	l.checkNoOverlap(t)
}

// A rolling upgrade of three replicas from 1.0.0 to 2.0.0, one at a time,
// with OldestVersion: leadership stays on a 1.0.0 replica until the last
// one is gone, then moves to 2.0.0 once.
func TestRollingUpgradeOldestVersionLeads(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/upgrade"
	l := newLedger()
	version := map[string]string{}
	start := func(id, v string) *leader.Elector {
		version[id] = v
		cfg := strategyCfg(key, id, 0)
		cfg.Version, cfg.PreferVersion = v, leader.OldestVersion
		e, err := leader.New(client, cfg, leader.WithLeaderFunc(l.work(id)), leader.WithLogger(testLogger(t, id)))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		return e
	}
	stop := func(e *leader.Elector) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	live := map[string]*leader.Elector{}
	for _, id := range []string{"a", "b", "c"} {
		live[id] = start(id, "1.0.0")
	}
	defer func() {
		for _, e := range live {
			stop(e)
		}
	}()
	waitLeader(t, 10*time.Second, live["a"], live["b"], live["c"])
	// Upgrade the leader first, then the others: the worst order.
	for step := 0; step < 3; step++ {
		var old string
		for id, e := range live {
			if version[id] == "1.0.0" && (old == "" || e.IsLeader()) {
				old = id
			}
		}
		stop(live[old])
		delete(live, old)
		nid := old + "2"
		live[nid] = start(nid, "2.0.0")
		waitFor(t, 10*time.Second, nid+" live", func() bool {
			for _, e := range live {
				if len(e.Status().Candidates) != 3 {
					return false
				}
			}
			return true
		})
		time.Sleep(1500 * time.Millisecond) // past the stability window
		var leaders []*leader.Elector
		for _, e := range live {
			leaders = append(leaders, e)
		}
		cur := waitLeader(t, 10*time.Second, leaders...)
		olds := 0
		for id := range live {
			if version[id] == "1.0.0" {
				olds++
			}
		}
		want := "1.0.0"
		if olds == 0 {
			want = "2.0.0"
		}
		if v := cur.Config().Version; v != want {
			t.Fatalf("after upgrading %s (%d on 1.0.0 left): %s on %s leads, want %s", old, olds, cur.Config().Identity, v, want)
		}
		t.Logf("upgraded %s: %s (%s) leads, why %q", old, cur.Config().Identity, cur.Config().Version, cur.Status().Leader.Why)
	}
	for _, e := range live {
		stop(e)
	}
	live = nil
	moves, prev := 0, ""
	for _, r := range l.ended() {
		if v := version[r.who]; prev != "" && v != prev {
			moves++
		}
		prev = version[r.who]
	}
	if moves != 1 {
		t.Errorf("leadership changed version %d times, want once", moves)
	}
	l.checkNoOverlap(t)
}

// A preferred replica that crash-loops does not pull every freed key to
// itself: when the leader (priority 3) crashes and restarts at once, the
// freed key goes to the settled priority-1 replica, not to the restarted
// one, which is younger than its StabilityWindow; the restarted replica
// leads again by a graceful handoff once it has been live for the window.
// It used to take the key at once, after every crash, so a replica that
// crashed every few seconds kept the others from ever leading.
func TestCrashLoopingPreferredReplicaDoesNotTakeFreedKeys(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/crash-loop"
	const window = 8 * time.Second // longer than a crash failover (about 4s)
	cfg := func(id string, priority int) leader.Config {
		return leader.Config{Key: key, Identity: id, Priority: priority, StabilityWindow: window, YieldInterval: time.Second}
	}
	l := newLedger()
	proxy := consultest.NewProxy(t, srv.HTTPAddr)
	crashing, err := api.NewClient(proxy.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	es := map[string]*leader.Elector{}
	es["p3"] = startElector(t, crashing, cfg("p3", 3), leader.WithLeaderFunc(l.work("p3")))
	waitLeaderNamed(t, 10*time.Second, "p3", es)
	es["p1"] = startElector(t, client, cfg("p1", 1), leader.WithLeaderFunc(l.work("p1")))
	time.Sleep(window + time.Second) // p1 is settled
	if !es["p3"].IsLeader() {
		t.Fatal("p3, the better-ranked, no longer leads")
	}

	proxy.Freeze() // p3 crashes (for Consul) ...
	crash := time.Now()
	es["p3-restarted"] = startElector(t, client, cfg("p3-restarted", 3), leader.WithLeaderFunc(l.work("p3-restarted")))
	delete(es, "p3") // ... and is back at once, as a new process
	waitFor(t, 15*time.Second, "a leader after the crash", func() bool {
		return es["p1"].IsLeader() || es["p3-restarted"].IsLeader()
	})
	if !es["p1"].IsLeader() {
		t.Fatalf("the restarted replica took the freed key %v after the crash, before its StabilityWindow", time.Since(crash))
	}
	t.Logf("p1 leads %v after p3's crash", time.Since(crash))
	waitLeaderNamed(t, 2*window, "p3-restarted", es)
	since := time.Since(crash)
	t.Logf("p3-restarted leads %v after its start, by handoff", since)
	if since < window {
		t.Errorf("p3-restarted led %v after its start, before its StabilityWindow (%v)", since, window)
	}
	ended := l.waitEnded(t, 2)
	if last := ended[len(ended)-1]; last.who != "p1" || !errors.Is(last.reason, leader.ErrHandedOff) {
		t.Errorf("p1's term ended with %v (%s), want a handoff", last.reason, last.who)
	}
	proxy.Unfreeze()
	l.checkNoOverlap(t)
}
