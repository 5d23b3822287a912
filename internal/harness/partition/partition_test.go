package partition_test

import (
	"context"
	"slices"

	"github.com/hashicorp/consul/api"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/internal/harness/netns"
	"github.com/consulelect/consulelect/leader"
)

// cut is one partition, cut around the leader's host lh.
type cut struct {
	name string
	// apply cuts the partition; rl is the raft leader before the cut
	// (nil unless movesRaft).
	apply func(w *world, lh, rl *consultest.Agent)
	// loses reports whether the leader must lose its term (it cannot reach
	// a quorum of servers); otherwise it may keep it.
	loses bool
	// movesRaft: the majority side elects a new raft leader, which re-arms
	// every session's TTL timer at 2*SessionTTL when it takes over.
	movesRaft bool
}

var cuts = []cut{
	{"isolate the leader's host from every other host", func(w *world, lh, rl *consultest.Agent) {
		w.net.Partition([]*netns.Host{lh.Host}, w.others(lh))
	}, true, false},
	{"cut the leader's host from every server (the other host still reaches it)", func(w *world, lh, rl *consultest.Agent) {
		w.net.Partition([]*netns.Host{lh.Host}, w.serverHosts())
	}, true, false},
	{"drop servers to the leader's host (one way)", func(w *world, lh, rl *consultest.Agent) {
		for _, s := range w.serverHosts() {
			w.net.Block(s, lh.Host)
		}
	}, true, false},
	{"drop the leader's host to servers (one way)", func(w *world, lh, rl *consultest.Agent) {
		for _, s := range w.serverHosts() {
			w.net.Block(lh.Host, s)
		}
	}, true, false},
	{"slow the leader's host's link to 16kbit/s both ways (tbf, 1s queue)", func(w *world, lh, rl *consultest.Agent) {
		w.net.Throttle(lh.Host, "16kbit", time.Second)
	}, false, false},
	{"servers 1|2, the raft leader alone in the minority", func(w *world, lh, rl *consultest.Agent) {
		w.net.Partition([]*netns.Host{rl.Host}, w.others(rl))
	}, false, true},
	{"servers 1|2, the leader's host with the raft leader in the minority", func(w *world, lh, rl *consultest.Agent) {
		w.net.Partition([]*netns.Host{rl.Host, lh.Host}, w.others(rl, lh))
	}, true, true},
}

// TestPartitions cuts each partition around the leader's host, holds it
// until the other candidate leads (or, where the leader may keep its term,
// for holdFor), heals it, and checks the guarantee: no two terms overlap,
// tokens increase, a leader that cannot reach a quorum ends its term by
// DemoteAfter after the cut, and exactly one leader is there after the
// heal. It logs the failover of each kind (the figures in
// docs/reliability.md).
func TestPartitions(t *testing.T) {
	w := newWorld(t)
	if err := netns.CanThrottle(); err != nil {
		t.Skipf("SKIP: %v", err) // every host that allows namespaces has had tbf so far
	}
	ts := newTerms()
	cfg := leader.Config{} // the defaults: what users run
	es := w.startElectors(t, "svc/partition", ts, cfg)
	demoteAfter := es[0].Config().DemoteAfter
	sessionTTL, lockDelay := es[0].Config().SessionTTL, es[0].Config().LockDelay
	const holdFor = 8 * time.Second
	for _, c := range cuts {
		t.Run(c.name, func(t *testing.T) {
			w.t = t
			t.Cleanup(func() { w.net.Heal() }) // also after a failure, for the next cut
			w.awaitWhole(t)
			old := w.awaitOneLeader(t, ts, 60*time.Second)
			lh := w.agent(old.who)
			var rl *consultest.Agent // only the cuts that move the raft leadership cut around it
			if c.movesRaft {
				rl = consultest.RaftLeader(t, w.servers)
			}
			cutAt := time.Now()
			c.apply(w, lh, rl)
			var raft *raftWatch
			if c.movesRaft {
				raft = w.watchRaft(rl)
			}
			deadline := cutAt.Add(holdFor)
			if c.loses {
				deadline = cutAt.Add(60 * time.Second)
			}
			var next *termRecord
			for time.Now().Before(deadline) {
				if r, n := ts.leading(); n == 1 && r.token != old.token {
					next = r
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			healAt := time.Now()
			var raftAt time.Time // when the majority side's new raft leader was seen; zero: not before the heal
			if raft != nil {
				raftAt = raft.stop()
				if raftAt.IsZero() {
					t.Logf("%s: the majority side had no new raft leader before the heal", c.name)
				} else {
					t.Logf("%s: the majority side's new raft leader was seen %v after the cut", c.name, raftAt.Sub(cutAt).Round(time.Millisecond))
				}
			}
			w.net.Heal()
			ended := ts.find(old.token)
			switch {
			case next != nil:
				t.Logf("%s: %s's term ended %v after the cut (%v); %s led %v after the cut (token %d)",
					c.name, old.who, ended.end.Sub(cutAt).Round(time.Millisecond), ended.reason,
					next.who, next.start.Sub(cutAt).Round(time.Millisecond), next.token)
			case ended.end.IsZero():
				t.Logf("%s: %s kept its term through %v of the cut", c.name, old.who, healAt.Sub(cutAt).Round(time.Millisecond))
			default:
				t.Logf("%s: %s's term ended %v after the cut (%v); no other leader before the heal at %v",
					c.name, old.who, ended.end.Sub(cutAt).Round(time.Millisecond), ended.reason, healAt.Sub(cutAt).Round(time.Millisecond))
			}
			if c.loses {
				if next == nil {
					t.Errorf("no other leader within %v of the cut", deadline.Sub(cutAt))
				}
				if ended.end.IsZero() || ended.end.Sub(cutAt) > demoteAfter+demoteSlack {
					t.Errorf("the cut-off leader's term did not end within DemoteAfter (%v) of the cut", demoteAfter)
				}
				// The session's TTL frees the key where gossip does not:
				// the servers invalidate it at most 2*SessionTTL after
				// its last renewal, before the cut, or, where the cut
				// moves the raft leadership, 2*SessionTTL after the new
				// raft leader took over (it re-arms every session's
				// timer); the election itself is Consul's, so it is
				// measured, not assumed (docs/safety.md).
				from, what := cutAt, "the cut"
				if c.movesRaft {
					from, what = raftAt, "the new raft leader"
				}
				bound := 2*sessionTTL + lockDelay + retrySlack
				switch {
				case next == nil:
				case from.IsZero():
					t.Errorf("%s led %v after the cut, and the majority side never had a new raft leader", next.who, next.start.Sub(cutAt))
				case next.start.Sub(from) > bound:
					t.Errorf("failover took %v after %s (%v after the cut), over its bound %v (2*SessionTTL + LockDelay + %v)",
						next.start.Sub(from), what, next.start.Sub(cutAt), bound, retrySlack)
				}
			}
			back := w.awaitOneLeader(t, ts, 60*time.Second)
			t.Logf("%s: after the heal, %s leads (token %d), %v after the heal", c.name, back.who, back.token,
				time.Since(healAt).Round(time.Millisecond))
			ts.checkSafe(t)
		})
	}
}

// demoteSlack is the scheduling allowance on a term's end past its
// deadline (a loaded 2-core machine running -race).
const demoteSlack = 500 * time.Millisecond

// retrySlack allows for a follower's retry after the key is freed (its
// blocking query's answer, a backoff after errors during the cut).
const retrySlack = 5 * time.Second

// raftWatch polls the servers outside the minority for a raft leader
// other than the old one, from the cut until stop.
type raftWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	seen   time.Time
}

// watchRaft starts a raftWatch on every server but old.
func (w *world) watchRaft(old *consultest.Agent) *raftWatch {
	ctx, cancel := context.WithCancel(context.Background())
	rw := &raftWatch{cancel: cancel, done: make(chan struct{})}
	var clients []*api.Client
	for _, s := range w.servers {
		if s != old {
			clients = append(clients, s.Client(w.t))
		}
	}
	go func() {
		defer close(rw.done)
		for ctx.Err() == nil {
			for _, c := range clients {
				rctx, cancel := context.WithTimeout(ctx, time.Second)
				l, err := c.Status().LeaderWithQueryOptions((&api.QueryOptions{}).WithContext(rctx))
				cancel()
				if err == nil && l != "" && l != old.ServerAddr {
					rw.seen = time.Now()
					return
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return rw
}

// stop ends the watch and returns when the new leader was seen (zero:
// not seen).
func (rw *raftWatch) stop() time.Time {
	rw.cancel()
	<-rw.done
	return rw.seen
}

// awaitWhole waits until the cluster is whole again after a heal: three
// raft voters with a leader (Consul's autopilot removes a server that
// failed and adds it back as a non-voter, promoted after its stabilization
// time; a second partition before that could leave the majority side
// without a quorum, which is Consul's limit, not the test's subject), and
// every node's serfHealth passing.
func (w *world) awaitWhole(t *testing.T) {
	t.Helper()
	waitFor(t, 90*time.Second, "three raft voters with a leader and every node alive", func() bool {
		for _, s := range w.servers {
			conf := s.Config()
			c, err := api.NewClient(conf)
			if err != nil {
				return false
			}
			defer conf.Transport.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			cfg, err := c.Operator().RaftGetConfiguration((&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
			if err != nil {
				continue
			}
			voters, leader := 0, false
			for _, srv := range cfg.Servers {
				if srv.Voter {
					voters++
				}
				leader = leader || srv.Leader
			}
			if voters != len(w.servers) || !leader {
				return false
			}
			checks, _, err := c.Health().State(api.HealthAny, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
			if err != nil {
				return false
			}
			alive := 0
			for _, ch := range checks {
				if ch.CheckID == "serfHealth" && ch.Status == api.HealthPassing {
					alive++
				}
			}
			return alive == len(w.servers)+len(w.hosts)
		}
		return false
	})
}

// awaitOneLeader waits until exactly one elector leads and both electors
// name its holder, and that for a second; it returns the leader's term.
func (w *world) awaitOneLeader(t *testing.T, ts *terms, timeout time.Duration) termRecord {
	t.Helper()
	var stableSince time.Time
	var cur termRecord
	waitFor(t, timeout, "exactly one leader, seen by every candidate, for 1s", func() bool {
		r, n := ts.leading()
		if n != 1 || !w.allSee(r) {
			stableSince = time.Time{}
			return false
		}
		if stableSince.IsZero() || r.token != cur.token {
			stableSince, cur = time.Now(), *r
		}
		return time.Since(stableSince) >= time.Second
	})
	return cur
}

// allSee reports whether every elector's Status names r's holder.
func (w *world) allSee(r *termRecord) bool {
	for _, e := range w.electors {
		st := e.Status()
		if st.Leader == nil || st.Leader.ID != r.who {
			return false
		}
	}
	return true
}

// find returns the record of the term with token.
func (ts *terms) find(token uint64) termRecord {
	for _, r := range ts.snapshot() {
		if r.token == token {
			return r
		}
	}
	return termRecord{}
}

// agent returns the candidate host's agent named name.
func (w *world) agent(name string) *consultest.Agent {
	for _, a := range w.hosts {
		if a.Name == name {
			return a
		}
	}
	w.tb().Fatalf("no host %s", name)
	return nil
}

// others returns the hosts of every server and candidate host except the
// given agents.
func (w *world) others(except ...*consultest.Agent) []*netns.Host {
	var hs []*netns.Host
	for _, a := range slices.Concat(w.servers, w.hosts) {
		if !slices.Contains(except, a) {
			hs = append(hs, a.Host)
		}
	}
	return hs
}
