package leader

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// rankStep is how long the k-th candidate in line waits, times k, before
// it tries to acquire a freed key: long enough for the first in line to
// acquire (a few milliseconds on a LAN) so that the others, woken by that
// acquire, do not try at all. This keeps a handoff to about one raft write
// however many candidates wait.
const rankStep = 5 * time.Millisecond

// candidates follows, with a blocking query on the health catalog, the
// electors campaigning for our key whose checks pass (each elector's
// service carries its key in metadata), so that a follower knows its place
// in line when the key is freed. Its goroutine is started and stopped by
// run.
type candidates struct {
	e      *Elector
	mu     sync.Mutex
	ids    []string // service IDs, sorted
	cancel context.CancelFunc
	done   chan struct{}
}

func (e *Elector) startCandidates(ctx context.Context) *candidates {
	ctx, cancel := context.WithCancel(ctx)
	c := &candidates{e: e, cancel: cancel, done: make(chan struct{})}
	go c.loop(ctx)
	return c
}

func (c *candidates) stop() {
	c.cancel()
	<-c.done
}

func (c *candidates) loop(ctx context.Context) {
	defer close(c.done)
	e := c.e
	filter := fmt.Sprintf("Service.Meta.consulelect_key == %q", e.cfg.Key)
	var index uint64
	for ctx.Err() == nil {
		wait := e.cfg.FollowerWait
		rctx, cancel := context.WithTimeout(ctx, wait+wait/16+e.cfg.RequestTimeout)
		q := &api.QueryOptions{Datacenter: e.cfg.Datacenter, WaitIndex: index, WaitTime: wait, Filter: filter}
		entries, meta, err := e.client.Health().Service(e.cfg.ServiceName, "", true, q.WithContext(rctx))
		cancel()
		if err != nil {
			// Ranking is an optimisation: without it everyone tries at once.
			c.set(nil)
			if !sleep(ctx, e.clock, e.cfg.RequestTimeout) {
				return
			}
			index = 0
			continue
		}
		ids := make([]string, 0, len(entries))
		for _, en := range entries {
			ids = append(ids, en.Service.ID)
		}
		slices.Sort(ids)
		c.set(ids)
		if meta.LastIndex < index {
			index = 0
		} else {
			index = max(meta.LastIndex, 1)
		}
	}
}

func (c *candidates) set(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = ids
}

// delay is how long this elector waits before trying a freed key: its
// rank among the live candidates other than the last holder, times
// rankStep (0 when it is first, or when the line is unknown).
func (c *candidates) delay(self, lastHolder string) time.Duration {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rank := 0
	for _, id := range c.ids {
		switch id {
		case self:
			return time.Duration(rank) * rankStep
		case lastHolder:
		default:
			rank++
		}
	}
	return 0 // not listed (yet): do not hold back
}
