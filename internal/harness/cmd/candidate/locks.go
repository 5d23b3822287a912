package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/lock"
)

// Uses of a held lock, as the ledger names them (the "use" field).
const (
	useMutex     = "mutex"
	useSemaphore = "semaphore"
)

// lockOptions are the flags of the lock loops. Without a key (or a
// prefix) the loop does not run.
type lockOptions struct {
	key              string // mutex key
	semPrefix        string
	semLimit         int
	holdMin, holdMax time.Duration // how long a held lock is kept
	// longShare of the holds (0 to 1) are kept longMin to longMax instead,
	// long enough to outlast a fault's detection (DemoteAfter).
	longShare        float64
	longMin, longMax time.Duration
	pauseMin         time.Duration // pause between a release and the next acquire
	pauseMax         time.Duration
	unlockTimeout    time.Duration // bound on one Unlock (its release retries in the background after it)
}

// enabled reports whether any lock loop runs.
func (o lockOptions) enabled() bool { return o.key != "" || o.semPrefix != "" }

// holder is one lock loop: for the whole life of the process it takes its
// lock (the mutex, or a slot of the semaphore), logs a "hold" event,
// keeps the lock a random time (mostly short, sometimes long enough to be
// held through a fault) while watching the held lock's context,
// logs a "release" event the moment it stops acting as a holder (its
// context ended, or right before it calls Unlock), unlocks, and pauses.
// The chaos checker rebuilds every hold from these events.
type holder struct {
	use     string
	acquire func(ctx context.Context) (*lock.Held, error)
	o       lockOptions
	ledger  *ledger
	log     hclog.Logger
	rng     *rand.Rand // owned by the goroutine running run
}

// run takes the lock again and again until ctx ends.
func (h *holder) run(ctx context.Context) {
	for ctx.Err() == nil {
		held, err := h.acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Lock retries Consul errors itself; what reaches here is
			// permanent (or the session's end). Say so and try again.
			h.log.Error("acquiring", "use", h.use, "error", err)
			sleep(ctx, time.Second)
			continue
		}
		h.hold(ctx, held)
		sleep(ctx, h.between(h.o.pauseMin, h.o.pauseMax))
	}
}

// hold keeps held for a random time, or until it is lost or ctx ends, and
// logs the interval. The hold's start is the moment the lock package
// confirmed the acquire (Held.Started), on the ledger's clock: a SIGSTOP
// between that moment and the log line does not move it later.
func (h *holder) hold(ctx context.Context, held *lock.Held) {
	start := mono() - int64(time.Since(held.Started()))
	h.ledger.add(event{Ev: "hold", Use: h.use, Mono: start, Token: held.Token(), Session: held.Session()})
	d := h.between(h.o.holdMin, h.o.holdMax)
	if h.o.longShare > 0 && h.rng.Float64() < h.o.longShare {
		d = h.between(h.o.longMin, h.o.longMax)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var (
		stopped int64
		reason  string
	)
	select {
	case <-held.Done():
		stopped = mono()
		reason = fmt.Sprint(held.Reason()) // may wait a round trip for how it was lost
	case <-t.C:
		stopped, reason = mono(), "done"
		if held.Context().Err() != nil { // both were ready (after a SIGSTOP, say): the lock had ended too
			reason = fmt.Sprint(held.Reason())
		}
	case <-ctx.Done():
		stopped, reason = mono(), "candidate stopping"
	}
	h.ledger.add(event{Ev: "release", Use: h.use, Mono: stopped, Token: held.Token(), Session: held.Session(), Reason: reason})
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.o.unlockTimeout)
	defer cancel()
	if err := held.Unlock(uctx); err != nil && !errors.Is(err, lock.ErrNotHeld) {
		h.log.Warn("unlocking", "use", h.use, "token", held.Token(), "error", err)
	}
}

// between draws a duration uniformly from [lo, hi].
func (h *holder) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(h.rng.Int63n(int64(hi-lo)+1))
}

// sleep waits d, or less if ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// lockLoops is the candidate's lock work beside the elector: one
// lock.Session shared by a mutex loop and a semaphore loop.
type lockLoops struct {
	s  *lock.Session
	hs []*holder
	wg sync.WaitGroup
}

// newLockLoops prepares the loops of o on s.
func newLockLoops(s *lock.Session, o lockOptions, led *ledger, log hclog.Logger) (*lockLoops, error) {
	l := &lockLoops{s: s}
	seed := time.Now().UnixNano() ^ int64(os.Getpid())<<20
	if o.key != "" {
		m, err := s.Mutex(o.key)
		if err != nil {
			return nil, err
		}
		l.hs = append(l.hs, &holder{use: useMutex, acquire: m.Lock, o: o, ledger: led, log: log, rng: rand.New(rand.NewSource(seed))})
	}
	if o.semPrefix != "" {
		sem, err := s.Semaphore(o.semPrefix, o.semLimit)
		if err != nil {
			return nil, err
		}
		l.hs = append(l.hs, &holder{use: useSemaphore, acquire: sem.Acquire, o: o, ledger: led, log: log, rng: rand.New(rand.NewSource(seed + 1))})
	}
	return l, nil
}

// start runs every loop until ctx ends; stop waits for them.
func (l *lockLoops) start(ctx context.Context) {
	for _, h := range l.hs {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			h.run(ctx)
		}()
	}
}

// stop waits for the loops (their ctx must be done: each unlocks what it
// holds) and then closes the session within ctx.
func (l *lockLoops) stop(ctx context.Context) error {
	l.wg.Wait()
	return l.s.Close(ctx)
}
