package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// settings of one demo run.
type settings struct {
	keys   int           // keys of the balanced group
	window time.Duration // StabilityWindow and YieldInterval
}

// waitTimeout bounds every wait of the demo.
const waitTimeout = 30 * time.Second

// shardPrefix is where the balanced group's keys live.
const shardPrefix = "demo/shard/"

// demo narrates a timeline on out and keeps track of what it started.
type demo struct {
	out      io.Writer
	start    time.Time
	tb       testing.TB // consultest.Standalone's
	agent    *consultest.Agent
	observer *api.Client // straight to the agent, for reading the keys

	mu       sync.Mutex
	terms    []*leader.Term // every term of every elector, recorded by its LeaderFunc
	electors []*leader.Elector
	groups   []*leader.Group
	proxies  []*consultest.Proxy
}

// say prints the seconds since the demo started and a sentence.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "  %7.2fs  %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// run plays the demo: a Consul agent, the priority story, the balance
// story, then it stops everything and checks the terms for overlaps.
func run(ctx context.Context, out io.Writer, s settings) (err error) {
	d := &demo{out: out, start: time.Now()}
	fmt.Fprintf(out, "consulelect strategy demo: priority handoffs and a balanced leader.Group on Consul\n\n")
	tb, cleanup := consultest.Standalone()
	d.tb = tb
	defer func() {
		stopErr := d.stopAll()
		cleanup()
		if err != nil {
			return
		}
		if err = stopErr; err == nil {
			d.say("stopped everything the demo started: %d electors, %d groups, %d proxies and the Consul agent",
				len(d.electors), len(d.groups), len(d.proxies))
			err = d.checkOverlap()
		}
	}()
	limits := map[string]any{"limits": map[string]any{"http_max_conns_per_client": 2000}}
	if err := consultest.Catch(func() {
		d.agent = consultest.DevServer(tb, consultest.Options{Extra: limits})
		d.observer = d.agent.Client(tb)
	}); err != nil {
		return err
	}
	d.say("Consul dev agent ready on %s", d.agent.HTTPAddr)
	if err := d.priority(ctx, s); err != nil {
		return err
	}
	return d.balance(ctx, s)
}

// record is every elector's LeaderFunc: it notes the term for the overlap
// check and returns at once (the elector keeps leading).
func (d *demo) record(_ context.Context, t *leader.Term) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.terms = append(d.terms, t)
	return nil
}

// newClient returns a client that reaches the agent through a proxy of
// its own, to cut it off with Freeze.
func (d *demo) newClient() (*api.Client, *consultest.Proxy, error) {
	var p *consultest.Proxy
	if err := consultest.Catch(func() { p = consultest.NewProxy(d.tb, d.agent.HTTPAddr) }); err != nil {
		return nil, nil, err
	}
	cfg := p.Config(d.agent)
	d.tb.Cleanup(cfg.Transport.CloseIdleConnections)
	d.mu.Lock()
	d.proxies = append(d.proxies, p)
	d.mu.Unlock()
	c, err := api.NewClient(cfg)
	return c, p, err
}

// newElector creates and starts an elector that records its terms.
func (d *demo) newElector(client *api.Client, cfg leader.Config, opts ...leader.Option) (*leader.Elector, error) {
	e, err := leader.New(client, cfg, append(opts, leader.WithLeaderFunc(d.record))...)
	if err != nil {
		return nil, err
	}
	if err := e.Start(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.electors = append(d.electors, e)
	d.mu.Unlock()
	return e, nil
}

// waitFor polls cond until it holds, at most waitTimeout; state describes
// what cond saw last, for the error.
func (d *demo) waitFor(ctx context.Context, what string, cond func() (ok bool, state string)) error {
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, state := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s (last seen: %s)", waitTimeout, what, state)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stopAll stops every elector (at once, so that no one picks up the keys
// the others release), then every group, each Stop within 20s.
func (d *demo) stopAll() error {
	d.mu.Lock()
	electors, groups, proxies := d.electors, d.groups, d.proxies
	d.mu.Unlock()
	for _, p := range proxies {
		p.Unfreeze() // a cut-off elector could not release its key
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make([]error, len(electors))
	var wg sync.WaitGroup
	for i, e := range electors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Stop(ctx); err != nil && !errors.Is(err, leader.ErrNotRunning) {
				errs[i] = fmt.Errorf("stopping %s on %s: %w", e.Config().Identity, e.Config().Key, err)
			}
		}()
	}
	wg.Wait()
	for _, g := range groups {
		if err := g.Stop(ctx); err != nil && !errors.Is(err, leader.ErrNotRunning) {
			errs = append(errs, fmt.Errorf("stopping a group: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkOverlap checks that on every key each term began after the one
// before it ended, and says so.
func (d *demo) checkOverlap() error {
	d.mu.Lock()
	byKey := map[string][]*leader.Term{}
	for _, t := range d.terms {
		byKey[t.Key()] = append(byKey[t.Key()], t)
	}
	n := len(d.terms)
	d.mu.Unlock()
	closest := time.Duration(-1)
	for key, ts := range byKey {
		slices.SortFunc(ts, func(a, b *leader.Term) int { return a.Started().Compare(b.Started()) })
		for i := 1; i < len(ts); i++ {
			prev, cur := ts[i-1], ts[i]
			if prev.Ended().IsZero() || !cur.Started().After(prev.Ended()) {
				return fmt.Errorf("%s had two leaders at once: a term (token %d) started %v, before the previous one (token %d) ended (%v)",
					key, cur.Token(), cur.Started().Format(time.StampMicro), prev.Token(), prev.Ended().Format(time.StampMicro))
			}
			if gap := cur.Started().Sub(prev.Ended()); closest < 0 || gap < closest {
				closest = gap
			}
		}
	}
	d.say("no key had two leaders at once: %d terms on %d keys, each began after the one before it ended (closest %s)",
		n, len(byKey), ms(closest))
	return nil
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// nKeys is "1 key" or "n keys".
func nKeys(n int) string {
	if n == 1 {
		return "1 key"
	}
	return fmt.Sprintf("%d keys", n)
}

// secs is the time since t in seconds.
func secs(t time.Time) float64 { return time.Since(t).Seconds() }

// counts reads how many of the group's keys each replica leads, from
// Consul (a consistent read), and how many are held at all.
func (d *demo) counts(ctx context.Context) (map[string]int, int, error) {
	q := (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx)
	pairs, _, err := d.observer.KV().List(shardPrefix, q)
	if err != nil {
		return nil, 0, err
	}
	by, held := map[string]int{}, 0
	for _, p := range pairs {
		var h leader.Holder
		if p.Session == "" || json.Unmarshal(p.Value, &h) != nil {
			continue
		}
		by[h.ID]++
		held++
	}
	return by, held, nil
}

// names are the replicas' names.
func names(reps []*replica) []string {
	ns := make([]string, len(reps))
	for i, r := range reps {
		ns[i] = r.name
	}
	return ns
}

// describe lists the counts of the replicas, and of any other holder.
func describe(by map[string]int, reps []*replica) string {
	ns := names(reps)
	parts := make([]string, 0, len(by))
	for _, n := range ns {
		parts = append(parts, fmt.Sprintf("%s %d", n, by[n]))
	}
	for id, c := range by {
		if !slices.Contains(ns, id) {
			parts = append(parts, fmt.Sprintf("%s %d (not live)", id, c))
		}
	}
	return strings.Join(parts, ", ")
}

// waitLead waits until e leads and returns its term.
func (d *demo) waitLead(ctx context.Context, e *leader.Elector) (*leader.Term, error) {
	var t *leader.Term
	err := d.waitFor(ctx, e.Config().Identity+" to lead", func() (bool, string) {
		t = e.Term()
		st := e.Status()
		if st.Leader == nil {
			return t != nil, "no leader known"
		}
		return t != nil, st.Leader.ID + " leads"
	})
	return t, err
}

// why is the reason the elector's leader gives in the key's value.
func why(e *leader.Elector) string {
	if h := e.Status().Leader; h != nil {
		return h.Why
	}
	return "(unknown)"
}
