package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/consulelect/consulelect/leader"
)

// startReplica starts replica-n: its group, then an elector per key.
func (d *demo) startReplica(n int, s settings) (*replica, error) {
	client, p, err := d.newClient()
	if err != nil {
		return nil, err
	}
	r := &replica{name: fmt.Sprintf("replica-%d", n), proxy: p}
	g, err := leader.NewGroup(client, leader.GroupConfig{Balance: true, Name: "demo-shards", Identity: r.name, StabilityWindow: s.window})
	if err != nil {
		return nil, err
	}
	if err := g.Start(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.groups = append(d.groups, g)
	d.mu.Unlock()
	for k := 0; k < s.keys; k++ {
		if _, err := d.newElector(client, leader.Config{Key: fmt.Sprintf("%s%02d", shardPrefix, k), Identity: r.name}, leader.WithGroup(g)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// waitBalanced waits until the live replicas lead every key, each at most
// its share ⌈K/M⌉ (so, when M divides K, exactly K/M), and returns the
// counts and that share.
func (d *demo) waitBalanced(ctx context.Context, s settings, live []*replica) (map[string]int, int, error) {
	ns := names(live)
	share := (s.keys + len(live) - 1) / len(live)
	var by map[string]int
	err := d.waitFor(ctx, fmt.Sprintf("%s to lead at most %d keys each", strings.Join(ns, ", "), share), func() (bool, string) {
		var held int
		var err error
		if by, held, err = d.counts(ctx); err != nil {
			return false, err.Error()
		}
		ok := held == s.keys
		for _, n := range ns {
			ok = ok && by[n] <= share
			held -= by[n]
		}
		return ok && held == 0, describe(by, live)
	})
	return by, share, err
}

// countTerms counts the recorded terms that match.
func (d *demo) countTerms(match func(t *leader.Term) bool) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, t := range d.terms {
		if match(t) {
			n++
		}
	}
	return n
}

// handedOff counts the terms that ended between from and to because they
// were handed to another replica.
func (d *demo) handedOff(from, to time.Time) int {
	return d.countTerms(func(t *leader.Term) bool {
		end := t.Ended()
		return !end.IsZero() && !end.Before(from) && !end.After(to) && errors.Is(context.Cause(t.Context()), leader.ErrHandedOff)
	})
}

// balance tells the second story: three replicas share the keys, a
// fourth joins, one is cut off.
func (d *demo) balance(ctx context.Context, s settings) error {
	d.say("2. balance: %d keys under %s, a leader.Group with Balance on each replica (StabilityWindow %v)", s.keys, shardPrefix, s.window)
	at := time.Now()
	var reps []*replica
	for n := 1; n <= 3; n++ {
		r, err := d.startReplica(n, s)
		if err != nil {
			return err
		}
		reps = append(reps, r)
	}
	before, share, err := d.waitBalanced(ctx, s, reps)
	if err != nil {
		return err
	}
	d.say("3 replicas started: each leads at most ⌈%d/3⌉ = %d keys %.2fs later (%s; %s moved by handoff)",
		s.keys, share, secs(at), describe(before, reps), nKeys(d.handedOff(at, time.Now())))

	at = time.Now()
	d.say("replica-4 joins")
	r, err := d.startReplica(4, s)
	if err != nil {
		return err
	}
	reps = append(reps, r)
	by, share, err := d.waitBalanced(ctx, s, reps)
	if err != nil {
		return err
	}
	took, end, fewest := secs(at), time.Now(), 0
	for id, c := range before {
		fewest += max(0, c-by[id])
	}
	d.say("each of the 4 leads at most ⌈%d/4⌉ = %d keys %.2fs after replica-4 joined (%s); %s moved by handoff (the fewest possible: %d)",
		s.keys, share, took, describe(by, reps), nKeys(d.handedOff(at, end)), fewest)

	reps[1].proxy.Freeze()
	at = time.Now()
	d.say("cut off replica-2 (its proxy stalls all traffic, like a crash)")
	live := []*replica{reps[0], reps[2], reps[3]}
	if by, share, err = d.waitBalanced(ctx, s, live); err != nil {
		return err
	}
	d.say("the other 3 lead at most ⌈%d/3⌉ = %d keys each %.2fs after the cut-off (%s; %s moved by handoff, the rest were freed by the crash)",
		s.keys, share, secs(at), describe(by, live), nKeys(d.handedOff(at, time.Now())))
	return nil
}
