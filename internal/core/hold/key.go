package hold

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// ValidateKey applies Consul's rules for KV keys that the API would
// otherwise report only at the first request; maxLen leaves room for keys
// a use adds under it (Consul's limit is 512 bytes).
func ValidateKey(key string, maxLen int) error {
	switch {
	case key == "":
		return fmt.Errorf("must not be empty")
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("must not start with '/'")
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("must not end with '/' (that names a folder)")
	case len(key) > maxLen:
		return fmt.Errorf("must be at most %d bytes", maxLen)
	case strings.ContainsAny(key, "\x00\n\r\t?#%"):
		return fmt.Errorf("must not contain control characters, '?', '#' or '%%'")
	}
	return nil
}

// SessionExists tells whether session id still exists (to tell how a
// lock was lost), within timeout; an error counts as "exists", the milder
// reason.
func SessionExists(ctx context.Context, client *api.Client, dc, id string, timeout time.Duration) bool {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, _, err := client.Session().Info(id, (&api.QueryOptions{Datacenter: dc}).WithContext(rctx))
	return err != nil || s != nil
}

// List reads the keys under prefix, as GetKey reads one key.
func List(ctx context.Context, client *api.Client, dc, prefix string, index uint64, wait, timeout time.Duration, consistent bool) (api.KVPairs, uint64, error) {
	rctx, cancel := context.WithTimeout(ctx, wait+wait/16+timeout)
	defer cancel()
	q := &api.QueryOptions{Datacenter: dc, WaitIndex: index, WaitTime: wait, RequireConsistent: consistent}
	pairs, meta, err := client.KV().List(prefix, q.WithContext(rctx))
	if err != nil {
		return nil, 0, err
	}
	return pairs, NextIndex(meta.LastIndex, index), nil
}
