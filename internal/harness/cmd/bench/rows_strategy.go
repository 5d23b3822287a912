package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// strategyReport holds the "Choosing the leader" rows. api.Lock has no
// strategies: the anchor is our own plain graceful handoff, in the same run.
type strategyReport struct {
	ran                bool
	chosen, plain      sample // HandOff to a named candidate; Resign (first in line)
	balance            []balanceTrial
	idleRanked, idleEq float64 // requests/min of three candidates, with and without priorities
}

// balanceTrial is one change of a balanced Group's replicas.
type balanceTrial struct {
	what           string
	keys           int
	took           time.Duration // until every live replica leads its share ± 1
	moved, minimum int
}

// benchStrategies runs the handoff, balance and idle rows of the
// strategies.
func benchStrategies(tb consultestTB, srv *consultest.Agent, n trials, keys int) (strategyReport, error) {
	r := strategyReport{ran: true}
	var err error
	cfg := srv.Config()
	if r.chosen, r.plain, err = benchChosenHandoff(cfg, n.handoff); err != nil {
		return r, err
	}
	if r.balance, err = benchBalance(tb, srv, keys); err != nil {
		return r, err
	}
	if r.idleRanked, err = benchStrategyIdle(cfg, n.idle, true); err != nil {
		return r, err
	}
	r.idleEq, err = benchStrategyIdle(cfg, n.idle, false)
	return r, err
}

// benchChosenHandoff: among five candidates, the leader hands over to a
// named one (HandOff) or resigns (the first in line acquires); the time
// from the call until the new term starts.
func benchChosenHandoff(cfg *api.Config, n int) (chosen, plain sample, err error) {
	client := countedClient(cfg, &counter{})
	var es []*leader.Elector
	for i := 0; i < 5; i++ {
		e, stop := ours(client, leader.Config{Key: "bench/chosen", Identity: fmt.Sprintf("c%d", i), ResignPause: 20 * time.Millisecond})
		defer stop()
		es = append(es, e)
	}
	ready := func() (*leader.Elector, error) {
		var cur *leader.Elector
		err := waitUntil(10*time.Second, func() bool {
			cur = nil
			for _, e := range es {
				st := e.Status()
				switch {
				case e.IsLeader():
					cur = e
				case st.Leader == nil || st.Role != leader.RoleFollower || len(st.Candidates) != len(es):
					return false
				}
			}
			return cur != nil
		})
		return cur, err
	}
	for i := 0; i < 2*n; i++ {
		cur, err := ready()
		if err != nil {
			return nil, nil, err
		}
		time.Sleep(10 * time.Millisecond) // followers parked on their blocking queries
		t0 := time.Now()
		if i%2 == 0 {
			to := es[(i/2)%len(es)]
			if to == cur {
				to = es[(i/2+1)%len(es)]
			}
			if err := cur.HandOff(context.Background(), to.Config().Identity); err != nil {
				return nil, nil, err
			}
			if err := waitUntil(5*time.Second, to.IsLeader); err != nil {
				return nil, nil, fmt.Errorf("handoff %d to %s: %w", i, to.Config().Identity, err)
			}
			chosen = append(chosen, to.Term().Started().Sub(t0))
			continue
		}
		if err := cur.Resign(context.Background()); err != nil {
			return nil, nil, err
		}
		var next *leader.Elector
		if err := waitUntil(5*time.Second, func() bool {
			for _, e := range es {
				if e != cur && e.IsLeader() {
					next = e
					return true
				}
			}
			return false
		}); err != nil {
			return nil, nil, fmt.Errorf("resign %d: %w", i, err)
		}
		plain = append(plain, next.Term().Started().Sub(t0))
	}
	return chosen, plain, nil
}

// balanceReplica is one process's balanced Group, through its own proxy.
type balanceReplica struct {
	proxy    *consultest.Proxy
	group    *leader.Group
	electors []*leader.Elector
}

func (b *balanceReplica) stop() {
	b.proxy.Unfreeze()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, e := range b.electors {
		_ = e.Stop(ctx)
	}
	_ = b.group.Stop(ctx)
}

// benchBalance: keys balanced over 3 replicas, a fourth joins, then one is
// cut off (a crash to Consul); the time until balanced and the keys moved.
func benchBalance(tb consultestTB, srv *consultest.Agent, keys int) ([]balanceTrial, error) {
	var handoffs atomic.Int64
	metrics := leader.WithMetrics(leader.Metrics{HandedOff: func(string, string, string) { handoffs.Add(1) }})
	start := func(name string) (*balanceReplica, error) {
		r := &balanceReplica{proxy: consultest.NewProxy(tb, srv.HTTPAddr)}
		client, err := api.NewClient(r.proxy.Config(srv))
		if err != nil {
			return nil, err
		}
		if r.group, err = leader.NewGroup(client, leader.GroupConfig{Balance: true, Name: "bench-balance", Identity: name,
			StabilityWindow: time.Second}); err != nil {
			return nil, err
		}
		if err := r.group.Start(); err != nil {
			return nil, err
		}
		for k := 0; k < keys; k++ {
			e, _ := ours(client, leader.Config{Key: fmt.Sprintf("bench/balance/%03d", k), Identity: name}, leader.WithGroup(r.group), metrics)
			r.electors = append(r.electors, e)
		}
		return r, nil
	}
	client, err := api.NewClient(srv.Config())
	if err != nil {
		return nil, err
	}
	loads := func() map[string]int {
		pairs, _, err := client.KV().List("bench/balance/", &api.QueryOptions{RequireConsistent: true})
		out := map[string]int{}
		if err != nil {
			return out
		}
		for _, p := range pairs {
			var h leader.Holder
			if p.Session != "" && json.Unmarshal(p.Value, &h) == nil {
				out[h.ID]++
			}
		}
		return out
	}
	balanced := func(names []string) func() bool {
		share := (keys + len(names) - 1) / len(names)
		return func() bool {
			l, total := loads(), 0
			for _, n := range names {
				if l[n] < share-1 || l[n] > share+1 {
					return false
				}
				total += l[n]
			}
			return total == keys
		}
	}
	var reps []*balanceReplica
	defer func() {
		for _, r := range reps {
			r.stop()
		}
	}()
	names := []string{"r0", "r1", "r2"}
	for _, name := range names {
		r, err := start(name)
		if err != nil {
			return nil, err
		}
		reps = append(reps, r)
	}
	if err := waitUntil(2*time.Minute, balanced(names)); err != nil {
		return nil, fmt.Errorf("3 replicas: %w", err)
	}
	time.Sleep(2 * time.Second) // settled
	var out []balanceTrial

	h0, t0 := handoffs.Load(), time.Now()
	r3, err := start("r3")
	if err != nil {
		return nil, err
	}
	reps = append(reps, r3)
	names = append(names, "r3")
	if err := waitUntil(2*time.Minute, balanced(names)); err != nil {
		return nil, fmt.Errorf("4 replicas: %w", err)
	}
	took := time.Since(t0)
	time.Sleep(2 * time.Second) // any late moves count too
	out = append(out, balanceTrial{what: "3 → 4 replicas (a join; StabilityWindow 1s included)", keys: keys, took: took,
		moved: int(handoffs.Load() - h0), minimum: keys / 4})

	victim := reps[1]
	lost := loads()["r1"]
	h0, t0 = handoffs.Load(), time.Now()
	victim.proxy.Freeze()
	alive := []string{"r0", "r2", "r3"}
	if err := waitUntil(2*time.Minute, balanced(alive)); err != nil {
		return nil, fmt.Errorf("after the cut: %w", err)
	}
	took = time.Since(t0)
	time.Sleep(2 * time.Second)
	out = append(out, balanceTrial{what: "4 → 3 replicas (one cut off: a crash to Consul)", keys: keys, took: took,
		moved: lost + int(handoffs.Load()-h0), minimum: lost})
	return out, nil
}

// benchStrategyIdle counts the requests per minute of three candidates
// on one key, with priorities 1, 2, 3 (ranked) or all equal.
func benchStrategyIdle(cfg *api.Config, window time.Duration, ranked bool) (float64, error) {
	var c counter
	client := countedClient(cfg, &c)
	key := "bench/idle-equal"
	if ranked {
		key = "bench/idle-ranked"
	}
	var es []*leader.Elector
	for p := 1; p <= 3; p++ {
		prio := 0
		if ranked {
			prio = p
		}
		e, stop := ours(client, leader.Config{Key: key, Identity: fmt.Sprintf("p%d", p), Priority: prio,
			StabilityWindow: time.Second, YieldInterval: time.Second})
		defer stop()
		es = append(es, e)
	}
	if err := waitUntil(30*time.Second, func() bool {
		if ranked {
			return es[2].IsLeader()
		}
		return es[0].IsLeader() || es[1].IsLeader() || es[2].IsLeader()
	}); err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Second) // past start-up and handoffs
	before := c.local.Load() + c.server.Load()
	time.Sleep(window)
	return float64(c.local.Load()+c.server.Load()-before) / window.Minutes(), nil
}

// strategyRows renders the strategies' own table.
func (r *report) strategyRows(w func(string, ...any)) {
	s := r.strategy
	if !s.ran {
		return
	}
	w("\n## Choosing the leader\n\n")
	w("api.Lock has no leader-choice strategies; the anchor is our own plain graceful handoff (`Resign`: whoever is first in line acquires), in the same run, among the same five candidates.\n\n")
	w("| row | strategy | anchor | ratio |\n|---|---|---|---|\n")
	w("| handoff to a named candidate (`HandOff`) vs plain (`Resign`), call → new term, p50 (n=%d/%d) | %s | %s | %s |\n",
		len(s.chosen), len(s.plain), fmtDur(s.chosen.P50()), fmtDur(s.plain.P50()), ratio(float64(s.chosen.P50()), float64(s.plain.P50())))
	w("| same, p99 | %s | %s | %s |\n", fmtDur(s.chosen.P99()), fmtDur(s.plain.P99()), ratio(float64(s.chosen.P99()), float64(s.plain.P99())))
	for _, b := range s.balance {
		w("| balanced Group, %d keys, %s: until every replica leads its share ± 1 | %s | | |\n", b.keys, b.what, fmtDur(b.took))
		w("| same: keys moved vs the fewest that must move | %d | %d | %s |\n", b.moved, b.minimum, ratio(float64(b.moved), float64(b.minimum)))
	}
	w("| idle: requests/min of 3 candidates on one key, priorities 1, 2, 3 vs all equal | %.1f | %.1f | %s |\n",
		s.idleRanked, s.idleEq, ratio(s.idleRanked, s.idleEq))
	w("\nStrategies read the line of live candidates that followers keep anyway; the one request they add is the leader's blocking query on `<key>/.handoff` (one per FollowerWait, 10s, when nothing happens), which both idle configurations have.\n")
}
