package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// contend is the wait for a slot: read the prefix, take a slot in one
// transaction (contender key and holders) when one is free for us, else
// queue as a contender and wait for a change (or for a gone holder's
// pruning time).
func (sem *Semaphore) contend(ctx context.Context, try bool, leave func()) (_ *Held, err error) {
	w := &semWait{waiting: waiting{s: sem.s, b: sem.s.newBackoff()}, sem: sem}
	defer func() { w.finish(err, leave, sem.dequeue, sem.lockKey, sem.sweepOut) }()
	for {
		sid, err := sem.s.current(ctx)
		if err != nil {
			return nil, err
		}
		if w.queued != sid {
			w.queued = ""
		}
		st, err := w.read(ctx)
		switch {
		case err != nil && isPermanent(err):
			return nil, waitErr("wait", ctx, err)
		case err != nil:
			if err := w.retry(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		if slot, prunable := sem.mayTake(st, sid); slot {
			l, again, err := w.join(ctx, st, sid, prunable, leave)
			if l != nil || err != nil {
				return l, err
			}
			if again {
				continue
			}
		}
		if try {
			return nil, ErrLocked
		}
		if w.queued == "" {
			if err := w.enqueue(ctx, sid); err != nil {
				return nil, err
			}
		}
	}
}

// semWait is one contend's state.
type semWait struct {
	waiting
	sem       *Semaphore
	index     uint64
	wake      time.Time // when a gone holder may be pruned: the wait ends then
	conflicts int       // joins in a row that lost a race
}

// retry backs off after err (waiting.backOff), to read again from a fresh
// index.
func (w *semWait) retry(ctx context.Context, err error) error {
	if err := w.backOff(ctx, err); err != nil {
		return err
	}
	w.index = 0
	return nil
}

// read waits for the prefix to change (WaitTime, or until a gone holder
// may be pruned) and returns what it holds.
func (w *semWait) read(ctx context.Context) (*semState, error) {
	s := w.sem.s
	wait := s.cfg.WaitTime
	if !w.wake.IsZero() {
		wait = min(wait, max(w.wake.Sub(s.clock.Now())+10*time.Millisecond, time.Millisecond))
	}
	st, next, wake, err := w.sem.read(ctx, w.index, wait)
	w.wake = wake
	if err == nil {
		w.index = next
	}
	return st, err
}

// enqueue makes our contender key; it returns the wait's error only when
// the failure ends the wait.
func (w *semWait) enqueue(ctx context.Context, sid string) error {
	if err := w.sem.enqueue(ctx, sid); err != nil {
		if !isPermanent(err) {
			w.late = sid // it may still be applied
		}
		return w.retry(ctx, err)
	}
	w.queued, w.index = sid, 0
	return nil
}

// join takes a slot (prunable: the gone holders it may remove) and acts
// on the answer (hold.Judge); again asks for another round at once;
// neither held nor again: no slot after all, wait for a change.
func (w *semWait) join(ctx context.Context, st *semState, sid string, prunable []string, leave func()) (l *Held, again bool, err error) {
	sem := w.sem
	sent := sem.s.clock.Now()
	token, out, err := sem.join(ctx, st, sid, prunable)
	if errors.Is(err, errConflict) { // another contender changed the lock first
		w.index = 0
		if w.conflicts++; w.conflicts > 3 && !hold.Sleep(ctx, sem.s.clock, w.b.NextBackOff()) {
			return nil, false, waitErr("wait", ctx, err)
		}
		return nil, true, nil
	}
	switch hold.Judge(sem.s.clock, sent, sem.s.cfg.DemoteAfter, out, err) {
	case hold.StepRetry:
		w.queued = sid // it may have been applied: if we give up, dequeue leaves the holders
		if !isPermanent(err) {
			w.late = sid // or be applied later
		}
		return nil, true, w.retry(ctx, err)
	case hold.StepStale:
		// Our session is in the holders, so the next join is a CAS dated
		// afresh.
		w.queued, w.index = sid, 0
		return nil, true, nil
	case hold.StepHold:
		w.b.Reset()
		w.queued = ""
		l, err := sem.held(sid, token, sent, leave)
		return l, false, err
	case hold.StepNewSession:
		sem.s.forget(sid)
		w.index = 0
		return nil, true, nil
	}
	w.conflicts = 0
	return nil, false, nil
}

// newNonce is 16 random hex digits.
func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errConflict: the join's CAS lost a race; read again.
var errConflict = errors.New("semaphore changed meanwhile")

// mayTake reports whether session may take a slot now (a slot is free
// once the prunable holders are removed, and no earlier waiter is owed
// it), with the holders to prune.
func (sem *Semaphore) mayTake(st *semState, session string) (bool, []string) {
	prunable, _ := sem.prune(st)
	if st.holders[session] && st.alive(session) {
		return true, prunable // a join of ours whose answer was lost or late: join again, for a fresh token
	}
	occupied := len(st.holders) - len(prunable)
	rank := len(st.waiting)
	for i, p := range st.waiting {
		if p.Session == session {
			rank = i
		}
	}
	return rank < sem.limit-occupied, prunable
}

// read lists the prefix, blocking up to wait while its index is index
// (0: at once);
// wake is when the next gone holder may be pruned (zero: none).
func (sem *Semaphore) read(ctx context.Context, index uint64, wait time.Duration) (*semState, uint64, time.Time, error) {
	pairs, next, err := sem.list(ctx, index, wait, false)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	st, err := sem.parse(pairs)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	_, wake := sem.prune(st)
	return st, next, wake, nil
}

// list reads the keys under the prefix (see hold.Keeper.Read).
func (sem *Semaphore) list(ctx context.Context, index uint64, wait time.Duration, consistent bool) (api.KVPairs, uint64, error) {
	if index == 0 && !consistent {
		wait = 0
	}
	return hold.List(ctx, sem.s.client, sem.s.cfg.Datacenter, sem.prefix, index, wait, sem.s.cfg.RequestTimeout, consistent)
}

// join takes a slot in one transaction: our contender key (held by
// session) and the lock with us added and prunable removed, by CAS on the
// lock's index. The token is the lock's ModifyIndex after it.
func (sem *Semaphore) join(ctx context.Context, st *semState, session string, prunable []string) (uint64, hold.Outcome, error) {
	holders := map[string]bool{session: true}
	for h := range st.holders {
		holders[h] = true
	}
	for _, h := range prunable {
		delete(holders, h)
		sem.s.log.Info("pruning a semaphore holder gone for LockDelay", "prefix", sem.prefix, "holder", h)
	}
	cas := sem.casOp(st.lock, holders)
	cas.KV.Value, _ = json.Marshal(semaphoreLock{Limit: sem.limit, Holders: holders, Join: newNonce()})
	ops := api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVLock, Key: sem.prefix + "/" + session, Value: sem.value, Flags: api.SemaphoreFlagValue, Session: session}},
		cas,
	}
	rctx, cancel := context.WithTimeout(ctx, sem.s.cfg.RequestTimeout)
	defer cancel()
	res, out, err := hold.Acquire(rctx, sem.s.client, &api.QueryOptions{Datacenter: sem.s.cfg.Datacenter}, ops)
	switch {
	case out == hold.Refused && strings.Contains(err.Error(), "Permission denied"):
		return 0, out, fmt.Errorf("%w: join: %w", consulelect.ErrPermanent, err)
	case out == hold.Refused:
		return 0, out, fmt.Errorf("%w: %w", errConflict, err)
	case err != nil || out != hold.Acquired:
		return 0, out, err
	}
	for _, r := range res {
		if r.KV != nil && r.KV.Key == sem.lockKey {
			return r.KV.ModifyIndex, out, nil
		}
	}
	return 0, 0, fmt.Errorf("join: no result for %q", sem.lockKey)
}

// casOp writes the lock with holders, if it is still at lock's index (or
// still absent).
func (sem *Semaphore) casOp(lock *api.KVPair, holders map[string]bool) *api.TxnOp {
	v, _ := json.Marshal(semaphoreLock{Limit: sem.limit, Holders: holders})
	var index uint64
	if lock != nil {
		index = lock.ModifyIndex
	}
	return &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: sem.lockKey, Value: v, Flags: api.SemaphoreFlagValue, Index: index}}
}

// enqueue makes our contender key, held by session.
func (sem *Semaphore) enqueue(ctx context.Context, session string) error {
	rctx, cancel := context.WithTimeout(ctx, sem.s.cfg.RequestTimeout)
	defer cancel()
	ok, _, err := sem.s.client.KV().Acquire(&api.KVPair{Key: sem.prefix + "/" + session, Session: session,
		Value: sem.value, Flags: api.SemaphoreFlagValue}, sem.s.writeOpts(rctx))
	return sem.s.checkSession(session, ok, err)
}

// dequeue deletes our contender key after a wait that ended without a
// slot, and takes us out of the holders if a join whose answer came too
// late put us there (in the background if it fails: a live contender
// holds its place).
func (sem *Semaphore) dequeue(session string, leave func()) {
	sem.s.persist("leave the semaphore queue of "+sem.prefix, func(ctx context.Context) error {
		return sem.release(ctx, session)
	}, leave)
}
