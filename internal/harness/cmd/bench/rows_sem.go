package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/lock"
)

// The semaphore rows: consulelect's lock.Semaphore (one lock.Session per
// contender process, reused for every cycle) against Consul's
// api.Semaphore with its defaults (client.SemaphoreOpts with only the
// prefix and the limit: each Acquire creates a session, each Release has
// it destroyed), semLimit slots, semContenders processes. Neither prefix
// is a prefix of the other: a semaphore lists its whole prefix.
const (
	semPrefixOurs    = "bench/sem/n3-ours"
	semPrefixAPILock = "bench/sem/n3-apisemaphore"
	semLimit         = 3
	semContenders    = 10
)

// semResult is the contended loop of one semaphore implementation.
type semResult struct {
	contendedResult
	// maxHolders is the most holds in progress at one moment, from the
	// processes' wall-clock times of Acquire returning and Release called.
	maxHolders int
}

// semReport holds the semaphore rows.
type semReport struct {
	ran          bool
	ours, theirs semResult
}

// isSemChild tells whether impl names a contender process of the
// semaphore rows.
func isSemChild(impl string) bool { return impl == "sem-ours" || impl == "sem-apisemaphore" }

// runSemChild is a contender process of the semaphore rows: it prepares
// its slot (for "sem-ours" a lock.Session and its Semaphore on prefix,
// warmed up by one cycle; for "sem-apisemaphore" one api.Semaphore with
// defaults) and then runs as a mutex contender does (runContender),
// looping Acquire, work, Release.
func runSemChild(impl, prefix, addr string) error {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	c := &lockCounter{key: prefix}
	client, err := lockClient(cfg, c)
	if err != nil {
		return err
	}
	var acquire lockOnceFunc
	switch impl {
	case "sem-ours":
		s, err := lock.NewSession(client, lock.Config{Identity: fmt.Sprintf("sem-contender-%d", os.Getpid())})
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Close(ctx)
		}()
		sem, err := s.Semaphore(prefix, semLimit)
		if err != nil {
			return err
		}
		acquire = func(ctx context.Context) (func() error, error) {
			h, err := sem.Acquire(ctx)
			if err != nil {
				return nil, err
			}
			return func() error { return h.Unlock(context.WithoutCancel(ctx)) }, nil
		}
	case "sem-apisemaphore":
		sem, err := client.SemaphoreOpts(&api.SemaphoreOptions{Prefix: prefix, Limit: semLimit})
		if err != nil {
			return err
		}
		acquire = func(ctx context.Context) (func() error, error) {
			lost, err := sem.Acquire(ctx.Done())
			switch {
			case err != nil:
				return nil, err
			case lost == nil:
				return nil, ctx.Err()
			}
			return sem.Release, nil
		}
	default:
		return fmt.Errorf("unknown impl %q", impl)
	}
	return runContender(c, acquire, impl == "sem-ours")
}

// benchSemaphore runs the semaphore rows, ours then api.Semaphore, each
// for window.
func benchSemaphore(cfg *api.Config, window time.Duration) (semReport, error) {
	r := semReport{ran: true}
	server, err := api.NewClient(cfg)
	if err != nil {
		return r, err
	}
	if r.ours, err = benchSemContended(cfg, server, "sem-ours", semPrefixOurs, window); err != nil {
		return r, fmt.Errorf("semaphore (ours): %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: sem: transactions per acquisition (ours; a join and a release each, the rest lost races) %.2f\n",
		r.ours.perCycle(r.ours.acquires))
	if r.theirs, err = benchSemContended(cfg, server, "sem-apisemaphore", semPrefixAPILock, window); err != nil {
		return r, fmt.Errorf("semaphore (api.Semaphore): %w", err)
	}
	return r, nil
}

func benchSemContended(cfg *api.Config, server *api.Client, impl, prefix string, window time.Duration) (semResult, error) {
	c, holds, err := runContenders(cfg, server, impl, prefix, semContenders, window)
	if err != nil {
		return semResult{}, err
	}
	return semResult{contendedResult: c, maxHolders: maxConcurrent(holds)}, nil
}

// maxConcurrent is the most holds in progress at one moment: a hold
// counts from its held time to its unlocked time, and one that begins
// exactly when another ends does not overlap it.
func maxConcurrent(holds []holdSpan) int {
	type event struct {
		at    int64
		delta int
	}
	events := make([]event, 0, 2*len(holds))
	for _, h := range holds {
		events = append(events, event{h.held, +1}, event{h.unlocked, -1})
	}
	sort.Slice(events, func(i, j int) bool {
		if events[i].at != events[j].at {
			return events[i].at < events[j].at
		}
		return events[i].delta < events[j].delta // ends before starts
	})
	n, most := 0, 0
	for _, e := range events {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// semRows renders the semaphore rows.
func (r *report) semRows(w func(string, ...any)) {
	if !r.sem.ran {
		return
	}
	o, t := r.sem.ours, r.sem.theirs
	name := fmt.Sprintf("semaphore N=%d, %d processes contending for %v", semLimit, semContenders, o.window)
	w("| %s: acquisitions/s (n=%d/%d) | %.0f | %.0f | %s | |\n", name, o.cycles, t.cycles,
		o.perSec(), t.perSec(), ratio(o.perSec(), t.perSec()))
	w("| %s: wait p50 | %s | %s | %s | |\n", name, fmtDur(o.waits.P50()), fmtDur(t.waits.P50()),
		ratio(float64(o.waits.P50()), float64(t.waits.P50())))
	w("| %s: wait p99 | %s | %s | %s | |\n", name, fmtDur(o.waits.P99()), fmtDur(t.waits.P99()),
		ratio(float64(o.waits.P99()), float64(t.waits.P99())))
	w("| %s: max wait | %s | %s | %s | |\n", name, fmtDur(o.waits.Max()), fmtDur(t.waits.Max()),
		ratio(float64(o.waits.Max()), float64(t.waits.Max())))
	w("| %s: max wait / mean wait | %.1f | %.1f | | |\n", name, o.fairness(), t.fairness())
	w("| %s: raft writes per acquisition⁶ | %.2f | %.2f | %s | |\n", name, o.perCycle(o.raftWrites), t.perCycle(t.raftWrites),
		ratio(o.perCycle(o.raftWrites), t.perCycle(t.raftWrites)))
	w("| %s: requests to the servers per acquisition | %.1f | %.1f | %s | |\n", name, o.perCycle(o.requests), t.perCycle(t.requests),
		ratio(o.perCycle(o.requests), t.perCycle(t.requests)))
	w("| %s: most holders at once (processes' timestamps) | %d | %d | | never more than %d holders |\n", name,
		o.maxHolders, t.maxHolders, semLimit)
}

// semNotes are the footnotes of the semaphore rows.
func (r *report) semNotes(w func(string, ...any)) {
	if !r.sem.ran {
		return
	}
	w("⁶ the Consul server's raft commit index from the moment the contenders are told to start to the end of the window, over the acquisitions done in it; failed CAS and acquire attempts are raft writes too, and api.Semaphore's session creations and destroys.\n")
}

// semReadingNotes explain the semaphore rows.
const semReadingNotes = `- **Semaphore.** Each contender is a process of its own (a Session
  holds at most one slot of a semaphore): a lock.Session and its
  Semaphore, or one api.Semaphore with its defaults (a session created in
  each Acquire, destroyed after its Release), looping Acquire, about 1ms
  of work, Release; a wait is from the Acquire call to the slot held.
  Both use the same layout (contender keys and "<prefix>/.lock"): a
  consulelect acquisition is one transaction (contender key and holders)
  and a release another; api.Semaphore writes its contender key, then the
  holders by CAS, and on release the holders and a delete, besides its
  session. The waiters of both watch the whole prefix, so every change
  wakes them all; a consulelect waiter tries only when its place in the
  order of the contender keys is within the free slots, an api.Semaphore
  waiter whenever fewer than N hold. The holder
  count comes from every process's wall-clock times of Acquire returning
  and Release called (one machine, one clock), merged in order; a hold so
  measured lies within the real one, so a count above the limit would be
  a real excess.
`
