package leader

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// causeBalance is the cause of a handoff that balances a Group.
const causeBalance = "balance"

// balanceTick is how often, on average, a balancing Group looks at its
// share: local arithmetic on what its electors already follow, no Consul
// traffic. It bounds the rate of its handoffs (one at a time, at most
// about ten a second), and with the jitter it makes two replicas rarely
// hand keys to the same one at the same moment.
const balanceTick = 100 * time.Millisecond

// A balancer spreads a Group's leadership over the live replicas of the
// group (the processes whose Groups share its Name): each replica leads at
// most share = ⌈K/M⌉ of the K keys when M replicas are live. A replica
// over its share hands one key at a time to the least-loaded replica below
// it; a freed key goes first to the replicas below their share, in the
// order of a rendezvous hash of the key, so that a dead replica's keys
// spread over the others instead of going to the fastest.
type balancer struct {
	g      *Group
	line   *candidates // the live replicas
	window time.Duration
	// shunned are replicas that did not take a key handed to them (their
	// electors stopping while their check still passes, say), with when
	// they may be targets again: the balancer's own goroutine only.
	shunned map[string]time.Time
}

// view returns the live replicas (this one among them), how many of the
// group's keys each leads (or is being handed), and the share each should
// lead at most (0 when unknown).
func (b *balancer) view() ([]Candidate, map[string]int, int) {
	reps, _, _ := b.line.snapshot()
	if reps == nil {
		return nil, nil, 0
	}
	me := b.line.me
	if !slices.ContainsFunc(reps, func(c Candidate) bool { return c.ServiceID == me.ServiceID }) {
		reps = append(reps, me) // listed soon
	}
	loads := map[string]int{}
	es := b.g.memberElectors()
	for _, e := range es {
		if h, to := e.state.holderOrHandTo(); h != "" {
			loads[h]++
		} else if to != "" {
			loads[to]++
		}
	}
	return reps, loads, (len(es) + len(reps) - 1) / len(reps)
}

// score is the rendezvous hash of a replica for a key: for each key, the
// replicas in descending score are its preferred leaders.
func score(key, replica string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(replica))
	return h.Sum64()
}

// delay is how long this replica waits before it tries key, freed by
// lastHolder and handed to handTo: as candidates.delay, with the line
// ordered by load (below share first) and then by the key's rendezvous
// hash.
func (b *balancer) delay(key, lastHolder, handTo string) time.Duration {
	reps, loads, share := b.view()
	me := b.line.me.ServiceID
	if reps == nil || handTo == me {
		return 0
	}
	line, handedToLive := []string{me}, false
	for _, r := range reps {
		handedToLive = handedToLive || (r.ServiceID == handTo && handTo != lastHolder)
		if r.ServiceID != me && r.ServiceID != lastHolder {
			line = append(line, r.ServiceID)
		}
	}
	full := func(r string) bool { return loads[r] >= share }
	slices.SortFunc(line, func(x, y string) int {
		if fx, fy := full(x), full(y); fx != fy {
			if fy {
				return -1
			}
			return 1
		}
		if sx, sy := score(key, x), score(key, y); sx != sy {
			if sx > sy {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	})
	d := time.Duration(slices.Index(line, me)) * rankStep
	if handedToLive || (full(me) && !full(line[0])) {
		d += preferWait
	}
	return d
}

// why is the reason this replica leads a key it acquired freely.
func (b *balancer) why() string {
	_, loads, share := b.view()
	return fmt.Sprintf("balanced: this replica led %d keys, its share is %d", loads[b.line.me.ServiceID], share)
}

// run balances until ctx ends.
func (b *balancer) run(ctx context.Context) {
	for sleep(ctx, b.g.clock, balanceTick/2+rand.N(balanceTick)) {
		b.step(ctx)
	}
}

// step hands one key over if this replica leads more than its share and a
// replica live for the stability window leads less, and waits until that
// term is over (key released).
func (b *balancer) step(ctx context.Context) {
	reps, loads, share := b.view()
	me := b.line.me.ServiceID
	if share == 0 || loads[me] <= share {
		return
	}
	now := b.g.clock.Now()
	var to Candidate
	for _, r := range reps {
		if r.ServiceID == me || loads[r.ServiceID] >= share || now.Sub(r.Since) < b.window || now.Before(b.shunned[r.ServiceID]) {
			continue
		}
		if to.ServiceID == "" || loads[r.ServiceID] < loads[to.ServiceID] ||
			(loads[r.ServiceID] == loads[to.ServiceID] && r.ServiceID < to.ServiceID) {
			to = r
		}
	}
	if to.ServiceID == "" {
		return
	}
	var move *Term
	var mover *Elector
	var best uint64
	for _, e := range b.g.memberElectors() { // the key the target is most preferred for
		if t := e.Term(); t != nil {
			if s := score(e.cfg.Key, to.ServiceID); move == nil || s > best {
				move, mover, best = t, e, s
			}
		}
	}
	if move == nil || !mover.endGracefully(move, handOff{to: to, cause: causeBalance}) {
		return
	}
	b.g.log.Info("handing a key over to balance the group", "key", move.key, "to", name(to),
		"led", loads[me], "share", share, "target_led", loads[to.ServiceID])
	// One at a time: wait until the term is over (bounded: leader work that
	// outlives its term must not stop the balancing) and the target took
	// the key. A target that does not take it within preferWait (the others
	// then may) is left out for StopTimeout (at least the stability window):
	// its electors are likely stopping while its check still passes.
	if !sleepUntil(ctx, b.g.clock, move.released, b.g.cfg.StopTimeout) {
		return
	}
	taken := func() bool { h, _ := mover.state.holderOrHandTo(); return h == to.ServiceID }
	deadline := b.g.clock.Now().Add(preferWait)
	for !taken() && b.g.clock.Now().Before(deadline) {
		if !sleep(ctx, b.g.clock, 5*time.Millisecond) {
			return
		}
	}
	if !taken() {
		if b.shunned == nil {
			b.shunned = map[string]time.Time{}
		}
		b.shunned[to.ServiceID] = b.g.clock.Now().Add(max(b.window, b.g.cfg.StopTimeout))
		b.g.log.Warn("a replica did not take a key handed to it; leaving it out for a while", "to", name(to), "key", move.key)
	}
}

// sleepUntil waits for ch, at most d; it reports false when ctx ended.
func sleepUntil(ctx context.Context, c clock, ch <-chan struct{}, d time.Duration) bool {
	fired, t := after(c, d)
	defer t.Stop()
	select {
	case <-ch:
	case <-fired:
	case <-ctx.Done():
		return false
	}
	return true
}

// balancer returns the elector's group's balancer, nil for none.
func (e *Elector) balancer() *balancer {
	if e.group == nil {
		return nil
	}
	return e.group.balance()
}
