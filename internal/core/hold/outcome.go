package hold

import (
	"time"
)

// Step is what a use does after an acquiring transaction: the one
// judgement of an acquire's answer that the elector, the mutex and the
// semaphore share. They differ only in what they do next.
type Step int

// The steps after an acquire.
const (
	// StepRetry: the request failed (a refusal other than the three a
	// lock expects comes as an error too: the use makes it permanent). It
	// may have been applied all the same (now or later): back off and read
	// again, unless the error is permanent.
	StepRetry Step = iota
	// StepHold: acquired, and answered before its deadline: the hold
	// starts, dated by the request's send time.
	StepHold
	// StepStale: acquired, but answered past its deadline (sent +
	// DemoteAfter): it proves nothing, not even for a moment, since the key
	// may have been someone else's since. The session may hold the key:
	// read again, and acquire again to date a hold afresh.
	StepStale
	// StepNewSession: the session is gone; make another.
	StepNewSession
	// StepLockDelay: refused while a lock-delay is in force: wait
	// LockDelayWait.Next and try again.
	StepLockDelay
	// StepNotAcquired: the key is held by another session.
	StepNotAcquired
)

// Judge returns the step after an acquire sent at sent that returned out
// and err; demoteAfter bounds how late an answer may still prove a hold.
func Judge(c Clock, sent time.Time, demoteAfter time.Duration, out Outcome, err error) Step {
	switch {
	case err != nil:
		return StepRetry
	case out == Acquired && !Fresh(c, sent, demoteAfter):
		return StepStale
	case out == Acquired:
		return StepHold
	case out == SessionGone:
		return StepNewSession
	case out == LockDelayed:
		return StepLockDelay
	default:
		return StepNotAcquired
	}
}

// lockDelaySlack is added to a lock-delay's end before acquiring again,
// for the servers' clocks and the request's flight.
const lockDelaySlack = 10 * time.Millisecond

// minLockDelayStep is the first step of the wait past our own lock-delay.
const minLockDelayStep = 50 * time.Millisecond

// LockDelayWait paces the acquires of one wait for a key that Consul
// refuses while a lock-delay is in force. The key was freed by an
// invalidation at or before the first read that saw it free (Free), so a
// lock-delay as long as ours ends by then + LockDelay: the first wait ends
// there, on time. A longer lock-delay (another client's: api.Lock, `consul
// lock` and python-consul use 15s) is waited out in steps that double from
// 50ms to LockDelay/10 (260ms with the defaults): the waiter acquires at
// most that late, with a few requests a second at most, where a fixed wait
// for our own lock-delay would send one request per round trip (a storm)
// and a fresh one per read would be a whole LockDelay late. The pacing only
// decides when to ask: Consul alone decides when the key may be taken, so
// no step can make an acquire early.
type LockDelayWait struct {
	LockDelay time.Duration
	Clock     Clock

	since time.Time     // the first read of this run that saw the key free
	step  time.Duration // the last wait past our own lock-delay; 0: none yet
}

// Free records a read, made at seen, that found the key free.
func (w *LockDelayWait) Free(seen time.Time) {
	if w.since.IsZero() {
		w.since = seen
	}
}

// Taken records a read that found the key held: a later release starts a
// new run.
func (w *LockDelayWait) Taken() { w.since, w.step = time.Time{}, 0 }

// Next returns how long to wait after an acquire refused for a lock-delay.
func (w *LockDelayWait) Next() time.Duration {
	now := w.Clock.Now()
	if w.since.IsZero() {
		w.since = now // refused with no free read recorded: count from now
	}
	if d := w.since.Add(w.LockDelay + lockDelaySlack).Sub(now); d > 0 {
		return d
	}
	w.step = min(max(2*w.step, minLockDelayStep), max(w.LockDelay/10, minLockDelayStep))
	return w.step
}
