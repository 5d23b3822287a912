package main

import (
	"fmt"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// partitionTrial is one freeze of the holder's client agent: when the old
// holder stopped acting as leader and when a new one started, both from
// the freeze. oldStop < 0 means the old holder was never told while frozen.
type partitionTrial struct{ oldStop, newStart time.Duration }

func (p partitionTrial) overlap() time.Duration {
	if p.oldStop < 0 {
		return -1
	}
	return p.oldStop - p.newStart
}

// benchPartition freezes (SIGSTOP) the holder's client agent while a
// candidate on the server waits; then thaws it.
func benchPartitionOurs(tb consultestTB, srv, agent *consultest.Agent, n int) ([]partitionTrial, error) {
	var out []partitionTrial
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("bench/partition/ours-%d", i)
		holder, stop1 := ours(countedClient(agent.Config(), &counter{}), leader.Config{Key: key, Identity: "frozen"})
		if err := waitUntil(10*time.Second, holder.IsLeader); err != nil {
			stop1()
			return nil, err
		}
		other, stop2 := ours(countedClient(srv.Config(), &counter{}), leader.Config{Key: key, Identity: "other"})
		_ = waitUntil(5*time.Second, func() bool { return other.Status().Leader != nil })
		term := holder.Term()
		t0 := time.Now()
		agent.Pause(tb)
		err := waitUntil(60*time.Second, other.IsLeader)
		var tr partitionTrial
		if err == nil {
			<-term.Done()
			tr = partitionTrial{oldStop: term.Ended().Sub(t0), newStart: other.Term().Started().Sub(t0)}
		}
		agent.Resume(tb)
		agent.WaitReady(tb)
		stop2()
		stop1()
		if err != nil {
			return nil, fmt.Errorf("ours partition %d: %w", i, err)
		}
		out = append(out, tr)
	}
	return out, nil
}

func benchPartitionAPILock(tb consultestTB, srv, agent *consultest.Agent, n int) ([]partitionTrial, error) {
	var out []partitionTrial
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("bench/partition/apilock-%d", i)
		holder := lockAsync(countedClient(agent.Config(), &counter{}), key)
		if err := holder.waitHeld(time.Minute); err != nil {
			holder.release()
			return nil, err
		}
		waiter := lockAsync(countedClient(srv.Config(), &counter{}), key)
		time.Sleep(50 * time.Millisecond)
		t0 := time.Now()
		agent.Pause(tb)
		var tr partitionTrial
		select {
		case at := <-waiter.held:
			tr.newStart = at.Sub(t0)
		case <-time.After(3 * time.Minute):
			agent.Resume(tb)
			return nil, fmt.Errorf("api.Lock partition %d: no new holder within 3m", i)
		}
		tr.oldStop = -1
		select { // a grace of 2s after the new holder: is the old one told?
		case <-holder.lost:
			tr.oldStop = time.Since(t0)
		case <-time.After(2 * time.Second):
		}
		agent.Resume(tb)
		agent.WaitReady(tb) // its serfHealth passes again before the next trial
		holder.release()
		waiter.release()
		out = append(out, tr)
	}
	return out, nil
}
