package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// A Held is a lock (or a semaphore slot) this process holds: a read-only
// handle whose Context is cancelled the moment the lock is lost, with the
// reason as the context's cause, and whose Token fences the writes made
// under it. End it with Unlock, always (defer it): a lost lock is cleaned
// up by Unlock too. A Held is safe for use from any goroutine.
type Held struct {
	s       *Session
	key     string
	session string
	token   uint64
	started time.Time
	h       *hold.Hold
	ctx     context.Context // h's context, carrying l (HeldFromContext)
	// release gives the lock back in Consul after a hold that ended for
	// reason (a no-op when the lock is known gone).
	release func(ctx context.Context, reason error) error
	leave   func() // gives up the process's turn on the key
	kept    chan struct{}

	mu       sync.Mutex
	unlocked bool
	cleaning bool
	cleaned  chan struct{}
}

// newHeld starts the hold on a lock acquired by a request sent at sent
// and the keeper that confirms it; if the session closed meanwhile, it
// releases the lock and returns ErrClosed.
func (s *Session) newHeld(key, session string, token uint64, sent time.Time, leave func(),
	release func(context.Context, error) error, keep func(*Held)) (*Held, error) {
	l := &Held{s: s, key: key, session: session, token: token, started: s.clock.Now(),
		h:       hold.New(context.Background(), s.clock, sent, s.cfg.DemoteAfter, consulelect.ErrConsulUnreachable, consulelect.ErrLockLost),
		release: release, leave: leave, kept: make(chan struct{}), cleaned: make(chan struct{})}
	l.ctx = context.WithValue(l.h.Context(), heldKey{}, l)
	started := s.track(l) && s.spawn(func() {
		defer close(l.kept)
		keep(l)
		if l.h.NeedsRefine() {
			if s.sessionExists(context.Background(), session) {
				l.h.Refine(consulelect.ErrKeyReleased)
			} else {
				s.forget(session)
				l.h.Refine(consulelect.ErrSessionInvalidated)
			}
		}
	})
	if !started {
		s.untrack(l)
		close(l.cleaned) // Close may have collected it between track and spawn
		l.h.End(ErrClosed)
		_ = release(context.Background(), ErrClosed)
		return nil, ErrClosed
	}
	s.log.Debug("lock held", "key", key, "session", session, "token", token)
	return l, nil
}

// keep confirms l until its hold ends (see hold.Keeper): read reads the
// lock's keys, judge applies an answer.
func keep[S any](l *Held, token uint64, sent time.Time,
	read func(context.Context, uint64, time.Duration, bool) (S, uint64, error), judge func(S, time.Time, bool)) {
	s := l.s
	k := &hold.Keeper[S]{Interval: s.cfg.ConfirmInterval, DemoteAfter: s.cfg.DemoteAfter,
		Wait: s.cfg.WaitTime, Index: token, Start: sent, Clock: s.clock, NewBackoff: s.newBackoff,
		Read: read, Judge: judge,
		Failed: func(err error, first bool) {
			if first || !errors.Is(err, hold.ErrUnanswered) {
				s.metrics.consulError(err)
			}
			if first {
				s.log.Warn("confirming a held lock", "key", l.key, "error", err, "deadline_in", l.Deadline().Sub(s.clock.Now()))
			}
		}}
	k.Run(l.Context())
}

// Key is the Consul key held (for a semaphore, its prefix).
func (l *Held) Key() string { return l.key }

// Session is the ID of the Consul session that holds the lock.
func (l *Held) Session() string { return l.session }

// Token is the fencing token: for a mutex the key's ModifyIndex right
// after the acquire, for a semaphore the .lock key's ModifyIndex right
// after this holder joined. It strictly increases across successive
// holders of a mutex (even across deletes and plain PUTs of the key), and
// across the slots taken of a semaphore. Pass it to the systems written to
// under the lock, so that they can reject a stale holder.
func (l *Held) Token() uint64 { return l.token }

// Started is when the acquire was confirmed.
func (l *Held) Started() time.Time { return l.started }

// Context is cancelled when the lock is lost or unlocked; context.Cause
// gives the reason as known at that moment: for a loss,
// consulelect.ErrLockLost (or consulelect.ErrConsulUnreachable), since
// the loss is acted on before Consul is asked how it happened. Reason
// gives the refined reason (consulelect.ErrSessionInvalidated, ...) once
// known; both match consulelect.ErrLockLost.
func (l *Held) Context() context.Context { return l.ctx }

type heldKey struct{}

// HeldFromContext returns the held lock whose context ctx is or derives
// from (in Session.Do's function: for its Session, to guard a write with
// a check-session), or nil.
func HeldFromContext(ctx context.Context) *Held {
	l, _ := ctx.Value(heldKey{}).(*Held)
	return l
}

// Done is closed when the lock is lost or unlocked.
func (l *Held) Done() <-chan struct{} { return l.ctx.Done() }

// Deadline is the moment the hold ends unless Consul confirms the lock
// again before it: the send time of the last confirming request plus
// DemoteAfter.
func (l *Held) Deadline() time.Time { return l.h.Deadline() }

// Reason is nil while the lock is held, then why it ended: ErrUnlocked,
// ErrClosed, consulelect.ErrConsulUnreachable, or (for a lost lock, after at most one
// Consul round trip to find out how) consulelect.ErrSessionInvalidated,
// consulelect.ErrKeyReleased, consulelect.ErrKeyDeleted or consulelect.ErrKeyTaken, each matching consulelect.ErrLockLost.
func (l *Held) Reason() error { return l.h.Reason() }

// Unlock ends the hold and releases the lock, so that the next waiter
// acquires it at once (the session lives on for the process's other
// locks). It returns ErrNotHeld if the lock was already unlocked, and an
// error matching both ErrNotHeld and the reason if it was lost before;
// either way the process's part is cleaned up. A release that fails
// within ctx is retried in the background until it succeeds or the
// Session is closed (the key stays unavailable to others meanwhile,
// never handed to two holders), and Unlock reports the error.
func (l *Held) Unlock(ctx context.Context) error {
	l.mu.Lock()
	if l.unlocked {
		l.mu.Unlock()
		return ErrNotHeld
	}
	l.unlocked = true
	l.mu.Unlock()
	wasLost := l.h.Context().Err() != nil
	l.end(ErrUnlocked)
	err := l.cleanup(ctx)
	if wasLost {
		return fmt.Errorf("%w: %w", ErrNotHeld, l.Reason())
	}
	return err
}

func (l *Held) end(reason error) { l.h.End(reason) }

// cleanup (after the hold ended) waits for the keeper, releases the lock
// and gives up the turn; only the first call does it, later ones wait for
// it within ctx.
func (l *Held) cleanup(ctx context.Context) error {
	l.mu.Lock()
	first := !l.cleaning
	l.cleaning = true
	l.mu.Unlock()
	if !first {
		select {
		case <-l.cleaned:
		case <-ctx.Done():
		}
		return nil
	}
	if errors.Is(context.Cause(l.h.Context()), consulelect.ErrLockLost) {
		<-l.kept // the keeper finds out how it was lost
	}
	reason := l.h.Reason()
	err := l.release(ctx, reason) // the hold has ended: the keeper confirms nothing more
	<-l.kept
	if err == nil {
		l.finish()
		return nil
	}
	l.s.log.Warn("releasing a lock; retrying in the background", "key", l.key, "error", err)
	l.s.metrics.consulError(err)
	if !l.s.spawn(func() {
		defer l.finish()
		b := l.s.newBackoff()
		for !l.s.isClosed() {
			if !hold.Sleep(context.Background(), l.s.clock, b.NextBackOff()) || l.release(context.Background(), reason) == nil {
				return
			}
		}
	}) {
		l.finish() // closed: the session's destruction releases it
	}
	return fmt.Errorf("release %q: %w", l.key, err)
}

func (l *Held) finish() {
	l.s.untrack(l)
	l.leave()
	close(l.cleaned)
	l.s.log.Debug("lock released", "key", l.key, "token", l.token, "reason", l.h.Reason())
	l.s.metrics.released(l.key, l.h.Reason(), l.h.Ended().Sub(l.started))
}
