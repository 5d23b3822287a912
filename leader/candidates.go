package leader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/core/hold"
)

// rankStep is how long the k-th candidate in line waits, times k, before
// it tries to acquire a freed key: long enough for the first in line to
// acquire (a few milliseconds on a LAN) so that the others, woken by that
// acquire, do not try at all. This keeps a handoff to about one raft write
// however many candidates wait.
const rankStep = 5 * time.Millisecond

// lineWait is the wait of a following elector's blocking query on the
// line (FollowerWait if longer). A stale line (its query hung on a server
// cut off, until this wait, a 16th and RequestTimeout are over) changes
// only the order in which followers try a freed key (rankStep apart, or
// preferWait), never whether they see it freed: that is the key's own
// query, which waits FollowerWait. A leader, which yields to better
// candidates by its line, waits FollowerWait (setLeading).
const lineWait = 2 * time.Minute

// candidates follows, with a blocking query on the health catalog, the
// electors campaigning for our key whose checks pass (each elector's
// service carries its key, identity, priority and version in metadata), so
// that a follower knows its place in line when the key is freed and a
// leader sees better-ranked candidates; a balancing Group follows its
// replicas with one. Its goroutine is started and stopped by run (or by
// the Group).
type candidates struct {
	client  *api.Client
	cfg     Config // Datacenter, ServiceName, FollowerWait, RequestTimeout
	filter  string // which services of ServiceName are candidates
	clock   clock
	me      Candidate // this elector (or Group replica)
	rank    strategy
	mu      sync.Mutex
	list    []Candidate // sorted by service ID; nil when unknown
	err     error       // why the list is unknown
	changed chan struct{}
	loaded  chan struct{}      // closed at the first answer (or error)
	leading bool               // waits FollowerWait, not lineWait
	rewait  context.CancelFunc // ends the query in flight (to wait less when leading)
	cancel  context.CancelFunc
	done    chan struct{}
}

func (e *Elector) startCandidates(ctx context.Context) *candidates {
	return startLine(ctx, e.client, e.cfg, fmt.Sprintf("Service.Meta.consulelect_key == %q", e.cfg.Key),
		e.self(), strategy{e.cfg.PreferVersion}, e.clock, false)
}

// startLine starts following the live services of cfg.ServiceName that
// match filter; stop ends it.
// A leading line waits FollowerWait; a following one lineWait.
func startLine(ctx context.Context, client *api.Client, cfg Config, filter string, me Candidate, rank strategy, c clock, leading bool) *candidates {
	ctx, cancel := context.WithCancel(ctx)
	l := &candidates{client: client, cfg: cfg, filter: filter, clock: c, me: me, rank: rank, cancel: cancel, leading: leading,
		changed: make(chan struct{}), loaded: make(chan struct{}), done: make(chan struct{})}
	go l.loop(ctx)
	return l
}

// setLeading makes the line wait FollowerWait (leading) or lineWait; a
// query in flight that waits longer than a leader may is asked again.
func (c *candidates) setLeading(leading bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leading == leading {
		return
	}
	c.leading = leading
	if leading && c.rewait != nil && lineWait > c.cfg.FollowerWait {
		c.rewait()
	}
}

func (c *candidates) stop() {
	c.cancel()
	<-c.done
}

func (c *candidates) loop(ctx context.Context) {
	defer close(c.done)
	var index uint64
	for ctx.Err() == nil {
		c.mu.Lock()
		wait := c.cfg.FollowerWait
		if !c.leading {
			wait = max(wait, lineWait)
		}
		qctx, rewait := context.WithCancel(ctx)
		c.rewait = rewait
		c.mu.Unlock()
		rctx, cancel := context.WithTimeout(qctx, wait+wait/16+c.cfg.RequestTimeout)
		q := &api.QueryOptions{Datacenter: c.cfg.Datacenter, WaitIndex: index, WaitTime: wait, Filter: c.filter}
		entries, meta, err := c.client.Health().Service(c.cfg.ServiceName, "", true, q.WithContext(rctx))
		cancel()
		c.mu.Lock()
		rewaited := qctx.Err() != nil && ctx.Err() == nil // setLeading ended it
		c.rewait = nil
		c.mu.Unlock()
		rewait()
		if err != nil && rewaited {
			continue // ask again, waiting less
		}
		if err != nil {
			// Without the line everyone tries at once: first come leads.
			if ctx.Err() == nil {
				c.set(nil, fmt.Errorf("reading the live candidates (first come leads meanwhile): %w", err))
			}
			if !sleep(ctx, c.clock, c.cfg.RequestTimeout) {
				return
			}
			index = 0
			continue
		}
		if meta.ResultsFilteredByACLs {
			// Some candidates are hidden from us: a partial line would
			// rank wrongly, so use none.
			c.set(nil, errors.New("reading the live candidates: results filtered by ACLs; the token needs node:read and service:read (first come leads meanwhile)"))
			if !sleep(ctx, c.clock, c.cfg.PermanentErrorRetry) {
				return
			}
			index = 0
			continue
		}
		list := make([]Candidate, 0, len(entries))
		for _, en := range entries {
			m := en.Service.Meta
			p, _ := strconv.Atoi(m[metaPriority])
			cand := Candidate{ServiceID: en.Service.ID, Identity: m["consulelect_identity"], Priority: p, Version: m[metaVersion]}
			if ms, err := strconv.ParseInt(m[metaStarted], 10, 64); err == nil && ms > 0 {
				cand.Since = time.UnixMilli(ms)
			}
			list = append(list, cand)
		}
		slices.SortFunc(list, func(a, b Candidate) int { return strings.Compare(a.ServiceID, b.ServiceID) })
		c.set(list, nil)
		index = hold.NextIndex(meta.LastIndex, index)
	}
}

// set records the list, keeping when each candidate was first seen.
func (c *candidates) set(list []Candidate, err error) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	history := c.list != nil // a list before this one, to tell who (re)appeared
	for i := range list {
		reported := list[i].Since
		list[i].Since = now
		found := false
		for _, old := range c.list {
			if old.ServiceID == list[i].ServiceID {
				list[i].Since, found = old.Since, true
			}
		}
		// On a first list, how long each candidate has been live is what
		// it reports; later, one that (re)appears is live from now (a
		// candidate back from a partition counts as new, as before).
		if !found && !history && !reported.IsZero() && reported.Before(now) {
			list[i].Since = reported
		}
	}
	c.list, c.err = list, err
	select {
	case <-c.loaded:
	default:
		close(c.loaded)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// snapshot returns the list (nil when unknown), why it is unknown, and a
// channel closed at the next change.
func (c *candidates) snapshot() ([]Candidate, error, <-chan struct{}) {
	if c == nil {
		return nil, nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list), c.err, c.changed
}

// awaitFirst waits, at most d, for the line's first answer: until then a
// freed key would go to whoever tries first, whatever their ranks.
func (c *candidates) awaitFirst(ctx context.Context, clk clock, d time.Duration) {
	if c == nil {
		return
	}
	fired, t := hold.After(clk, d)
	defer t.Stop()
	select {
	case <-c.loaded:
	case <-fired:
	case <-ctx.Done():
	}
}

// self is this elector as a candidate (listed or not yet).
func (e *Elector) self() Candidate {
	return Candidate{Identity: e.cfg.Identity, ServiceID: e.serviceID, Priority: e.cfg.Priority, Version: e.cfg.Version}
}

// delay is how long this elector waits before it tries a freed key that
// lastHolder held and handed to handTo ("" for none): 0 for the one the
// key was handed to; else its place in line among the live candidates
// other than lastHolder times rankStep, plus preferWait when the key was
// handed to another live candidate or one ahead of it in line ranks
// better. 0 when the line is unknown.
//
// The line puts the candidates live for StabilityWindow (as this elector
// has seen them) before the younger ones, each part best-ranked first,
// then by service ID: a better-ranked replica that has just (re)started
// does not take a freed key from a settled one, so a preferred replica
// that crash-loops cannot pull every freed key to itself (it takes the
// key, as before, by a graceful handoff once it has been live for the
// window, and a term lasts YieldInterval at least). When every candidate
// is young (a fresh start), ranks alone decide, as before.
func (c *candidates) delay(lastHolder, handTo string) time.Duration {
	if c == nil {
		return 0
	}
	self := c.me
	list, _, _ := c.snapshot()
	if list == nil {
		return 0
	}
	line := []Candidate{self}
	handedToLive := false
	for _, o := range list {
		handedToLive = handedToLive || (o.ServiceID == handTo && handTo != lastHolder)
		switch {
		case o.ServiceID == self.ServiceID:
			line[0].Since = o.Since // when the others may have seen us start, about
		case o.ServiceID != lastHolder && o.Priority >= 0:
			line = append(line, o)
		}
	}
	if handTo == self.ServiceID {
		return 0
	}
	c.orderSettledFirst(line, c.clock.Now())
	pos := slices.IndexFunc(line, func(o Candidate) bool { return o.ServiceID == self.ServiceID })
	d := time.Duration(pos) * rankStep
	if handedToLive || (pos > 0 && c.rank.compare(line[0], self) < 0) {
		d += preferWait
	}
	return d
}

// orderSettledFirst sorts a freed key's line: the candidates live for
// StabilityWindow at now first (a zero Since counts as settled), then the
// younger ones, each part in order.
func (c *candidates) orderSettledFirst(line []Candidate, now time.Time) {
	young := func(o Candidate) bool { return !o.Since.IsZero() && now.Sub(o.Since) < c.cfg.StabilityWindow }
	slices.SortFunc(line, func(a, b Candidate) int {
		if ya, yb := young(a), young(b); ya != yb {
			if ya {
				return 1
			}
			return -1
		}
		if r := c.rank.compare(a, b); r != 0 {
			return r
		}
		return strings.Compare(a.ServiceID, b.ServiceID)
	})
}

// order sorts candidates into the line: best-ranked first, then by
// service ID.
func (c *candidates) order(line []Candidate) {
	slices.SortFunc(line, func(a, b Candidate) int {
		if r := c.rank.compare(a, b); r != 0 {
			return r
		}
		return strings.Compare(a.ServiceID, b.ServiceID)
	})
}

// better returns the best-ranked live candidate that ranks above self and
// has been live for window at now (ok false if none), and the moment a
// better one not yet live that long will have been (zero if none).
func (c *candidates) better(now time.Time, window time.Duration) (best Candidate, ok bool, next time.Time) {
	self := c.me
	list, _, _ := c.snapshot()
	for _, o := range list {
		if o.ServiceID == self.ServiceID || o.Priority < 0 || c.rank.compare(o, self) >= 0 {
			continue
		}
		if ready := o.Since.Add(window); ready.After(now) {
			if next.IsZero() || ready.Before(next) {
				next = ready
			}
			continue
		}
		if !ok || c.rank.compare(o, best) < 0 {
			best, ok = o, true
		}
	}
	return best, ok, next
}

// find returns the live candidate named by id: its Identity or ServiceID.
func (c *candidates) find(id string) (Candidate, bool) {
	list, _, _ := c.snapshot()
	for _, o := range list {
		if o.ServiceID == id || o.Identity == id {
			return o, true
		}
	}
	return Candidate{}, false
}

// why is the reason this elector leads, for the key's value, when it
// acquires the key that lastHolder released.
func (c *candidates) why(lastHolder string) string {
	if c == nil {
		return "first to acquire"
	}
	self := c.me
	list, _, _ := c.snapshot()
	others := slices.DeleteFunc(list, func(o Candidate) bool {
		return o.ServiceID == self.ServiceID || o.ServiceID == lastHolder
	})
	return c.rank.why(self, others)
}
