package leader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// lead runs one term for session, which holds lock with value (acquired
// by a request sent at sent). It returns once the term is over: leader work
// has ended and the key is released, or left to Consul when it could not
// be. line is the live candidates (in a Group: its replicas' line, or nil).
func (e *Elector) lead(ctx context.Context, session string, lock *api.KVPair, value []byte, sent time.Time, r *retrier, line *candidates) time.Duration {
	t := newTerm(context.WithoutCancel(ctx), e.clock, e.cfg.Key, session, lock.ModifyIndex, sent, e.cfg.DemoteAfter)
	t.value = value
	stopOnCancel := context.AfterFunc(ctx, func() { e.endGracefully(t, ErrStopped) })
	defer stopOnCancel()
	defer close(t.released)

	e.announce(t, session, lock, value)
	if e.group == nil {
		line.setLeading(true) // it yields by the line: keep it fresh
		defer line.setLeading(false)
	}
	e.adv.set(ctx, true) // advertised by its goroutine, soon
	w := e.startWork(t)
	watch := e.keepTerm(ctx, t, session, lock, sent, line)
	e.adv.set(ctx, false) // at once after a loss (a graceful end did it before)
	watch.wait()
	reason := e.recordEnd(t, session)

	if !e.awaitWork(ctx, t, session, w) {
		// Leader work outlived the stop context: keep the key (no release),
		// so that no successor can lead while it runs; the session's
		// destruction then imposes lock-delay on top.
		e.setRunErr(ErrLeaderWorkRunning)
		e.log.Error("leader work still running at stop; not releasing the key", "session", session)
		return 0
	}
	if stillHeld(reason) {
		var h handOff
		if errors.As(reason, &h) {
			value = releaseValue(value, h.to.ServiceID, h.cause)
			e.metrics.handedOff(e.cfg.Key, name(h.to), h.cause)
		}
		t.freed = e.releaseWithRetry(ctx, session, value, r)
	}
	return e.pauseAfter(reason)
}

// announce makes term t of session (the key's lock, written with value)
// known: metrics, Status, the holder and the log.
func (e *Elector) announce(t *Term, session string, lock *api.KVPair, value []byte) {
	e.hb.SetWaiting(session, false) // renewed at once, and every SessionTTL/2 while it holds the key

	own := ownHolder(value, session, lock.ModifyIndex) // a transaction's result carries no value
	e.metrics.termStarted(e.cfg.Key, t.token)          // before IsLeader says so
	// The term first, then the holder: an observer that sees this elector
	// as the holder (Observe) finds IsLeader true and can Resign.
	e.state.setRole(RoleLeader, t, e.clock.Now())
	e.state.setHolder(&own)
	e.log.Info("elected", "identity", e.cfg.Identity, "session", session,
		"token", t.token, "lock_index", lock.LockIndex)
}

// keepTerm confirms term t until it ends (alone, or in its Group's
// batches), with the watchers that yield it and follow handoff requests
// (not in a Group), and finds out how it was lost. The caller waits for the
// watchers.
func (e *Elector) keepTerm(ctx context.Context, t *Term, session string, lock *api.KVPair, sent time.Time, line *candidates) *watchers {
	watch := &watchers{}
	if e.group != nil {
		e.group.watch(e, t, session) // confirmed in batches with the group's other terms
		<-t.Done()
		e.group.unwatch(t)
	} else {
		// A Group yields by its balancer, and follows no requests (one
		// query per key).
		watch.goRun(func() { e.yieldLoop(t, line) })
		watch.goRun(func() { e.watchRequests(t, line) })
		e.confirmLoop(t, session, lock, sent)
	}
	if t.needsRefine() {
		t.refine(e.lossReason(ctx, session))
	}
	return watch
}

// recordEnd records the end of term t of session (metrics, Status, the
// log) and returns its reason.
func (e *Elector) recordEnd(t *Term, session string) error {
	reason := t.Reason()
	e.metrics.termEnded(e.cfg.Key, reason, t.Ended().Sub(t.started))
	e.state.setRole(RoleFollower, nil, t.Ended())
	e.state.setHolder(nil) // unknown until the key is read again
	e.log.Info("demoted", "identity", e.cfg.Identity, "session", session,
		"token", t.token, "reason", reason, "held_for", t.Ended().Sub(t.started))
	return reason
}

// releaseWithRetry releases the key after a term, retrying transient
// errors while the elector runs (a term that ended because Consul was
// unreachable is released as soon as Consul answers again), then within
// the cleanup bound when it stops. Releasing is safe at any time, since
// Consul releases only for the holding session, and it matters: if the
// key were left to the session's destruction, the successor would wait
// out the lock-delay. It reports whether the key was released.
func (e *Elector) releaseWithRetry(ctx context.Context, session string, value []byte, r *retrier) bool {
	rctx, cancel := ctx, context.CancelFunc(func() {})
	defer func() { cancel() }()
	stopping := false
	for {
		if !stopping && ctx.Err() != nil { // Stop: go on within its bound
			stopping = true
			cancel()
			rctx, cancel = e.cleanupContext(ctx)
		}
		err := e.release(rctx, session, value)
		if err == nil {
			return true
		}
		if IsPermanent(err) || (!r.wait(rctx, "release key", err) && stopping) {
			e.log.Warn("could not release the key; destroying the session instead", "error", err, "session", session)
			return false
		}
	}
}

// stillHeld reports whether after a term that ended for reason the
// session may still hold the key, so it must be released.
func stillHeld(reason error) bool { return !errors.Is(reason, consulelect.ErrLockLost) }

// confirmLoop confirms the term until it ends (see hold.Keeper).
func (e *Elector) confirmLoop(t *Term, session string, lock *api.KVPair, sent time.Time) {
	ctx := t.Context()
	k := &hold.Keeper[*api.KVPair]{Interval: e.cfg.ConfirmInterval, DemoteAfter: e.cfg.DemoteAfter,
		Wait: e.cfg.FollowerWait, Index: lock.ModifyIndex, Start: sent, Clock: e.clock, NewBackoff: e.newBackoff,
		Read: e.getKey,
		Judge: func(pair *api.KVPair, sent time.Time, confirm bool) {
			e.judge(ctx, t, session, pair, sent, confirm) // a consistent read that does not confirm ends the term
		},
		Failed: func(err error, first bool) {
			if first || !errors.Is(err, hold.ErrUnanswered) { // hung reads: once per episode
				e.noteError(fmt.Errorf("confirm leadership: %w", err))
			}
			if first {
				e.log.Warn("confirming leadership", "error", err, "deadline_in", t.Deadline().Sub(e.clock.Now()))
			}
		},
		Recovered: func() {
			e.log.Info("leadership confirmed again", "deadline_in", t.Deadline().Sub(e.clock.Now()))
		}}
	k.Run(ctx)
}

// judge applies one read of the key to term t of session: it ends the
// term if the lock is lost; if confirm (a consistent read sent at sent)
// and the lock is held, it moves the term's deadline. It reports whether
// the term was confirmed.
func (e *Elector) judge(ctx context.Context, t *Term, session string, pair *api.KVPair, sent time.Time, confirm bool) bool {
	if !hold.JudgeKey(t.h, session, t.token, pair, sent, confirm, e.cfg.DemoteAfter, consulelect.ErrKeyDeleted, consulelect.ErrKeyTaken) {
		return false
	}
	e.state.setError(nil, time.Time{})
	e.metrics.confirmed(e.cfg.Key, e.clock.Now().Sub(sent))
	if pair.Flags != api.LockFlagValue || !bytes.Equal(pair.Value, t.value) {
		e.reassert(ctx, session, t.value) // overwritten by a plain PUT: restore our value
	}
	return true
}

// lossReason tells, after the key was seen free, whether our session was
// invalidated or the key released under it (an operator's ?release). An
// unanswered lookup gives the milder reason.
func (e *Elector) lossReason(ctx context.Context, session string) error {
	if e.sessionExists(context.WithoutCancel(ctx), session) {
		return consulelect.ErrKeyReleased
	}
	return consulelect.ErrSessionInvalidated
}

// reassert writes our value back into a key our session still holds:
// a transaction that checks the session and sets the value, so that it can
// never lock a key freed meanwhile (a handoff's release, say), as an
// acquire would.
func (e *Elector) reassert(ctx context.Context, session string, value []byte) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	ops := api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: e.cfg.Key, Session: session}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: e.cfg.Key, Value: value, Flags: api.LockFlagValue}},
	}
	ok, resp, _, err := e.client.Txn().Txn(ops, (&api.QueryOptions{Datacenter: e.cfg.Datacenter}).WithContext(rctx))
	if err != nil || !ok {
		var errs api.TxnErrors
		if resp != nil {
			errs = resp.Errors
		}
		e.log.Warn("restoring the key's value", "error", err, "txn_errors", errs)
		return
	}
	e.log.Info("restored the key's value after an overwrite")
}
