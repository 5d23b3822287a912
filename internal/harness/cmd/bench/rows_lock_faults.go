package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// The lock fault rows: a lock.Mutex holder (defaults) crashed (SIGKILL of
// its process) or cut off (SIGSTOP of its client agent) while a waiter
// waits, as the crash and partition rows do for the elector. Their
// api.Lock side is exactly the crash and partition rows' api.Lock side (an
// api.Lock holder and an api.Lock waiter, defaults), so when those rows
// ran in the same run their trials are reused rather than run again (a
// crash trial of api.Lock takes about 45s).

// lockFaultGrace is how long after the new holder started an old holder
// of ours is given to be told it lost the lock, before the trial records
// it as never told (a late cancellation shows as a positive overlap).
const lockFaultGrace = 30 * time.Second

// lockFaultsReport holds the lock fault rows.
type lockFaultsReport struct {
	ran                     bool
	crashOurs, crashTheirs  sample
	partOurs, partTheirs    []partitionTrial
	crashReused, partReused bool // the api.Lock side came from the crash / partition rows
}

// isMutexHolderChild tells whether impl names the holder process of the
// mutex crash row.
func isMutexHolderChild(impl string) bool { return impl == "mutex-ours" }

// runMutexHolderChild is the holder process of the mutex crash row: it
// takes the lock.Mutex on key with a lock.Session with defaults, prints
// "held", and waits to be killed (startChild reads it).
func runMutexHolderChild(key, addr string) error {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	client, err := api.NewClient(cfg)
	if err != nil {
		return err
	}
	m, _, err := newMutex(client, "crash-victim", key)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.Lock(ctx); err != nil {
		return err
	}
	fmt.Println("held")
	select {}
}

// benchLockFaults runs the lock fault rows; r holds the crash and
// partition rows' results if they ran before.
func benchLockFaults(tb consultestTB, srv, agent *consultest.Agent, r *report, n trials) (lockFaultsReport, error) {
	f := lockFaultsReport{ran: true}
	cfg := srv.Config()
	var err error
	if f.crashOurs, err = benchLockCrashOurs(cfg, n.crash); err != nil {
		return f, fmt.Errorf("crash (ours): %w", err)
	}
	if f.crashTheirs, f.crashReused = r.crashTheirs, len(r.crashTheirs) > 0; !f.crashReused {
		if f.crashTheirs, err = benchCrashAPILock(cfg, n.crashAPILock); err != nil {
			return f, fmt.Errorf("crash (api.Lock): %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: lockfaults: crash trials %v (ours), %v (api.Lock%s)\n",
		fmtSample(f.crashOurs), fmtSample(f.crashTheirs), reusedNote(f.crashReused, "crash"))
	if f.partOurs, err = benchLockPartitionOurs(tb, srv, agent, n.partition); err != nil {
		return f, fmt.Errorf("partition (ours): %w", err)
	}
	if f.partTheirs, f.partReused = r.partTheirs, len(r.partTheirs) > 0; !f.partReused {
		if f.partTheirs, err = benchPartitionAPILock(tb, srv, agent, n.partition); err != nil {
			return f, fmt.Errorf("partition (api.Lock): %w", err)
		}
	}
	if f.partReused {
		fmt.Fprintln(os.Stderr, "bench: lockfaults: partition: api.Lock trials from the partition row")
	}
	return f, nil
}

func reusedNote(reused bool, row string) string {
	if reused {
		return ", from the " + row + " row"
	}
	return ""
}

func fmtSample(s sample) string {
	var out []string
	for _, d := range s {
		out = append(out, fmtDur(d))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// lockedAt is the result of a Lock started in the background.
type lockedAt struct {
	h   *lock.Held
	err error
}

// lockAsyncOurs calls m.Lock(ctx) in a goroutine.
func lockAsyncOurs(ctx context.Context, m *lock.Mutex) <-chan lockedAt {
	ch := make(chan lockedAt, 1)
	go func() {
		h, err := m.Lock(ctx)
		ch <- lockedAt{h, err}
	}()
	return ch
}

// waitQueued waits until a waiter's entry is in key's queue (it is then
// about to park on its blocking query), and a little more.
func waitQueued(client *api.Client, key string) error {
	err := waitUntil(10*time.Second, func() bool {
		keys, _, err := client.KV().Keys(key+"/.queue/", "", nil)
		return err == nil && len(keys) > 0
	})
	if err != nil {
		return fmt.Errorf("waiter not queued: %w", err)
	}
	time.Sleep(20 * time.Millisecond)
	return nil
}

// benchLockCrashOurs: the holder process of a lock.Mutex is SIGKILLed
// while a waiter (a lock.Session in this process) is queued; from the kill
// to the waiter holding (its Held's Started). n trials, one key each.
func benchLockCrashOurs(cfg *api.Config, n int) (sample, error) {
	var s sample
	for i := 0; i < n; i++ {
		d, err := lockCrashTrial(cfg, fmt.Sprintf("bench/lockcrash/ours-%03d", i))
		if err != nil {
			return nil, fmt.Errorf("trial %d: %w", i, err)
		}
		s = append(s, d)
	}
	return s, nil
}

func lockCrashTrial(cfg *api.Config, key string) (time.Duration, error) {
	victim, err := startChild("mutex-ours", key, cfg.Address, "default")
	if err != nil {
		return 0, err
	}
	defer victim.kill()
	client, err := api.NewClient(cfg)
	if err != nil {
		return 0, err
	}
	m, closeS, err := newMutex(client, "survivor", key)
	if err != nil {
		return 0, err
	}
	defer closeS()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := lockAsyncOurs(ctx, m)
	if err := waitQueued(client, key); err != nil {
		return 0, err
	}
	t0 := victim.kill()
	select {
	case g := <-got:
		if g.err != nil {
			return 0, g.err
		}
		defer func() { _ = g.h.Unlock(ctx) }()
		return g.h.Started().Sub(t0), nil
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("no new holder within a minute of the kill")
	}
}

// benchLockPartitionOurs: a lock.Mutex holder whose client agent is
// frozen (SIGSTOP) while a waiter on the server is queued; per trial, from
// the freeze: when the old holder's Context was cancelled and when the
// new holder started. Then the agent is thawed.
func benchLockPartitionOurs(tb consultestTB, srv, agent *consultest.Agent, n int) ([]partitionTrial, error) {
	var out []partitionTrial
	for i := 0; i < n; i++ {
		tr, err := lockPartitionTrial(tb, srv, agent, fmt.Sprintf("bench/lockpartition/ours-%03d", i))
		if err != nil {
			return nil, fmt.Errorf("trial %d: %w", i, err)
		}
		out = append(out, tr)
	}
	return out, nil
}

func lockPartitionTrial(tb consultestTB, srv, agent *consultest.Agent, key string) (partitionTrial, error) {
	var tr partitionTrial
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	frozen, closeF, err := newMutex(countedClient(agent.Config(), &counter{}), "frozen", key)
	if err != nil {
		return tr, err
	}
	defer closeF()
	old, err := frozen.Lock(ctx)
	if err != nil {
		return tr, err
	}
	defer func() { _ = old.Unlock(ctx) }() // lost by then: it only cleans up
	stopped := make(chan time.Time, 1)
	context.AfterFunc(old.Context(), func() { stopped <- time.Now() })
	server := countedClient(srv.Config(), &counter{})
	other, closeO, err := newMutex(server, "other", key)
	if err != nil {
		return tr, err
	}
	defer closeO()
	got := lockAsyncOurs(ctx, other)
	if err := waitQueued(server, key); err != nil {
		return tr, err
	}
	t0 := time.Now()
	agent.Pause(tb)
	defer func() {
		agent.Resume(tb)
		agent.WaitReady(tb) // its serfHealth passes again before the next trial
	}()
	select {
	case g := <-got:
		if g.err != nil {
			return tr, g.err
		}
		defer func() { _ = g.h.Unlock(ctx) }()
		tr.newStart = g.h.Started().Sub(t0)
	case <-time.After(time.Minute):
		return tr, fmt.Errorf("no new holder within a minute of the freeze")
	}
	select {
	case at := <-stopped:
		tr.oldStop = at.Sub(t0)
	case <-time.After(lockFaultGrace):
		tr.oldStop = -1
	}
	return tr, nil
}

// lockFaultRows renders the lock fault rows.
func (r *report) lockFaultRows(w func(string, ...any)) {
	f := r.lockFaults
	if !f.ran {
		return
	}
	o, t := f.crashOurs, f.crashTheirs
	w("| mutex holder crash (SIGKILL), waiter holds: median, defaults (n=%d/%d)⁷ | %s | %s | %s | |\n", len(o), len(t),
		fmtDur(o.P50()), fmtDur(t.P50()), ratio(float64(o.P50()), float64(t.P50())))
	stops := func(ps []partitionTrial, never string) string {
		var s []string
		for _, p := range ps {
			if p.oldStop < 0 {
				s = append(s, never)
			} else {
				s = append(s, fmtDur(p.oldStop))
			}
		}
		return strings.Join(s, ", ")
	}
	starts := func(ps []partitionTrial) string {
		var s []string
		for _, p := range ps {
			s = append(s, fmtDur(p.newStart))
		}
		return strings.Join(s, ", ")
	}
	overlaps := func(ps []partitionTrial, never string) string {
		var s []string
		for _, p := range ps {
			if p.oldStop < 0 {
				s = append(s, never)
			} else {
				s = append(s, fmtDur(p.overlap()))
			}
		}
		return strings.Join(s, ", ")
	}
	po, pt := f.partOurs, f.partTheirs
	w("| mutex holder partition (its agent SIGSTOPped)⁷: old holder told (Context cancelled / lost closed), per trial | %s | %s | | |\n",
		stops(po, fmt.Sprintf("never (within %v of the new start)", lockFaultGrace)), stops(pt, "never"))
	w("| mutex holder partition: new holder starts, per trial | %s | %s | | |\n", starts(po), starts(pt))
	w("| mutex holder partition: overlap (old stop − new start; ≤ 0 is safe) | %s | %s | | ≤ 0 every trial |\n",
		overlaps(po, fmt.Sprintf("≥ %v (never told)", lockFaultGrace)), overlaps(pt, "≥ 2s, until the thaw (never told)"))
}

// lockFaultNotes are the footnotes of the lock fault rows.
func (r *report) lockFaultNotes(w func(string, ...any)) {
	f := r.lockFaults
	if !f.ran {
		return
	}
	var reused []string
	if f.crashReused {
		reused = append(reused, "the crash failover row's")
	}
	if f.partReused {
		reused = append(reused, "the partition row's")
	}
	src := "measured in this row, as the crash and partition rows measure it"
	if len(reused) > 0 {
		src = "the trials of " + strings.Join(reused, " and ") + " api.Lock column where they ran in this run (those rows already pit an api.Lock holder against an api.Lock waiter, defaults), else measured here the same way"
	}
	w("⁷ consulelect: a lock.Mutex holder (defaults) and one waiter queued behind it, each its own lock.Session; the crashed holder is a process of its own, the frozen one is on the client agent, the waiter on the server. api.Lock: %s.\n", src)
}

// lockFaultReadingNotes explain the lock fault rows.
const lockFaultReadingNotes = `- **Mutex holder crash and partition** are the crash and partition rows
  for a lock.Mutex holder. A crashed holder's key is taken CheckTTL +
  LockDelay after the kill (its TTL check goes critical, Consul
  invalidates the session, then lock-delay); api.Lock's, after its
  session's TTL (Consul allows up to twice it) and its 15s lock-delay. A
  frozen agent's holder has its Context cancelled at its demote deadline,
  DemoteAfter after its last confirmation was sent, before Consul
  invalidates the session (serfHealth) and LockDelay passes; the waiter,
  first in the queue, is woken by the release and acquires when the
  lock-delay ends. api.Lock's lost channel stays open while its agent is
  frozen.
`
