package main

import (
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// idleRates are requests per minute of one candidate.
type idleRates struct{ leaderLocal, leaderServer, followerLocal, followerServer float64 }

// benchIdle runs a leader and a follower of each implementation, on
// separate keys of the same agent, for window, and counts their requests.
func benchIdle(cfg *api.Config, window time.Duration) (o, t idleRates, err error) {
	var ol, of, tl, tf counter
	l, stopL := ours(countedClient(cfg, &ol), leader.Config{Key: "bench/idle/ours", Identity: "leader"})
	defer stopL()
	if err := waitUntil(10*time.Second, l.IsLeader); err != nil {
		return o, t, err
	}
	f, stopF := ours(countedClient(cfg, &of), leader.Config{Key: "bench/idle/ours", Identity: "follower"})
	defer stopF()
	if err := waitUntil(10*time.Second, func() bool { return f.Status().Leader != nil }); err != nil {
		return o, t, err
	}
	holder := lockAsync(countedClient(cfg, &tl), "bench/idle/apilock")
	<-holder.held
	defer holder.release()
	waiter := lockAsync(countedClient(cfg, &tf), "bench/idle/apilock")
	defer waiter.release()
	time.Sleep(time.Second) // past start-up requests
	snap := func(c *counter) [2]int64 { return [2]int64{c.local.Load(), c.server.Load()} }
	b := [4][2]int64{snap(&ol), snap(&of), snap(&tl), snap(&tf)}
	time.Sleep(window)
	perMin := func(c *counter, before [2]int64) (float64, float64) {
		m := window.Minutes()
		return float64(c.local.Load()-before[0]) / m, float64(c.server.Load()-before[1]) / m
	}
	o.leaderLocal, o.leaderServer = perMin(&ol, b[0])
	o.followerLocal, o.followerServer = perMin(&of, b[1])
	t.leaderLocal, t.leaderServer = perMin(&tl, b[2])
	t.followerLocal, t.followerServer = perMin(&tf, b[3])
	return o, t, nil
}
