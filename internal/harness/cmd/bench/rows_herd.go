package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// herdResult is per-handoff acquire attempts and latency with n waiting
// candidates.
type herdResult struct {
	attempts float64 // mean acquire attempts (raft writes) per handoff
	latency  sample
}

func benchHerdOurs(cfg *api.Config, n, handoffs int) (herdResult, error) {
	var c counter
	client := countedClient(cfg, &c)
	key := fmt.Sprintf("bench/herd/ours-%d", n)
	var es []*leader.Elector
	for i := 0; i <= n; i++ {
		e, stop := ours(client, leader.Config{Key: key, Identity: fmt.Sprintf("c%d", i), ResignPause: 10 * time.Millisecond})
		defer stop()
		es = append(es, e)
	}
	var r herdResult
	var total int64
	for h := 0; h < handoffs; h++ {
		var cur *leader.Elector
		if err := waitUntil(10*time.Second, func() bool {
			waiting := 0
			cur = nil
			for _, e := range es {
				if e.IsLeader() {
					cur = e
				} else if e.Status().Leader != nil {
					waiting++
				}
			}
			return cur != nil && waiting == n
		}); err != nil {
			return r, fmt.Errorf("herd %d: candidates not settled: %w", n, err)
		}
		time.Sleep(20 * time.Millisecond)
		before := c.acquires.Load()
		t0 := time.Now()
		if err := cur.Resign(context.Background()); err != nil {
			return r, err
		}
		var next *leader.Elector
		if err := waitUntil(10*time.Second, func() bool {
			for _, e := range es {
				if e != cur && e.IsLeader() {
					next = e
					return true
				}
			}
			return false
		}); err != nil {
			return r, err
		}
		r.latency = append(r.latency, next.Term().Started().Sub(t0))
		time.Sleep(100 * time.Millisecond) // let the losers' attempts land
		total += c.acquires.Load() - before
	}
	r.attempts = float64(total) / float64(handoffs)
	return r, nil
}

func benchHerdAPILock(cfg *api.Config, n, handoffs int) (herdResult, error) {
	var c counter
	client := countedClient(cfg, &c)
	key := fmt.Sprintf("bench/herd/apilock-%d", n)
	holder := lockAsync(client, key)
	<-holder.held
	waiters := map[*apiLock]bool{}
	for i := 0; i < n; i++ {
		waiters[lockAsync(client, key)] = true
	}
	defer func() { // api.Lock's waiters ignore stop while parked (up to 15s): release in parallel
		var wg sync.WaitGroup
		for w := range waiters {
			wg.Add(1)
			go func(w *apiLock) { defer wg.Done(); w.release() }(w)
		}
		wg.Wait()
	}()
	var r herdResult
	var total int64
	for h := 0; h < handoffs; h++ {
		time.Sleep(50 * time.Millisecond) // waiters parked
		before := c.acquires.Load()
		t0 := time.Now()
		if err := holder.lock.Unlock(); err != nil {
			return r, err
		}
		var next *apiLock
		deadline := time.After(30 * time.Second)
	wait:
		for {
			for w := range waiters {
				select {
				case at := <-w.held:
					r.latency = append(r.latency, at.Sub(t0))
					next = w
					break wait
				default:
				}
			}
			select {
			case <-deadline:
				return r, fmt.Errorf("api.Lock herd %d: no new holder", n)
			case <-time.After(100 * time.Microsecond):
			}
		}
		time.Sleep(100 * time.Millisecond)
		total += c.acquires.Load() - before
		_ = holder.lock.Destroy()
		delete(waiters, next)
		holder = next
		waiters[lockAsync(client, key)] = true // keep n waiting
	}
	holder.release()
	r.attempts = float64(total) / float64(handoffs)
	return r, nil
}
