package main

import (
	"context"
	"fmt"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// priority tells the first story: candidates of priority 1, 2 and 3
// start in that order; each takes over from the one before; the best is
// cut off and comes back.
func (d *demo) priority(ctx context.Context, s settings) error {
	const key = "demo/priority"
	d.say("1. priority on %s: a leader yields to a live candidate of higher priority once that one has been live "+
		"for StabilityWindow (%v) and the term has lasted YieldInterval (%v)", key, s.window, s.window)
	es := make([]*leader.Elector, 3)
	proxies := make([]*consultest.Proxy, 3)
	var prev *leader.Term
	for i := range es {
		client, p, err := d.newClient()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("prio-%d", i+1)
		at := time.Now()
		es[i], err = d.newElector(client, leader.Config{Key: key, Identity: name, Priority: i + 1,
			StabilityWindow: s.window, YieldInterval: s.window})
		if err != nil {
			return err
		}
		proxies[i] = p
		t, err := d.waitLead(ctx, es[i])
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s (priority %d) leads %.2fs after it started, why: %q", name, i+1, secs(at), why(es[i]))
		if prev != nil {
			line += fmt.Sprintf("; handoff gap %s", ms(t.Started().Sub(prev.Ended())))
		}
		d.say("%s", line)
		prev = t
	}

	proxies[2].Freeze()
	at := time.Now()
	d.say("cut off prio-3 (its proxy stalls all traffic, like a crash): its check lapses (CheckTTL %v), Consul "+
		"invalidates its session and holds the key for the lock-delay (%v)", leader.DefaultCheckTTL, leader.DefaultLockDelay)
	t, err := d.waitLead(ctx, es[1])
	if err != nil {
		return err
	}
	line := fmt.Sprintf("prio-2 leads: crash failover %.2fs after the cut-off (prio-3 stopped leading on its own after %.2fs, "+
		"its DemoteAfter %v); why: %q", t.Started().Sub(at).Seconds(), prev.Ended().Sub(at).Seconds(), leader.DefaultDemoteAfter, why(es[1]))
	if n := d.countTerms(func(o *leader.Term) bool {
		return o.Key() == key && o.Started().After(at) && o.Started().Before(t.Started())
	}); n > 0 {
		line += fmt.Sprintf("; %d other term(s) came first", n)
	}
	d.say("%s", line)

	proxies[2].Unfreeze()
	at = time.Now()
	d.say("prio-3 is reachable again: it campaigns with a new session and must be live for %v before prio-2 yields", s.window)
	t3, err := d.waitLead(ctx, es[2])
	if err != nil {
		return err
	}
	d.say("prio-3 leads again %.2fs after it came back, handoff gap %s, why: %q", secs(at), ms(t3.Started().Sub(t.Ended())), why(es[2]))

	stopCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, e := range es {
		if err := e.Stop(stopCtx); err != nil {
			return fmt.Errorf("stopping %s: %w", e.Config().Identity, err)
		}
	}
	d.say("stopped the three priority candidates")
	return nil
}

// replica is one member of the balanced group: K electors sharing a Group
// and a client behind a proxy.
type replica struct {
	name  string
	proxy *consultest.Proxy
}
