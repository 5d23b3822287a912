package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// handoff: the leader gives up (ours: Resign, which releases; api.Lock:
// Unlock) and the waiting candidate leads; n alternations.
func benchHandoff(cfg *api.Config, n int) (ourS, theirS sample, err error) {
	client := countedClient(cfg, &counter{})
	a, stopA := ours(client, leader.Config{Key: "bench/handoff", Identity: "a", ResignPause: 20 * time.Millisecond})
	defer stopA()
	b, stopB := ours(client, leader.Config{Key: "bench/handoff", Identity: "b", ResignPause: 20 * time.Millisecond})
	defer stopB()
	if err := waitUntil(10*time.Second, func() bool { return a.IsLeader() || b.IsLeader() }); err != nil {
		return nil, nil, err
	}
	for i := 0; i < n; i++ {
		cur, next := a, b
		if b.IsLeader() {
			cur, next = b, a
		}
		// The other must be back to following (after its ResignPause).
		if err := waitUntil(5*time.Second, func() bool { return next.Status().Leader != nil && next.Status().Role == leader.RoleFollower }); err != nil {
			return nil, nil, err
		}
		t0 := time.Now()
		if err := cur.Resign(context.Background()); err != nil {
			return nil, nil, err
		}
		if err := waitUntil(5*time.Second, next.IsLeader); err != nil {
			return nil, nil, fmt.Errorf("ours handoff %d: %w", i, err)
		}
		ourS = append(ourS, next.Term().Started().Sub(t0))
	}

	holder := lockAsync(client, "bench/handoff-apilock")
	<-holder.held
	for i := 0; i < n; i++ {
		waiter := lockAsync(client, "bench/handoff-apilock")
		time.Sleep(20 * time.Millisecond) // let the waiter park on its blocking query
		t0 := time.Now()
		if err := holder.lock.Unlock(); err != nil {
			return nil, nil, err
		}
		select {
		case at := <-waiter.held:
			theirS = append(theirS, at.Sub(t0))
		case <-time.After(30 * time.Second):
			return nil, nil, fmt.Errorf("api.Lock handoff %d timed out", i)
		}
		holder = waiter
	}
	holder.release()
	return ourS, theirS, nil
}
