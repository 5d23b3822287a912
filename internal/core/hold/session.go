package hold

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// SessionSpec is a session to create: linked to the node's serfHealth and
// to a heartbeat's check, released (not deleted) on invalidation.
type SessionSpec struct {
	Name       string
	LockDelay  time.Duration
	SessionTTL time.Duration // 0 or negative: none
	Datacenter string
	Timeout    time.Duration // per request
	// CheckFailed, if set, is told of each failed registration of the
	// heartbeat's check while the session waits for it; returning false
	// gives up (a permanent error, or a caller that wants it reported).
	// Nil waits for the check, however long.
	CheckFailed func(error) bool
}

// CreateSession creates the session once hb's check is healthy, retrying
// until it succeeds or ctx ends: after each error it calls retry, which
// waits and reports false to give up. A "Missing check" or "critical
// state" answer (the check not yet synced to the catalog, or lost by the
// agent) asks hb to verify its check by registering it again.
func CreateSession(ctx context.Context, client *api.Client, hb *Heartbeat, spec SessionSpec, retry func(error) bool) (string, error) {
	se := &api.SessionEntry{
		Name:          spec.Name,
		LockDelay:     spec.LockDelay,
		Behavior:      api.SessionBehaviorRelease,
		NodeChecks:    []string{SerfCheckID},
		ServiceChecks: []api.ServiceCheck{{ID: hb.CheckID()}},
	}
	if spec.SessionTTL > 0 {
		se.TTL = spec.SessionTTL.String()
	}
	for {
		if err := hb.WaitHealthy(ctx, spec.CheckFailed); err != nil {
			return "", err
		}
		rctx, cancel := context.WithTimeout(ctx, spec.Timeout)
		id, _, err := client.Session().Create(se, (&api.WriteOptions{Datacenter: spec.Datacenter}).WithContext(rctx))
		cancel()
		if err == nil {
			hb.AddSession(id)
			return id, nil
		}
		if strings.Contains(err.Error(), "Missing check") || strings.Contains(err.Error(), "critical state") {
			hb.Suspect()
		}
		if !retry(err) {
			return "", ctx.Err()
		}
	}
}

// OtherDatacenter explains Consul's answer to a session created in
// datacenter dc that does not know this agent's node (the session names
// it), or returns nil for any other error: retrying cannot fix it.
func OtherDatacenter(dc string, err error) error {
	if dc == "" || err == nil || !strings.Contains(err.Error(), "Missing node registration") {
		return nil
	}
	return fmt.Errorf("Datacenter %q: a session there must name a node of that datacenter, and this agent's node is not one; run on an agent of %q, or leave Datacenter empty: %w", dc, dc, err)
}
