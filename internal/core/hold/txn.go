package hold

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/consul/api"
)

// Outcome is how an acquiring transaction ended.
type Outcome int

// The outcomes of an acquiring transaction.
const (
	Acquired    Outcome = iota
	HeldByOther         // someone else holds the key
	LockDelayed         // refused: lock-delay after an invalidation is in force
	SessionGone         // our session no longer exists
	Refused             // another check in the transaction failed (see the error)
)

// Acquire runs a transaction that takes a lock (a KVLock op, possibly with
// others, the lock first), within ctx. On success it returns the
// transaction's results, the first being the lock op's: it carries the
// key's ModifyIndex after the lock, the fencing token. A refusal other than the three a lock expects (held,
// lock-delay, session gone) is Refused, with Consul's words as the error.
func Acquire(ctx context.Context, client *api.Client, q *api.QueryOptions, ops api.TxnOps) ([]api.TxnResult, Outcome, error) {
	ok, resp, _, err := client.Txn().Txn(ops, q.WithContext(ctx))
	if err != nil {
		return nil, 0, err
	}
	if ok && len(resp.Results) > 0 { // ops such as a delete give no result
		res := make([]api.TxnResult, len(resp.Results))
		for i, r := range resp.Results {
			res[i] = *r
		}
		return res, Acquired, nil
	}
	for _, te := range resp.Errors {
		switch {
		case strings.Contains(te.What, "lock delay"):
			return nil, LockDelayed, nil
		case strings.Contains(te.What, "already held"):
			return nil, HeldByOther, nil
		case strings.Contains(te.What, "invalid session"):
			return nil, SessionGone, nil
		default:
			return nil, Refused, fmt.Errorf("%s", te.What)
		}
	}
	return nil, 0, fmt.Errorf("transaction failed without errors")
}

// PermanentStatus reports whether err is a Consul answer that retrying
// will not fix: ACL denied, a malformed request. Everything else
// (connection refused, timeouts, 429, 5xx, "No cluster leader") is
// transient.
func PermanentStatus(err error) bool {
	var se api.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
			http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
			return true
		}
	}
	return false
}
