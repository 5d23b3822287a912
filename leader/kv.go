package leader

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// getKey reads the key, blocking while its index is still index (up to
// wait; 0 returns at once). consistent makes the Consul leader confirm its
// leadership with a quorum before answering, so a deposed Consul leader
// cannot answer from stale state. It returns the index for the next call.
func (e *Elector) getKey(ctx context.Context, index uint64, wait time.Duration, consistent bool) (*api.KVPair, uint64, error) {
	// Consul adds up to wait/16 of jitter to a blocking wait.
	rctx, cancel := context.WithTimeout(ctx, wait+wait/16+e.cfg.RequestTimeout)
	defer cancel()
	q := &api.QueryOptions{Datacenter: e.cfg.Datacenter, WaitIndex: index, WaitTime: wait, RequireConsistent: consistent}
	pair, meta, err := e.client.KV().Get(e.cfg.Key, q.WithContext(rctx))
	if err != nil {
		return nil, 0, err
	}
	next := meta.LastIndex
	if next < index { // the index went backwards (snapshot restore): start over
		next = 0
	}
	return pair, max(next, 1), nil
}

// acquireResult is the outcome of an acquire attempt.
type acquireResult int

const (
	acquired    acquireResult = iota
	heldByOther               // someone else got there first
	lockDelayed               // refused: lock-delay after an invalidation is in force
	sessionGone               // our session no longer exists
)

// acquire tries to lock the key for session in one transaction, whose
// result carries the key's ModifyIndex after the lock: the fencing token.
func (e *Elector) acquire(ctx context.Context, session string) (*api.KVPair, acquireResult, error) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	ops := api.TxnOps{{KV: &api.KVTxnOp{
		Verb: api.KVLock, Key: e.cfg.Key, Value: e.value, Flags: api.LockFlagValue, Session: session,
	}}}
	ok, resp, _, err := e.client.Txn().Txn(ops, e.queryOpts(rctx))
	if err != nil {
		return nil, 0, err
	}
	if ok && len(resp.Results) == 1 && resp.Results[0].KV != nil {
		return resp.Results[0].KV, acquired, nil
	}
	for _, te := range resp.Errors {
		switch {
		case strings.Contains(te.What, "lock delay"):
			return nil, lockDelayed, nil
		case strings.Contains(te.What, "already held"):
			return nil, heldByOther, nil
		case strings.Contains(te.What, "invalid session"):
			return nil, sessionGone, nil
		default:
			return nil, 0, fmt.Errorf("%w: acquire %q: %s", ErrPermanent, e.cfg.Key, te.What)
		}
	}
	return nil, 0, fmt.Errorf("acquire %q: transaction failed without errors", e.cfg.Key)
}
