package leader

import (
	"context"
	"sync"
	"time"
)

// A Term is one stretch of leadership: a read-only handle whose Context is
// cancelled the moment leadership is lost or given up, with the reason as
// the context's cause. A Term is safe for use from any goroutine. Only an
// Elector makes Terms; a zero Term (for tests of code that receives one)
// has empty values and a nil Context.
type Term struct {
	key     string
	session string
	token   uint64
	started time.Time

	ctx      context.Context
	cancel   context.CancelCauseFunc
	clock    clock
	released chan struct{} // closed when the term is fully over (work done, key released)

	mu        sync.Mutex
	confirmed time.Time // send time of the latest request that confirmed the lock
	deadline  time.Time // confirmed + DemoteAfter
	timer     stopper
	gen       uint64
	ended     time.Time
	reason    error         // the refined reason of a lost lock (see endLost)
	refined   chan struct{} // closed once reason is final; nil unless endLost
}

func newTerm(parent context.Context, c clock, key, session string, token uint64, sent time.Time, demoteAfter time.Duration) *Term {
	ctx, cancel := context.WithCancelCause(parent)
	t := &Term{
		key: key, session: session, token: token,
		started: c.Now(), ctx: ctx, cancel: cancel, clock: c, released: make(chan struct{}),
	}
	t.ctx = context.WithValue(ctx, termKey{}, t)
	t.mu.Lock()
	t.arm(sent, demoteAfter)
	t.mu.Unlock()
	return t
}

type termKey struct{}

// TermFromContext returns the term whose context ctx is or derives from,
// so that leader-only code that receives only a ctx (a worker) can read the
// fencing token and session. It returns nil outside a term.
func TermFromContext(ctx context.Context) *Term {
	t, _ := ctx.Value(termKey{}).(*Term)
	return t
}

// Key is the Consul key held.
func (t *Term) Key() string { return t.key }

// Session is the ID of the Consul session that holds the key.
func (t *Term) Session() string { return t.session }

// Token is the fencing token: the key's ModifyIndex right after the
// acquire. It strictly increases across successive terms on a key, even
// across key deletion (unlike the key's LockIndex). Pass it to the systems
// leader work writes to, so that they can reject a stale leader.
func (t *Term) Token() uint64 { return t.token }

// Started is when the acquire was confirmed.
func (t *Term) Started() time.Time { return t.started }

// Context is cancelled when the term ends; context.Cause gives the reason.
func (t *Term) Context() context.Context {
	if t.ctx == nil { // a zero Term never ends
		return context.Background()
	}
	return t.ctx
}

// Done is closed when the term ends.
func (t *Term) Done() <-chan struct{} {
	if t.ctx == nil {
		return nil
	}
	return t.ctx.Done()
}

// Reason is nil while the term lasts, then why it ended (one of the
// leader package's Err* reasons, possibly wrapped). A term whose lock was
// lost ends at once with ErrLockLost as its context's cause; Reason then
// waits (at most one Consul round trip, bounded by ConfirmInterval) until
// the elector has found out how it was lost, and returns ErrSessionInvalidated,
// ErrKeyReleased, ErrKeyDeleted or ErrKeyTaken, each matching ErrLockLost too.
func (t *Term) Reason() error {
	if t.ctx == nil || t.ctx.Err() == nil { // a Term not made by an Elector has no reason
		return nil
	}
	t.mu.Lock()
	refined := t.refined
	t.mu.Unlock()
	if refined != nil {
		<-refined
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.reason
	}
	return context.Cause(t.ctx)
}

// Deadline is the moment the term ends unless Consul confirms the lock
// again before it: the send time of the last confirming request plus
// DemoteAfter.
func (t *Term) Deadline() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.deadline
}

// Ended is when the term's context was cancelled (zero while it lasts).
func (t *Term) Ended() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ended
}

// confirm records that a request sent at sent saw the lock still held,
// and moves the deadline. It reports false if the term is already over, or
// if its deadline passed before the confirmation arrived (then it ends it).
func (t *Term) confirm(sent time.Time, demoteAfter time.Duration) bool {
	t.mu.Lock()
	if !t.ended.IsZero() {
		t.mu.Unlock()
		return false
	}
	if !t.clock.Now().Before(t.deadline) {
		t.mu.Unlock()
		t.end(ErrConsulUnreachable)
		return false
	}
	if sent.After(t.confirmed) {
		t.arm(sent, demoteAfter)
	}
	t.mu.Unlock()
	return true
}

// arm sets the deadline to sent+demoteAfter; t.mu must be held.
func (t *Term) arm(sent time.Time, demoteAfter time.Duration) {
	if t.timer != nil {
		t.timer.Stop()
	}
	t.gen++
	gen := t.gen
	t.confirmed, t.deadline = sent, sent.Add(demoteAfter)
	t.timer = t.clock.AfterFunc(t.deadline.Sub(t.clock.Now()), func() { t.expire(gen) })
}

func (t *Term) expire(gen uint64) {
	t.mu.Lock()
	stale := gen != t.gen
	t.mu.Unlock()
	if !stale {
		t.end(ErrConsulUnreachable)
	}
}

// end cancels the term with reason; only the first call has an effect. It
// reports whether this call ended the term.
func (t *Term) end(reason error) bool { return t.finish(reason, false) }

// endLost ends the term because its lock was lost, how exactly to be told
// by refine: the term's context is cancelled now (with ErrLockLost), and
// Reason waits for refine. It reports whether this call ended the term.
func (t *Term) endLost() bool { return t.finish(ErrLockLost, true) }

// refine sets the reason of a term ended by endLost (no effect otherwise).
func (t *Term) refine(reason error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refined == nil || t.reason != nil {
		return
	}
	t.reason = reason
	close(t.refined)
}

// needsRefine reports whether the term was ended by endLost and not yet refined.
func (t *Term) needsRefine() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refined != nil && t.reason == nil
}

func (t *Term) finish(reason error, lost bool) bool {
	t.mu.Lock()
	if !t.ended.IsZero() {
		t.mu.Unlock()
		return false
	}
	t.ended = t.clock.Now()
	if t.timer != nil {
		t.timer.Stop()
	}
	if lost {
		t.refined = make(chan struct{})
	}
	t.mu.Unlock()
	t.cancel(reason)
	return true
}
