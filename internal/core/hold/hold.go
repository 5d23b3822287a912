package hold

import (
	"context"
	"sync"
	"time"
)

// A Hold is the life of one hold on a key (a term, a held lock): a context
// cancelled at the first of a loss, the demote deadline, a release or a
// stop, with the reason as its cause. The deadline is the send time of the
// newest confirming read plus DemoteAfter, enforced by a timer that
// nothing else can delay. A Hold is safe for concurrent use.
type Hold struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	clock   Clock
	expired error // the reason when the deadline passes
	lost    error // the context's cause when the lock is lost (EndLost)

	mu        sync.Mutex
	confirmed time.Time // send time of the latest request that confirmed the lock
	deadline  time.Time // confirmed + DemoteAfter
	timer     Stopper
	gen       uint64
	ended     time.Time
	reason    error         // the refined reason of a lost lock (see EndLost)
	refined   chan struct{} // closed once reason is final; nil unless EndLost
}

// New starts a hold confirmed by a request sent at sent: it ends with
// expired as its reason demoteAfter after that unless Confirm moves the
// deadline, and EndLost ends it with lost as its context's cause.
func New(parent context.Context, c Clock, sent time.Time, demoteAfter time.Duration, expired, lost error) *Hold {
	ctx, cancel := context.WithCancelCause(parent)
	h := &Hold{ctx: ctx, cancel: cancel, clock: c, expired: expired, lost: lost}
	h.mu.Lock()
	h.arm(sent, demoteAfter)
	h.mu.Unlock()
	return h
}

// Context is cancelled when the hold ends; context.Cause gives the reason.
func (h *Hold) Context() context.Context { return h.ctx }

// Deadline is the moment the hold ends unless a confirmation comes first.
func (h *Hold) Deadline() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.deadline
}

// Ended is when the hold's context was cancelled (zero while it lasts).
func (h *Hold) Ended() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ended
}

// Reason is nil while the hold lasts, then why it ended. After EndLost it
// waits for Refine (the owner looks up how the lock was lost).
func (h *Hold) Reason() error {
	if h.ctx.Err() == nil {
		return nil
	}
	h.mu.Lock()
	refined := h.refined
	h.mu.Unlock()
	if refined != nil {
		<-refined
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.reason
	}
	return context.Cause(h.ctx)
}

// Confirm records that a request sent at sent saw the lock still held,
// and moves the deadline. It reports false if the hold is already over, or
// if its deadline passed before the confirmation arrived (then it ends it).
func (h *Hold) Confirm(sent time.Time, demoteAfter time.Duration) bool {
	h.mu.Lock()
	if !h.ended.IsZero() {
		h.mu.Unlock()
		return false
	}
	if !h.clock.Now().Before(h.deadline) {
		h.mu.Unlock()
		h.End(h.expired)
		return false
	}
	if sent.After(h.confirmed) {
		h.arm(sent, demoteAfter)
	}
	h.mu.Unlock()
	return true
}

// arm sets the deadline to sent+demoteAfter; h.mu must be held.
func (h *Hold) arm(sent time.Time, demoteAfter time.Duration) {
	if h.timer != nil {
		h.timer.Stop()
	}
	h.gen++
	gen := h.gen
	h.confirmed, h.deadline = sent, sent.Add(demoteAfter)
	h.timer = h.clock.AfterFunc(h.deadline.Sub(h.clock.Now()), func() { h.expire(gen) })
}

func (h *Hold) expire(gen uint64) {
	h.mu.Lock()
	stale := gen != h.gen
	h.mu.Unlock()
	if !stale {
		h.End(h.expired)
	}
}

// End cancels the hold with reason; only the first call has an effect. It
// reports whether this call ended the hold.
func (h *Hold) End(reason error) bool { return h.finish(reason, false) }

// EndLost ends the hold because its lock was lost, how exactly to be told
// by Refine: the context is cancelled now (with the lost error given to
// New), and Reason waits for Refine. It reports whether this call ended
// the hold.
func (h *Hold) EndLost() bool { return h.finish(h.lost, true) }

// Refine sets the reason of a hold ended by EndLost (no effect otherwise).
func (h *Hold) Refine(reason error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refined == nil || h.reason != nil {
		return
	}
	h.reason = reason
	close(h.refined)
}

// NeedsRefine reports whether the hold was ended by EndLost and not yet
// refined.
func (h *Hold) NeedsRefine() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refined != nil && h.reason == nil
}

func (h *Hold) finish(reason error, lost bool) bool {
	h.mu.Lock()
	if !h.ended.IsZero() {
		h.mu.Unlock()
		return false
	}
	h.ended = h.clock.Now()
	if h.timer != nil {
		h.timer.Stop()
	}
	if lost {
		h.refined = make(chan struct{})
	}
	h.mu.Unlock()
	h.cancel(reason)
	return true
}

// Fresh reports whether an answer to a request sent at sent still proves
// anything: its deadline, sent + demoteAfter, has not passed. An acquire
// whose answer comes later (held by a hung connection past an
// invalidation) must not start a hold, not even for a moment: the key may
// have been someone else's since.
func Fresh(c Clock, sent time.Time, demoteAfter time.Duration) bool {
	return c.Now().Before(sent.Add(demoteAfter))
}
