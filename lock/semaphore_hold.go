package lock

import (
	"context"
	"encoding/json"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/hashicorp/consul/api"
)

// held starts the hold on a slot taken by a request sent at sent.
func (sem *Semaphore) held(session string, token uint64, sent time.Time, leave func()) (*Held, error) {
	release := func(ctx context.Context, _ error) error { return sem.release(ctx, session) }
	return sem.s.newHeld(sem.prefix, session, token, sent, leave, release, func(l *Held) {
		keep(l, token, sent, sem.list, func(pairs api.KVPairs, sent time.Time, confirm bool) {
			sem.judge(l, session, token, pairs, sent, confirm)
		})
	})
}

// judge applies one read of the prefix to slot l of session: the slot is
// held while the lock lists session as a holder and the contender key is
// held by session.
func (sem *Semaphore) judge(l *Held, session string, token uint64, pairs api.KVPairs, sent time.Time, confirm bool) {
	var lockPair, mine *api.KVPair
	for _, p := range pairs {
		switch p.Key {
		case sem.lockKey:
			lockPair = p
		case sem.prefix + "/" + session:
			mine = p
		}
	}
	var v semaphoreLock
	switch {
	case !confirm && lockPair != nil && lockPair.ModifyIndex < token:
		// A stale default-consistency read from before our join.
	case lockPair == nil, mine == nil:
		l.h.End(consulelect.ErrKeyDeleted)
	case json.Unmarshal(lockPair.Value, &v) != nil || !v.Holders[session]:
		l.h.End(consulelect.ErrKeyReleased) // removed from the holders (pruned)
	case mine.Session == "":
		l.h.EndLost()
	case mine.Session != session:
		l.h.End(consulelect.ErrKeyTaken)
	case confirm:
		l.h.Confirm(sent, sem.s.cfg.DemoteAfter)
	}
}

// release gives the slot back: it removes session from the holders (CAS,
// retried on a race) and deletes its contender key, in one transaction.
// It is safe whatever the hold's end: a holder that is gone only frees
// what is its own.
func (sem *Semaphore) release(ctx context.Context, session string) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, sem.s.cfg.RequestTimeout)
		pair, _, err := sem.s.client.KV().Get(sem.lockKey, sem.s.queryOpts(rctx))
		cancel()
		if err != nil {
			return err
		}
		// Every form of the transaction is conditioned on the lock as it
		// was read, so that a late copy of it (its client gave up; a retry
		// has released the slot and this Session holds one again) fails:
		// each join rewrites the lock.
		ops := api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: sem.prefix + "/" + session}}}
		var v semaphoreLock
		switch {
		case pair != nil && json.Unmarshal(pair.Value, &v) == nil && v.Holders[session]:
			delete(v.Holders, session)
			ops = append(api.TxnOps{sem.casOp(pair, v.Holders)}, ops...)
		case pair != nil:
			ops = append(api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: sem.lockKey, Index: pair.ModifyIndex}}}, ops...)
		default:
			ops = append(api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVCheckNotExists, Key: sem.lockKey}}}, ops...)
		}
		rctx, cancel = context.WithTimeout(ctx, sem.s.cfg.RequestTimeout)
		ok, _, _, err := sem.s.client.Txn().Txn(ops, (&api.QueryOptions{Datacenter: sem.s.cfg.Datacenter}).WithContext(rctx))
		cancel()
		if err != nil || ok {
			return err
		}
		// The lock changed meanwhile: read it again.
	}
}

// sweepOut is the sweep's clean-up after a late join or enqueue (the
// caller has the turn): it releases only when a consistent read shows
// session among the holders or owning its contender key, so that a sweep
// with nothing to do writes nothing.
func (sem *Semaphore) sweepOut(ctx context.Context, session string) error {
	pairs, _, err := sem.list(ctx, 0, 0, true)
	if err != nil {
		return err
	}
	st, err := sem.parse(pairs)
	if err != nil {
		return err
	}
	if !st.holders[session] && st.contenders[session] == nil {
		return nil
	}
	return sem.release(ctx, session)
}
