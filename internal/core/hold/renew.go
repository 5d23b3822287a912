package hold

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"
)

// renewal is the renewal schedule of one session.
type renewal struct {
	waiting bool      // holds nothing: renewed every 1.5*SessionTTL
	due     time.Time // when it is renewed next
}

// AddSession makes the heartbeat renew session id (when SessionTTL is
// set) until Consul no longer knows it: every SessionTTL/2, as api.Lock
// does, or every 1.5*SessionTTL while it is waiting (SetWaiting).
func (h *Heartbeat) AddSession(id string) {
	if h.SessionTTL <= 0 {
		return
	}
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	h.sessions[id] = &renewal{due: h.Clock.Now().Add(h.SessionTTL / 2)} // created now: a renewal
}

// SetWaiting says whether session id is waiting to acquire (holding no
// lock). A waiting session is renewed every 1.5*SessionTTL: Consul
// expires a session 2*SessionTTL after its last renewal at the earliest,
// so a renewal may come T/2 late and still find it alive; if one is lost
// all the same (renewals failed for that long), the owner learns it when
// it next acquires, and creates another (a waiting session guards
// nothing). One that stops waiting (its owner acquired) is renewed
// SessionTTL/2 after its last renewal, at once if that is past: it may
// have as little as SessionTTL/2 left then. Unknown sessions are ignored.
func (h *Heartbeat) SetWaiting(id string, waiting bool) {
	h.sessMu.Lock()
	r := h.sessions[id]
	if r == nil || r.waiting == waiting {
		h.sessMu.Unlock()
		return
	}
	r.waiting = waiting
	if waiting {
		r.due = r.due.Add(h.SessionTTL) // from SessionTTL/2 after the last renewal to 1.5*SessionTTL after it
	} else {
		r.due = r.due.Add(-h.SessionTTL) // back to SessionTTL/2 after it, which may be past
	}
	h.sessMu.Unlock()
	if !waiting {
		select {
		case h.renewNow <- struct{}{}:
		default:
		}
	}
}

// renewLoop renews every session added when it is due (see AddSession
// and SetWaiting), renewing early those due within SessionTTL/20 so that
// renewals come in rounds (holding sessions first), and retrying
// SessionTTL/10 after a failed renewal. It runs on its own goroutine: a renewal hung on a server that
// cannot be reached must not hold up the check's passes (and so cost the
// sessions their check). Each renewal is bounded by RequestTimeout and by
// SessionTTL/2. A session Consul does not know any more (invalidated,
// destroyed) is dropped. Consul expires a session 2*SessionTTL after its
// last renewal at the earliest, so a holding session's renewals may fail
// for 1.5*SessionTTL before it is lost; its holder has demoted long
// before (DemoteAfter).
func (h *Heartbeat) renewLoop(ctx context.Context) {
	every, retry, early := h.SessionTTL/2, h.SessionTTL/10, h.SessionTTL/20
	wait := every
	for {
		fired, t := After(h.Clock, wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-fired:
		case <-h.renewNow:
			t.Stop()
		}
		now := h.Clock.Now()
		ids, next := h.dueSessions(now.Add(early))
		wait = min(every, max(next.Sub(now), early))
		for _, id := range ids {
			known, err := h.renew(ctx, id, min(h.Timeout, every))
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				// Consul is not answering: the others would wait for it
				// too (a Group has hundreds). Try again soon; those not
				// renewed are still due.
				wait = retry
				h.Note(fmt.Errorf("renew session: %w", err))
				break
			}
			h.renewed(id, known, h.Clock.Now())
		}
	}
}

// dueSessions returns the sessions due by by, and when the next of the
// others is due (by + SessionTTL/2 if none).
func (h *Heartbeat) dueSessions(by time.Time) (ids []string, next time.Time) {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	next = by.Add(h.SessionTTL / 2)
	for id, r := range h.sessions {
		if !r.due.After(by) {
			ids = append(ids, id)
		} else if r.due.Before(next) {
			next = r.due
		}
	}
	// Holding sessions first, the most overdue first: a failed renewal
	// ends the round, and a waiting session guards nothing.
	slices.SortFunc(ids, func(a, b string) int {
		ra, rb := h.sessions[a], h.sessions[b]
		if ra.waiting != rb.waiting {
			if rb.waiting {
				return -1
			}
			return 1
		}
		return ra.due.Compare(rb.due)
	})
	return ids, next
}

// renewed schedules the next renewal of session id, renewed at now, or
// drops it when Consul did not know it.
func (h *Heartbeat) renewed(id string, known bool, now time.Time) {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	r := h.sessions[id]
	switch {
	case r == nil:
	case !known:
		delete(h.sessions, id)
	case r.waiting:
		r.due = now.Add(3 * h.SessionTTL / 2)
	default:
		r.due = now.Add(h.SessionTTL / 2)
	}
}

// renew renews session id; known is false when Consul does not know it.
func (h *Heartbeat) renew(ctx context.Context, id string, timeout time.Duration) (known bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	entries, _, err := h.Client.Session().Renew(id, (&api.WriteOptions{Datacenter: h.Datacenter}).WithContext(rctx))
	return entries != nil, err
}
