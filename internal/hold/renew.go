package hold

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// AddSession makes the heartbeat renew session id every SessionTTL/2 (when
// SessionTTL is set) until Consul no longer knows it.
func (h *Heartbeat) AddSession(id string) {
	if h.SessionTTL <= 0 {
		return
	}
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	h.sessions[id] = struct{}{}
}

// renewLoop renews every session added, every SessionTTL/2 (as
// api.Lock does), SessionTTL/10 after a failed renewal, on its own
// goroutine: a renewal hung on a server that cannot be reached must not
// hold up the check's passes (and so cost the sessions their check).
// Each renewal is bounded by RequestTimeout and by SessionTTL/2. A
// session Consul does not know any more (invalidated, destroyed) is
// dropped. Consul expires a session 2*SessionTTL after its last renewal
// at the earliest, so renewals may fail for 1.5*SessionTTL before a
// session is lost; the leader has demoted long before (DemoteAfter).
func (h *Heartbeat) renewLoop(ctx context.Context) {
	every, retry := h.SessionTTL/2, h.SessionTTL/10
	wait := every
	for {
		fired, t := After(h.Clock, wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-fired:
		}
		h.sessMu.Lock()
		ids := make([]string, 0, len(h.sessions))
		for id := range h.sessions {
			ids = append(ids, id)
		}
		h.sessMu.Unlock()
		wait = every
		for _, id := range ids {
			known, err := h.renew(ctx, id, min(h.Timeout, every))
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				// Consul is not answering: the others would wait for it
				// too (a Group has hundreds). Try the round again soon.
				wait = retry
				h.Note(fmt.Errorf("renew session: %w", err))
				break
			}
			if !known {
				h.sessMu.Lock()
				delete(h.sessions, id)
				h.sessMu.Unlock()
			}
		}
	}
}

// renew renews session id; known is false when Consul does not know it.
func (h *Heartbeat) renew(ctx context.Context, id string, timeout time.Duration) (known bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	entries, _, err := h.Client.Session().Renew(id, (&api.WriteOptions{Datacenter: h.Datacenter}).WithContext(rctx))
	return entries != nil, err
}
