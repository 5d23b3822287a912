package hold

import (
	"context"
	"time"

	"github.com/hashicorp/consul/api"
)

// GetKey reads key, blocking while its index is still index (up to wait;
// 0 returns at once), within wait plus its jitter plus timeout.
// consistent makes the Consul leader confirm its leadership with a quorum
// before answering, so a deposed Consul leader cannot answer from stale
// state. It returns the index for the next call (never 0; after the index
// went backwards, a snapshot restore, 1 to start over).
func GetKey(ctx context.Context, client *api.Client, dc, key string, index uint64, wait, timeout time.Duration, consistent bool) (*api.KVPair, uint64, error) {
	// Consul adds up to wait/16 of jitter to a blocking wait.
	rctx, cancel := context.WithTimeout(ctx, wait+wait/16+timeout)
	defer cancel()
	q := &api.QueryOptions{Datacenter: dc, WaitIndex: index, WaitTime: wait, RequireConsistent: consistent}
	pair, meta, err := client.KV().Get(key, q.WithContext(rctx))
	if err != nil {
		return nil, 0, err
	}
	return pair, NextIndex(meta.LastIndex, index), nil
}

// NextIndex is the index for the next blocking query after an answer at
// last to a query at index.
func NextIndex(last, index uint64) uint64 {
	if last < index { // the index went backwards (snapshot restore): start over
		last = 0
	}
	return max(last, 1)
}
