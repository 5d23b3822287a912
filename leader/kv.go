package leader

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// getKey reads the key, blocking while its index is still index (up to
// wait; 0 returns at once). consistent makes the Consul leader confirm its
// leadership with a quorum before answering, so a deposed Consul leader
// cannot answer from stale state. It returns the index for the next call.
func (e *Elector) getKey(ctx context.Context, index uint64, wait time.Duration, consistent bool) (*api.KVPair, uint64, error) {
	return hold.GetKey(ctx, e.client, e.cfg.Datacenter, e.cfg.Key, index, wait, e.cfg.RequestTimeout, consistent)
}

// acquire tries to lock the key for session in one transaction, whose
// result carries the key's ModifyIndex after the lock: the fencing token.
func (e *Elector) acquire(ctx context.Context, session string, value []byte) (*api.KVPair, hold.Outcome, error) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	ops := api.TxnOps{{KV: &api.KVTxnOp{
		Verb: api.KVLock, Key: e.cfg.Key, Value: value, Flags: api.LockFlagValue, Session: session,
	}}}
	res, out, err := hold.Acquire(rctx, e.client, &api.QueryOptions{Datacenter: e.cfg.Datacenter}, ops)
	switch {
	case out == hold.Refused:
		return nil, 0, fmt.Errorf("%w: acquire %q: %w", consulelect.ErrPermanent, e.cfg.Key, err)
	case err != nil:
		return nil, 0, err
	case out != hold.Acquired:
		return nil, out, nil
	}
	return res[0].KV, hold.Acquired, nil
}
