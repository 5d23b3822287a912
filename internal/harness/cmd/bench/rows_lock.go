package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/lock"
)

// The mutex rows: consulelect's lock.Mutex (one lock.Session per
// contender, reused for every cycle) against Consul's api.Lock with its
// defaults (a session created by each Lock and destroyed after its Unlock).
// Their keys are not prefixes of one another: a Mutex reads its key as a
// prefix (the key and its queue), so a key that extended another would
// wake the other's waiters for nothing.
const (
	mutexCycleOurs      = "bench/mutex/cycle-ours"
	mutexCycleAPILock   = "bench/mutex/cycle-apilock"
	mutexHandoffOurs    = "bench/mutex/handoff-ours"
	mutexHandoffAPILock = "bench/mutex/handoff-apilock"
	mutexContendOurs    = "bench/mutex/contended-ours"
	mutexContendAPILock = "bench/mutex/contended-apilock"
)

// etcd's figures for concurrency.Mutex, quoted from the issue that asked
// for the mutex (10 goroutines on the same machine), not measured here.
const (
	etcdContendedPerSec = 99.0
	etcdHandoffP50      = 2320 * time.Microsecond
)

// mutexContenders is how many processes contend in the contended rows.
const mutexContenders = 10

// cycleResult is the uncontended lock cycle of one implementation.
type cycleResult struct {
	latency     sample  // Lock + Unlock, per cycle
	lockLatency sample  // Lock alone, per cycle
	raftWrites  float64 // raft log entries per cycle (the server's commit index)
	writeReqs   float64 // write requests per cycle sent by the client
}

// contendedResult is the contended loop of one implementation, summed
// over its contender processes.
type contendedResult struct {
	window     time.Duration
	cycles     int
	acquires   int    // acquire attempts on the key
	requests   int    // requests to the servers
	raftWrites int    // raft log entries during the window
	waits      sample // Lock call to held, every cycle of every contender
	handoffs   sample // a holder's Unlock call to the next holder's Lock returning
	overlaps   int    // holds that began before the previous holder's Unlock call
}

// perCycle is n over the cycles.
func (c contendedResult) perCycle(n int) float64 {
	if c.cycles == 0 {
		return 0
	}
	return float64(n) / float64(c.cycles)
}

// perSec is the cycles per second of all contenders together.
func (c contendedResult) perSec() float64 {
	if c.window <= 0 {
		return 0
	}
	return float64(c.cycles) / c.window.Seconds()
}

// fairness is the longest wait over the mean wait.
func (c contendedResult) fairness() float64 {
	if len(c.waits) == 0 {
		return 0
	}
	var sum time.Duration
	for _, w := range c.waits {
		sum += w
	}
	mean := sum / time.Duration(len(c.waits))
	if mean <= 0 {
		return 0
	}
	return float64(c.waits.Max()) / float64(mean)
}

// attemptsPerHandoff is acquire attempts per cycle.
func (c contendedResult) attemptsPerHandoff() float64 { return c.perCycle(c.acquires) }

// mutexReport holds the mutex rows.
type mutexReport struct {
	ran                        bool
	cycleOurs, cycleTheirs     cycleResult
	handoffOurs, handoffTheirs sample
	contOurs, contTheirs       contendedResult
}

// lockCounter counts a client's write requests to the servers (PUT,
// POST and DELETE outside /v1/agent/, which the local agent answers
// itself), all its requests to the servers, and its acquire attempts on one key: a transaction (the only
// transaction a consulelect Mutex sends is its acquire) or a PUT
// ?acquire on the key itself (api.Lock; a consulelect queue entry is a
// PUT ?acquire on a key under it, and is not an attempt).
type lockCounter struct {
	key                      string
	server, writes, acquires atomic.Int64
}

// RoundTrip counts r and sends it.
func (c *lockCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/v1/agent/") {
		c.server.Add(1)
		if r.Method != http.MethodGet {
			c.writes.Add(1)
		}
	}
	if r.URL.Path == "/v1/txn" || (r.Method == http.MethodPut && r.URL.Path == "/v1/kv/"+c.key && r.URL.Query().Has("acquire")) {
		c.acquires.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// lockClient returns a client for cfg whose requests c counts.
func lockClient(cfg *api.Config, c *lockCounter) (*api.Client, error) {
	cc := *cfg
	cc.HttpClient = &http.Client{Transport: c}
	return api.NewClient(&cc)
}

// raftIndex reads the server's raft commit index (/v1/agent/self,
// Stats.raft.commit_index): every raft write moves it by one.
func raftIndex(client *api.Client) (uint64, error) {
	self, err := client.Agent().Self()
	if err != nil {
		return 0, err
	}
	raft, _ := self["Stats"]["raft"].(map[string]any)
	s, _ := raft["commit_index"].(string)
	if s == "" {
		return 0, fmt.Errorf("no raft commit_index in /v1/agent/self (not a server?)")
	}
	return strconv.ParseUint(s, 10, 64)
}

// benchMutex runs the three mutex rows.
func benchMutex(cfg *api.Config, cycles, handoffs int, window time.Duration) (mutexReport, error) {
	r := mutexReport{ran: true}
	server, err := api.NewClient(cfg)
	if err != nil {
		return r, err
	}
	if r.cycleOurs, err = benchCycleOurs(cfg, server, cycles); err != nil {
		return r, fmt.Errorf("uncontended cycle (ours): %w", err)
	}
	if r.cycleTheirs, err = benchCycleAPILock(cfg, server, cycles); err != nil {
		return r, fmt.Errorf("uncontended cycle (api.Lock): %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: lock: uncontended cycle: write requests per cycle %.2f (ours), %.2f (api.Lock); raft writes %.2f, %.2f\n",
		r.cycleOurs.writeReqs, r.cycleTheirs.writeReqs, r.cycleOurs.raftWrites, r.cycleTheirs.raftWrites)
	if r.handoffOurs, err = benchMutexHandoffOurs(cfg, handoffs); err != nil {
		return r, fmt.Errorf("handoff (ours): %w", err)
	}
	if r.handoffTheirs, err = benchMutexHandoffAPILock(cfg, handoffs); err != nil {
		return r, fmt.Errorf("handoff (api.Lock): %w", err)
	}
	if r.contOurs, err = benchContended(cfg, server, "lock-ours", mutexContendOurs, window); err != nil {
		return r, fmt.Errorf("contended (ours): %w", err)
	}
	if r.contTheirs, err = benchContended(cfg, server, "lock-apilock", mutexContendAPILock, window); err != nil {
		return r, fmt.Errorf("contended (api.Lock): %w", err)
	}
	return r, nil
}

// settleWrites is how long a cycle run waits before reading the raft index
// at its end, for the writes its last cycle sent asynchronously (api.Lock
// destroys its session after Unlock returned).
const settleWrites = 300 * time.Millisecond

// measureCycles runs one warm-up cycle and then n measured ones, and counts
// the raft writes and write requests they cost.
func measureCycles(server *api.Client, c *lockCounter, n int, cycle func() (lockTook time.Duration, err error)) (cycleResult, error) {
	var r cycleResult
	if _, err := cycle(); err != nil { // warm-up: connections, our session and check
		return r, err
	}
	time.Sleep(settleWrites)
	before, err := raftIndex(server)
	if err != nil {
		return r, err
	}
	writes := c.writes.Load()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		took, err := cycle()
		if err != nil {
			return r, fmt.Errorf("cycle %d: %w", i, err)
		}
		r.latency = append(r.latency, time.Since(t0))
		r.lockLatency = append(r.lockLatency, took)
	}
	time.Sleep(settleWrites)
	after, err := raftIndex(server)
	if err != nil {
		return r, err
	}
	r.raftWrites = float64(after-before) / float64(n)
	r.writeReqs = float64(c.writes.Load()-writes) / float64(n)
	return r, nil
}

// newMutex returns a lock.Session with defaults on client and its Mutex
// on key; close ends the session.
func newMutex(client *api.Client, identity, key string) (*lock.Mutex, func(), error) {
	s, err := lock.NewSession(client, lock.Config{Identity: identity})
	if err != nil {
		return nil, nil, err
	}
	closeS := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	}
	m, err := s.Mutex(key)
	if err != nil {
		closeS()
		return nil, nil, err
	}
	return m, closeS, nil
}

// benchCycleOurs is n Lock + Unlock cycles of one holder on one key, all on
// one lock.Session.
func benchCycleOurs(cfg *api.Config, server *api.Client, n int) (cycleResult, error) {
	c := &lockCounter{key: mutexCycleOurs}
	client, err := lockClient(cfg, c)
	if err != nil {
		return cycleResult{}, err
	}
	m, closeS, err := newMutex(client, "cycle", mutexCycleOurs)
	if err != nil {
		return cycleResult{}, err
	}
	defer closeS()
	return measureCycles(server, c, n, func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		t0 := time.Now()
		h, err := m.Lock(ctx)
		if err != nil {
			return 0, err
		}
		took := time.Since(t0)
		return took, h.Unlock(ctx)
	})
}

// benchCycleAPILock is n Lock + Unlock cycles of one api.Lock (defaults:
// each Lock creates a session, each Unlock has it destroyed).
func benchCycleAPILock(cfg *api.Config, server *api.Client, n int) (cycleResult, error) {
	c := &lockCounter{key: mutexCycleAPILock}
	client, err := lockClient(cfg, c)
	if err != nil {
		return cycleResult{}, err
	}
	l, err := client.LockOpts(&api.LockOptions{Key: mutexCycleAPILock})
	if err != nil {
		return cycleResult{}, err
	}
	return measureCycles(server, c, n, func() (time.Duration, error) {
		t0 := time.Now()
		lost, err := l.Lock(nil)
		if err == nil && lost == nil {
			err = fmt.Errorf("api.Lock returned without the lock")
		}
		if err != nil {
			return 0, err
		}
		took := time.Since(t0)
		return took, l.Unlock()
	})
}

// benchMutexHandoffOurs hands the mutex back and forth n times between two
// lock.Sessions (each with its own client, as two processes would): the
// holder unlocks while the other waits, queued; measured from the Unlock
// call to the waiter's Lock returning.
func benchMutexHandoffOurs(cfg *api.Config, n int) (sample, error) {
	var ms [2]*lock.Mutex
	for i := range ms {
		client, err := api.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		m, closeS, err := newMutex(client, fmt.Sprintf("handoff-%d", i), mutexHandoffOurs)
		if err != nil {
			return nil, err
		}
		defer closeS()
		ms[i] = m
	}
	watcher, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n+1)*30*time.Second)
	defer cancel()
	holder, err := ms[0].Lock(ctx)
	if err != nil {
		return nil, err
	}
	type got struct {
		h   *lock.Held
		at  time.Time
		err error
	}
	var s sample
	for i := 0; i < n; i++ {
		next := ms[(i+1)%2]
		ch := make(chan got, 1)
		go func() {
			h, err := next.Lock(ctx)
			ch <- got{h, time.Now(), err}
		}()
		// The waiter is queued, then parked on its blocking query.
		if err := waitUntil(10*time.Second, func() bool {
			keys, _, err := watcher.KV().Keys(mutexHandoffOurs+"/.queue/", "", nil)
			return err == nil && len(keys) > 0
		}); err != nil {
			return nil, fmt.Errorf("handoff %d: waiter not queued: %w", i, err)
		}
		time.Sleep(20 * time.Millisecond)
		t0 := time.Now()
		if err := holder.Unlock(ctx); err != nil {
			return nil, err
		}
		select {
		case g := <-ch:
			if g.err != nil {
				return nil, fmt.Errorf("handoff %d: %w", i, g.err)
			}
			s = append(s, g.at.Sub(t0))
			holder = g.h
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("handoff %d timed out", i)
		}
	}
	return s, holder.Unlock(ctx)
}

// benchMutexHandoffAPILock is the same with api.Lock (defaults), as in
// the graceful handoff row: each waiter is a new api.Lock.
func benchMutexHandoffAPILock(cfg *api.Config, n int) (sample, error) {
	var clients [2]*api.Client
	for i := range clients {
		c, err := api.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		clients[i] = c
	}
	holder := lockAsync(clients[0], mutexHandoffAPILock)
	if err := holder.waitHeld(30 * time.Second); err != nil {
		return nil, err
	}
	var s sample
	for i := 0; i < n; i++ {
		waiter := lockAsync(clients[(i+1)%2], mutexHandoffAPILock)
		time.Sleep(20 * time.Millisecond) // let the waiter park on its blocking query
		t0 := time.Now()
		if err := holder.lock.Unlock(); err != nil {
			return nil, err
		}
		select {
		case at := <-waiter.held:
			s = append(s, at.Sub(t0))
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("handoff %d timed out", i)
		}
		holder = waiter
	}
	holder.release()
	return s, nil
}

// mutexRows renders the mutex rows.
func (r *report) mutexRows(w func(string, ...any)) {
	m := r.mutex
	if !m.ran {
		return
	}
	o, t := m.cycleOurs, m.cycleTheirs
	w("| mutex, uncontended Lock + Unlock p50 (n=%d/%d) | %s | %s | %s | |\n", len(o.latency), len(t.latency),
		fmtDur(o.latency.P50()), fmtDur(t.latency.P50()), ratio(float64(o.latency.P50()), float64(t.latency.P50())))
	w("| mutex, uncontended Lock + Unlock p99 | %s | %s | %s | |\n",
		fmtDur(o.latency.P99()), fmtDur(t.latency.P99()), ratio(float64(o.latency.P99()), float64(t.latency.P99())))
	w("| mutex, uncontended Lock alone p50 | %s | %s | %s | |\n",
		fmtDur(o.lockLatency.P50()), fmtDur(t.lockLatency.P50()), ratio(float64(o.lockLatency.P50()), float64(t.lockLatency.P50())))
	w("| mutex, uncontended: raft writes per cycle³ | %.2f | %.2f | %s | 2 (api.Lock: 4) |\n",
		o.raftWrites, t.raftWrites, ratio(o.raftWrites, t.raftWrites))
	hO, hT := m.handoffOurs, m.handoffTheirs
	w("| mutex handoff p50 (n=%d/%d) | %s | %s | %s | < etcd's %s⁴ |\n", len(hO), len(hT),
		fmtDur(hO.P50()), fmtDur(hT.P50()), ratio(float64(hO.P50()), float64(hT.P50())), fmtDur(etcdHandoffP50))
	w("| mutex handoff p99 | %s | %s | %s | |\n", fmtDur(hO.P99()), fmtDur(hT.P99()), ratio(float64(hO.P99()), float64(hT.P99())))
	cO, cT := m.contOurs, m.contTheirs
	name := fmt.Sprintf("mutex, %d processes contending for %v", mutexContenders, cO.window)
	w("| %s: cycles/s (n=%d/%d) | %.0f | %.0f | %s | ≥ 2× api.Lock, ≥ 3× etcd's %.0f/s⁴ |\n", name, cO.cycles, cT.cycles,
		cO.perSec(), cT.perSec(), ratio(cO.perSec(), cT.perSec()), etcdContendedPerSec)
	w("| %s: wait p50 | %s | %s | %s | |\n", name, fmtDur(cO.waits.P50()), fmtDur(cT.waits.P50()),
		ratio(float64(cO.waits.P50()), float64(cT.waits.P50())))
	w("| %s: wait p99 | %s | %s | %s | |\n", name, fmtDur(cO.waits.P99()), fmtDur(cT.waits.P99()),
		ratio(float64(cO.waits.P99()), float64(cT.waits.P99())))
	w("| %s: max wait / mean wait | %.1f | %.1f | | ≤ 3 |\n", name, cO.fairness(), cT.fairness())
	w("| %s: handoff p50 (Unlock call to the next process holding) | %s | %s | %s | |\n", name,
		fmtDur(cO.handoffs.P50()), fmtDur(cT.handoffs.P50()), ratio(float64(cO.handoffs.P50()), float64(cT.handoffs.P50())))
	w("| %s: acquire attempts per handoff | %.2f | %.2f | %s | ≤ 1.2 |\n", name,
		cO.attemptsPerHandoff(), cT.attemptsPerHandoff(), ratio(cO.attemptsPerHandoff(), cT.attemptsPerHandoff()))
	w("| %s: raft writes per cycle⁵ | %.2f | %.2f | %s | |\n", name, cO.perCycle(cO.raftWrites), cT.perCycle(cT.raftWrites),
		ratio(cO.perCycle(cO.raftWrites), cT.perCycle(cT.raftWrites)))
	w("| %s: requests to the servers per cycle | %.1f | %.1f | %s | |\n", name, cO.perCycle(cO.requests), cT.perCycle(cT.requests),
		ratio(cO.perCycle(cO.requests), cT.perCycle(cT.requests)))
	w("| %s: holds begun before the previous holder's Unlock | %d | %d | | 0 |\n", name, cO.overlaps, cT.overlaps)
}

// mutexNotes are the footnotes of the mutex rows.
func (r *report) mutexNotes(w func(string, ...any)) {
	if !r.mutex.ran {
		return
	}
	w("³ the Consul server's raft commit index (`/v1/agent/self`, Stats.raft.commit_index) before and after the cycles, over their number; it includes the rare background writes of the agents (coordinates), and api.Lock's session destroys, which it sends after Unlock returned.\n")
	w("⁴ etcd's concurrency.Mutex, quoted from the issue that asked for the mutex (99 cycles/s with 10 goroutines, handoff p50 2.32ms, on this machine), not measured in this run.\n")
	w("⁵ the raft commit index from the moment the contenders are told to start to the end of the window; the start is a few milliseconds ahead of the contenders', and failed acquire attempts are raft writes too.\n")
}

// mutexReadingNotes explain the mutex rows.
const mutexReadingNotes = `- **Mutex.** consulelect's lock.Mutex shares one Consul session per
  process (lock.Session) across its locks and cycles, so a cycle is an
  acquire transaction and a release: two raft writes. api.Lock with its
  defaults creates a session in each Lock and destroys it after Unlock:
  four. The contended rows run each contender in its own process (a
  lock.Session, or one api.Lock, with defaults), looping Lock, about 1ms of
  work, Unlock; a wait is from the Lock call to the lock held. consulelect
  waiters queue (an entry under "<key>/.queue/", created with the session);
  Unlock hands the key to the oldest waiter in the transaction that
  releases it, and that waiter confirms with a consistent read (a waiter
  the holder did not see acquires when the key is released); every
  api.Lock waiter tries when the key is released. Acquire attempts are
  counted per process, on the key (transactions, handoffs included; PUT
  ?acquire), over the cycles done. The contended handoff and the exclusion check come from
  every process's wall-clock times of Lock returning and Unlock called
  (one machine, one clock), merged in order.
`
