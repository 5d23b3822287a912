package leader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// lead runs one term for session, which holds lock (acquired by a request
// sent at sent). It returns once the term is over: leader work has ended
// and the key is released, or left to Consul when it could not be.
func (e *Elector) lead(ctx context.Context, session string, lock *api.KVPair, sent time.Time, r *retrier) time.Duration {
	t := newTerm(context.WithoutCancel(ctx), e.clock, e.cfg.Key, e.cfg.Identity, session,
		lock.ModifyIndex, lock.LockIndex, sent, e.cfg.DemoteAfter)
	stopOnCancel := context.AfterFunc(ctx, func() { t.end(ErrStopped) })
	defer stopOnCancel()
	defer close(t.released)

	own, _ := holderOf(lock)
	if own.Foreign { // lost-answer path: the key may carry another value
		own = Holder{ID: e.cfg.Identity, Session: session, Token: lock.ModifyIndex}
	}
	e.metrics.TermStarted(e.cfg.Key, t.Token) // before IsLeader says so
	e.state.setHolder(&own)
	e.state.setRole(RoleLeader, t, e.clock.Now())
	e.log.Info("elected", "identity", e.cfg.Identity, "session", session,
		"token", t.Token, "lock_index", t.LockIndex)

	w := e.startWork(t)
	if e.group != nil {
		e.group.watch(e, t, session) // confirmed in batches with the group's other terms
		<-t.Done()
		e.group.unwatch(t)
	} else {
		e.confirmLoop(t, session, lock, r)
	}

	reason := t.Reason()
	e.metrics.TermEnded(e.cfg.Key, reason, t.Ended().Sub(t.Started))
	e.state.setRole(RoleFollower, nil, e.clock.Now())
	e.state.setHolder(nil) // unknown until the key is read again
	e.log.Info("demoted", "identity", e.cfg.Identity, "session", session,
		"token", t.Token, "reason", reason, "held_for", t.Ended().Sub(t.Started))

	if !e.awaitWork(ctx, w) {
		// Leader work outlived the stop context: keep the key (no release),
		// so that no successor can lead while it runs; the session's
		// destruction then imposes lock-delay on top.
		e.setRunErr(ErrLeaderWorkRunning)
		e.log.Error("leader work still running at stop; not releasing the key", "session", session)
		return 0
	}
	var left stragglers
	if errors.As(w.err, &left) {
		e.state.setStragglers(left.Stragglers())
		e.log.Error("leader work left stragglers; not releasing the key", "session", session, "stragglers", left.Stragglers())
		return 0
	}
	if stillHeld(reason) {
		e.releaseWithRetry(ctx, session, r)
	}
	switch {
	case errors.Is(reason, ErrResigned), errors.Is(reason, ErrLeaderWorkFailed):
		return e.cfg.ResignPause
	default:
		return 0
	}
}

// releaseWithRetry releases the key after a term, retrying transient
// errors while the elector runs (a term that ended because Consul was
// unreachable is released as soon as Consul answers again), then within
// the cleanup bound when it stops. Releasing is safe at any time, since
// Consul releases only for the holding session, and it matters: if the
// key were left to the session's destruction, the successor would wait
// out the lock-delay.
func (e *Elector) releaseWithRetry(ctx context.Context, session string, r *retrier) {
	rctx, cancel := ctx, context.CancelFunc(func() {})
	defer func() { cancel() }()
	stopping := false
	for {
		if !stopping && ctx.Err() != nil { // Stop: go on within its bound
			stopping = true
			cancel()
			rctx, cancel = e.cleanupContext(ctx)
		}
		err := e.release(rctx, session)
		if err == nil {
			return
		}
		if IsPermanent(err) || (!r.wait(rctx, "release key", err) && stopping) {
			e.log.Warn("could not release the key; destroying the session instead", "error", err, "session", session)
			return
		}
	}
}

// stillHeld reports whether after a term that ended for reason the
// session may still hold the key, so it must be released.
func stillHeld(reason error) bool {
	return !errors.Is(reason, ErrKeyDeleted) && !errors.Is(reason, ErrKeyTaken) &&
		!errors.Is(reason, ErrSessionInvalidated) && !errors.Is(reason, ErrKeyReleased)
}

// confirmLoop keeps asking the Consul leader (consistent blocking queries
// that return at least every ConfirmInterval) whether session still holds
// the key. Each answer that says yes moves the term's deadline to the
// request's send time plus DemoteAfter; any change of the key is seen
// within one round trip. It returns when the term has ended.
func (e *Elector) confirmLoop(t *Term, session string, lock *api.KVPair, r *retrier) {
	ctx := t.Context()
	index := lock.ModifyIndex
	for ctx.Err() == nil {
		sent := e.clock.Now()
		pair, next, err := e.getKey(ctx, index, e.cfg.ConfirmInterval, true)
		if err != nil {
			if ctx.Err() == nil {
				e.noteError(fmt.Errorf("confirm leadership: %w", err))
				e.log.Warn("confirming leadership", "error", err, "deadline_in", t.Deadline().Sub(e.clock.Now()))
				d := r.b.NextBackOff()
				if d < 0 || d > e.cfg.ConfirmInterval/2 { // backoff.Stop, or too long to keep up
					d = e.cfg.ConfirmInterval / 2
				}
				sleep(ctx, e.clock, d)
			}
			// The next confirmation is a plain consistent read: a blocking
			// one on the same index would answer only ConfirmInterval
			// later, while the deadline runs.
			index = 0
			continue
		}
		index = next
		if e.judge(ctx, t, session, pair, sent) {
			r.b.Reset()
		}
	}
}

// judge applies one consistent read of the key, made by a request sent at
// sent, to term t of session: it ends the term if the lock is lost, else
// moves its deadline. It reports whether the term was confirmed.
func (e *Elector) judge(ctx context.Context, t *Term, session string, pair *api.KVPair, sent time.Time) bool {
	switch {
	case pair == nil || pair.ModifyIndex == 0: // get-or-empty answers a missing key with an empty entry
		t.end(ErrKeyDeleted)
	case pair.Session == "":
		if e.sessionExists(ctx, session) {
			t.end(ErrKeyReleased)
		} else {
			t.end(ErrSessionInvalidated)
		}
	case pair.Session != session:
		t.end(ErrKeyTaken)
	case t.confirm(sent, e.cfg.DemoteAfter):
		e.state.setError(nil, time.Time{})
		e.metrics.Confirmed(e.cfg.Key, e.clock.Now().Sub(sent))
		if pair.Flags != api.LockFlagValue || !bytes.Equal(pair.Value, e.value) {
			e.reassert(ctx, session) // overwritten by a plain PUT: restore our value
		}
		return true
	}
	return false
}

// reassert writes our value back into a key our session still holds.
func (e *Elector) reassert(ctx context.Context, session string) {
	if _, res, err := e.acquire(ctx, session); err != nil || res != acquired {
		e.log.Warn("restoring the key's value", "error", err, "result", res)
		return
	}
	e.log.Info("restored the key's value after an overwrite")
}
