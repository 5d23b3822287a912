package leader

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// foreignFlags reports whether the key is used by another protocol (a
// semaphore, say): flags other than a lock's (api.LockFlagValue, or 0 for a
// plain ?acquire).
func foreignFlags(pair *api.KVPair) bool {
	return pair != nil && pair.Flags != 0 && pair.Flags != api.LockFlagValue
}

// campaign follows the key with blocking queries (no polling) and tries to
// acquire it with session whenever it is free. Once acquired it leads the
// term until the term ends and is cleaned up. It returns when the session
// must be replaced (after a term, or when Consul dropped it) or ctx ended,
// with the pause to take before campaigning again.
func (e *Elector) campaign(ctx context.Context, session string, r *retrier, line *candidates) time.Duration {
	var index uint64
	var lastHolder string // the candidate ID of the last holder seen
	delay := &hold.LockDelayWait{LockDelay: e.cfg.LockDelay, Clock: e.clock}
	for ctx.Err() == nil {
		pair, next, err := e.getKey(ctx, index, e.cfg.FollowerWait, false)
		if err != nil {
			if !r.wait(ctx, "watch key", err) {
				return 0
			}
			continue
		}
		seen := e.clock.Now()
		index = next
		h, held := holderOf(pair)
		if held || foreignFlags(pair) {
			delay.Taken()
		}
		switch {
		case held && pair.Session == session:
			// Our own earlier acquire whose answer was lost. Do not lead
			// from this (non-consistent) read: acquire again, which Consul
			// grants to the holding session, dated by its send time.
		case held && h.ServiceID == e.serviceID:
			// A session of ours that a failed cleanup left holding the key
			// (consul #2371's zombie): destroy it, so the key is freed.
			e.log.Warn("destroying a stale session of ours that holds the key", "session", pair.Session)
			if err := e.destroySession(ctx, pair.Session); err != nil {
				r.wait(ctx, "destroy stale session", err)
			}
			continue
		case held:
			e.state.setHolder(&h)
			lastHolder = h.ServiceID
			if foreignFlags(pair) {
				r.report("watch key", consulelect.ErrForeignKey) // the blocking query paces us
			} else {
				r.ok()
			}
			continue
		case foreignFlags(pair):
			e.state.setHolder(nil)
			r.report("watch key", consulelect.ErrForeignKey) // a semaphore or similar: never clobber it
			continue
		}
		e.state.setHolder(nil)
		delay.Free(seen)
		note := released(pair) // a released key keeps its last holder's value
		if note.ServiceID != "" {
			lastHolder = note.ServiceID
		}
		e.state.setHandTo(note.HandTo)
		if e.cfg.Priority < 0 {
			continue // never leads: follow only
		}
		bal := e.balancer()
		line.awaitFirst(ctx, e.clock, e.cfg.RequestTimeout)
		var d time.Duration
		if bal != nil {
			d = bal.delay(e.cfg.Key, lastHolder, note.HandTo)
		} else {
			d = line.delay(lastHolder, note.HandTo)
		}
		if d > 0 {
			// Not first in line: wait our turn on the key. If the first
			// acquires meanwhile, the query returns and we do not try.
			if p, next, err := e.getKey(ctx, index, d, false); err == nil {
				index = next
				if h, held := holderOf(p); held && p.Session != session {
					delay.Taken() // the next release starts a new wait
					e.state.setHolder(&h)
					lastHolder = h.ServiceID
					continue
				}
			}
		}
		var why string
		switch {
		case note.HandTo == e.serviceID:
			why = fmt.Sprintf("handed over by %s (%s)", note.ID, note.Cause)
		case bal != nil:
			why = bal.why()
		default:
			why = line.why(lastHolder)
		}
		sent := e.clock.Now()
		value := e.valueFor(why, sent)
		lock, res, err := e.acquire(ctx, session, value)
		switch hold.Judge(e.clock, sent, e.cfg.DemoteAfter, res, err) {
		case hold.StepRetry:
			if !r.wait(ctx, "acquire", err) {
				return 0
			}
			// Re-read the key at once: waiting on the old index would wait
			// for a change that may never come (a sole candidate).
			index = 0
		case hold.StepStale:
			// The session may still hold the key; the next acquire (Consul
			// grants the holding session) is dated afresh.
			e.log.Warn("acquire answered past its deadline; acquiring again", "took", e.clock.Now().Sub(sent))
			index = 0
		case hold.StepHold:
			r.ok()
			return e.lead(ctx, session, lock, value, sent, r, e.line())
		case hold.StepNewSession:
			e.log.Info("session lost while following; creating a new one", "session", session)
			r.wait(ctx, "acquire", errSessionGone) // sessions that keep dying are retried with backoff
			return 0
		case hold.StepLockDelay:
			// Every candidate waits for the same lock-delay's end and
			// wakes from a timer at about the same moment: keep our place
			// in line after it by at least preferWait when not first (d,
			// a few rankSteps, is within timer jitter under load).
			wait := delay.Next()
			if d > 0 {
				wait += max(d, preferWait)
			}
			e.log.Debug("lock-delay in force; acquiring again", "retry_in", wait)
			if !sleep(ctx, e.clock, wait) {
				return 0
			}
			index = 0
		}
	}
	return 0
}
