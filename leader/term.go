package leader

import (
	"context"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
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

	h        *hold.Hold      // the hold on the key: context, deadline, reason
	ctx      context.Context // h's context, carrying the term (TermFromContext)
	released chan struct{}   // closed when the term is fully over (work done, key released)
	value    []byte          // the key's value written by the term's acquire
	freed    bool            // the key was released after the term (set before released is closed)
}

func newTerm(parent context.Context, c clock, key, session string, token uint64, sent time.Time, demoteAfter time.Duration) *Term {
	t := &Term{key: key, session: session, token: token, started: c.Now(), released: make(chan struct{}),
		h: hold.New(parent, c, sent, demoteAfter, consulelect.ErrConsulUnreachable, consulelect.ErrLockLost)}
	t.ctx = context.WithValue(t.h.Context(), termKey{}, t)
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

// Context is cancelled when the term ends; context.Cause gives the reason
// as known at that moment: for a loss, consulelect.ErrLockLost (or
// consulelect.ErrConsulUnreachable), since the loss is acted on before
// Consul is asked how it happened. Reason gives the refined reason
// (consulelect.ErrSessionInvalidated, ...) once known; both match
// consulelect.ErrLockLost.
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
// lost ends at once with consulelect.ErrLockLost as its context's cause; Reason then
// waits (at most one Consul round trip, bounded by ConfirmInterval) until
// the elector has found out how it was lost, and returns consulelect.ErrSessionInvalidated,
// consulelect.ErrKeyReleased, consulelect.ErrKeyDeleted or consulelect.ErrKeyTaken, each matching consulelect.ErrLockLost too.
func (t *Term) Reason() error {
	if t.h == nil { // a Term not made by an Elector has no reason
		return nil
	}
	return t.h.Reason()
}

// Deadline is the moment the term ends unless Consul confirms the lock
// again before it: the send time of the last confirming request plus
// DemoteAfter.
func (t *Term) Deadline() time.Time {
	if t.h == nil {
		return time.Time{}
	}
	return t.h.Deadline()
}

// Ended is when the term's context was cancelled (zero while it lasts).
func (t *Term) Ended() time.Time {
	if t.h == nil {
		return time.Time{}
	}
	return t.h.Ended()
}

// confirm records that a request sent at sent saw the lock still held,
// and moves the deadline (see hold.Hold.Confirm).
func (t *Term) confirm(sent time.Time, demoteAfter time.Duration) bool {
	return t.h.Confirm(sent, demoteAfter)
}

// end cancels the term with reason; only the first call has an effect. It
// reports whether this call ended the term.
func (t *Term) end(reason error) bool { return t.h.End(reason) }

// endLost ends the term because its lock was lost, how exactly to be told
// by refine: the term's context is cancelled now (with consulelect.ErrLockLost), and
// Reason waits for refine. It reports whether this call ended the term.
func (t *Term) endLost() bool { return t.h.EndLost() }

// refine sets the reason of a term ended by endLost (no effect otherwise).
func (t *Term) refine(reason error) { t.h.Refine(reason) }

// needsRefine reports whether the term was ended by endLost and not yet refined.
func (t *Term) needsRefine() bool { return t.h.NeedsRefine() }
